"""The third-party plugin template installs, registers and passes the conformance kit (no MindSpore needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import install_fixture

TEMPLATE = Path(__file__).parents[1] / "templates" / "armour-plugin-template"


def test_template_plugin_passes_its_tests(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(TEMPLATE, src)
    site = tmp_path / "site"
    site.mkdir()
    install_fixture(src, site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "ARMOUR_PLUGINS_STRICT": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(src / "tests")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = subprocess.run([sys.executable, "-m", "armour_core.cli", "plugins", "--kind", "mutator"],
                            capture_output=True, text=True, env=env, check=True).stdout
    assert "acme.invert" in listed and "acme-armour" in listed
