"""The conformance kit itself: every kind has checks, each check is its own pytest test that passes, fails or
skips on its own, a broken plugin fails exactly the checks it breaks, and case lists follow the registry."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from armour_core.specs import KINDS
from armour_core.testing.kit import case, check_params, checks_for, plugin_cases
from armour_core.testing.kit.records import CHECKS as RECORD_CHECKS
from armour_core.testing.markers import requires_mindspore

#: the digits dataset needs scikit-learn, which comes with armour-core[mindspore] (absent in the core session)
needs_digits = requires_mindspore

#: an in-process third-party noise plugin; SCALE != 1 breaks its declared statistics on purpose
PLUGIN = """
    import numpy as np
    from armour_core import registry
    from armour_core.api.noise import NoiseMechanism
    from armour_core.plugins import hookimpl
    from armour_core.specs import NoiseSpec, PluginSpec

    SCALE = {scale}

    class Gauss(NoiseMechanism):
        \"\"\"Gaussian noise from a third-party package.\"\"\"
        def _sample(self, shape, step, std, dtype):
            return (SCALE * self.generator().normal(0.0, std, size=shape)).astype(dtype)

    class Plugin:
        @hookimpl
        def armour_noise_mechanisms():
            yield PluginSpec(name="acme.gauss", kind="noise", target=Gauss, facet=NoiseSpec(),
                             summary="third-party gaussian", config="armour_core.api.noise:NoiseConfig")

    registry.register(Plugin, name="acme", dist="acme-armour")
"""


def _pytest(tmp_path, source: str, *args: str) -> subprocess.CompletedProcess:
    f = tmp_path / "test_sample.py"
    f.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-rs", str(f), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)


def _outcomes(stdout: str) -> dict[str, str]:
    """test id -> PASSED/FAILED/SKIPPED from ``pytest -v`` lines."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and "::" in parts[0] and parts[1] in ("PASSED", "FAILED", "SKIPPED"):
            out[parts[0].split("::", 1)[1]] = parts[1]
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_its_own_checks(kind):
    checks = checks_for(kind)
    own = checks[len(RECORD_CHECKS):]
    assert checks[:len(RECORD_CHECKS)] == RECORD_CHECKS
    assert own, f"no {kind}-specific check"
    names = [c.__name__ for c in checks]
    assert len(set(names)) == len(names) and all(n.startswith("check_") for n in names), names
    assert all(c.__doc__ for c in checks), "every check says what it asserts"


def test_each_check_is_its_own_test(tmp_path):
    proc = _pytest(tmp_path, PLUGIN.format(scale=1.0) + """
    from armour_core.testing import parametrize_with_checks, case

    @parametrize_with_checks("noise", ["acme.gauss", case("noise", "acme.gauss", {"secure": True}, label="secure")])
    def test_kit(plugin, check, request):
        check(plugin, request)
    """)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcomes = _outcomes(proc.stdout)
    for c in checks_for("noise"):
        assert f"test_kit[acme.gauss-{c.__name__}]" in outcomes, (c.__name__, sorted(outcomes))
    # a check that cannot apply is a skip with its reason, not an empty pass
    assert outcomes["test_kit[acme.gauss-secure-check_noise_seed_reproduces]"] == "SKIPPED"
    assert "not reproducible by design" in proc.stdout
    assert outcomes["test_kit[acme.gauss-check_noise_statistics]"] == "PASSED"


def test_a_broken_plugin_fails_the_checks_it_breaks(tmp_path):
    """Noise 1.5x wider than declared fails the statistical checks and nothing else."""
    proc = _pytest(tmp_path, PLUGIN.format(scale=1.5) + """
    from armour_core.testing import NoiseContract

    class TestAcme(NoiseContract):
        name = "acme.gauss"
        config = {"noise_multiplier": 0.5}
    """)
    assert proc.returncode == 1, proc.stdout
    failed = {k for k, v in _outcomes(proc.stdout).items() if v == "FAILED"}
    assert failed == {"TestAcme::test_check[check_noise_statistics]", "TestAcme::test_check[check_noise_scale_family]"}


def test_check_params_ids_and_duplicates():
    ids = [p.id for p in check_params("accountant", ["rdp", case("accountant", "rdp", label="again")])]
    assert "rdp-check_epsilon_monotone_in_steps" in ids and "rdp-again-check_delta_respected" in ids
    with pytest.raises(ValueError, match="twice"):
        check_params("accountant", ["rdp", "rdp"])
    with pytest.raises(ValueError, match="kind"):
        checks_for("not_a_kind")


@needs_digits
def test_plugin_cases_follow_the_registry():
    names = [c.id for c in plugin_cases("dataset", "armour-core", {"digits": [{}, case("dataset", "digits",
                                                                                      label="b")]})]
    assert names[:2] == ["digits", "digits-b"]
    with pytest.raises(ValueError, match="registers no dataset"):
        plugin_cases("dataset", "armour-core", {"not_registered": {}})
    with pytest.raises(ValueError, match="registers no dataset"):
        plugin_cases("dataset", "armour-core", exclude=["not_registered"])


@needs_digits
def test_parametrize_distribution_covers_every_kind_it_registers():
    from armour_core.testing import parametrize_distribution

    mark = parametrize_distribution("armour-core")
    kinds = {p.values[0].kind for p in mark.args[1]}
    assert "dataset" in kinds and kinds <= {"dataset", "model"}
    with pytest.raises(ValueError, match="registers no plugin of kind"):
        parametrize_distribution("armour-core", {"attack": {}})


@pytest.mark.parametrize("dist", ["attacks", "privacy", "fuzz"])
def test_each_distribution_runs_the_kit_on_everything_it_registers(dist):
    """Each first-party test tree calls ``parametrize_distribution`` for its own distribution (read statically,
    so it holds in every session): every plugin it registers goes through its kind's checks there."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / f"armour_plugins_{dist}" / "tests"
    sources = "".join(p.read_text(encoding="utf-8") for p in root.rglob("*.py"))
    assert f'DIST = "armour-plugins-{dist}"' in sources and "@parametrize_distribution(DIST" in sources
