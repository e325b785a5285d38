"""The third-party plugin template installs, registers its mutator and its attack, and passes the conformance
kit, one test per check (no MindSpore needed)."""

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
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(src / "tests")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for test in ("test_mutator[acme.invert-check_keeps_shape_dtype_bounds] PASSED",
                 "test_attack[acme.signed_gradient-check_stays_in_eps_ball] PASSED",
                 "test_attack[acme.signed_gradient-check_succeeds_at_generous_config] PASSED",
                 "test_attack[acme.signed_gradient-check_targeted_hits_target] PASSED",
                 "test_one_full_step_without_random_start_is_fgsm PASSED"):
        assert test in proc.stdout, proc.stdout
    for kind, name in (("mutator", "acme.invert"), ("attack", "acme.signed_gradient")):
        listed = subprocess.run([sys.executable, "-m", "armour_core.cli", "plugins", "--kind", kind],
                                capture_output=True, text=True, env=env, check=True).stdout
        assert name in listed and "acme-armour" in listed, listed
