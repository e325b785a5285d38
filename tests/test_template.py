"""The third-party plugin template installs, registers its mutator and its attack, and passes the conformance
kit, one test per check (no MindSpore needed; the attack's checks need scikit-learn for the digits model)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from armour_core.testing.markers import has_module
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
    attack_checks = ("test_attack[acme.signed_gradient-check_stays_in_eps_ball]",
                     "test_attack[acme.signed_gradient-check_succeeds_at_generous_config]",
                     "test_attack[acme.signed_gradient-check_targeted_hits_target]",
                     "test_one_full_step_without_random_start_is_fgsm")
    # the attack's checks run on the kit's digits softmax model: scikit-learn comes with armour-core[mindspore],
    # so in the core session (neither installed) they must skip, and everywhere else pass
    outcome = "PASSED" if has_module("sklearn") else "SKIPPED"
    for test in ("test_mutator[acme.invert-check_keeps_shape_dtype_bounds] PASSED",
                 *(f"{t} {outcome}" for t in attack_checks)):
        assert test in proc.stdout, proc.stdout
    for kind, name in (("mutator", "acme.invert"), ("attack", "acme.signed_gradient")):
        listed = subprocess.run([sys.executable, "-m", "armour_core.cli", "plugins", "--kind", kind],
                                capture_output=True, text=True, env=env, check=True).stdout
        assert name in listed and "acme-armour" in listed, listed
