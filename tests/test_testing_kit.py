"""The conformance kit itself: contracts run on a numpy plugin, and the no-check guard fails empty runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _pytest(tmp_path, source: str, *args: str) -> subprocess.CompletedProcess:
    f = tmp_path / "test_sample.py"
    f.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(f), *args],
                          capture_output=True, text=True, cwd=tmp_path)


def test_guard_fails_a_run_where_no_check_ran(tmp_path):
    proc = _pytest(tmp_path, """
        import pytest
        from armour_core.testing import NoiseContract

        class TestNothing(NoiseContract):
            name = "whatever"

            @pytest.fixture(autouse=True)
            def _skip_all(self):
                pytest.skip("nothing runs")
    """)
    assert proc.returncode == 1, proc.stdout
    assert "no contract check ran" in proc.stdout


def test_contracts_pass_for_a_numpy_plugin(tmp_path):
    proc = _pytest(tmp_path, """
        import numpy as np
        from armour_core import registry
        from armour_core.api.noise import NoiseMechanism
        from armour_core.plugins import hookimpl
        from armour_core.specs import NoiseSpec, PluginSpec
        from armour_core.testing import NoiseContract

        class Laplaceish(NoiseMechanism):
            \"\"\"Gaussian noise from a third-party package.\"\"\"
            def _sample(self, shape, step, std, dtype):
                return self.generator().normal(0.0, std, size=shape).astype(dtype)

        class Plugin:
            @hookimpl
            def armour_noise_mechanisms():
                yield PluginSpec(name="acme.gauss", kind="noise", target=Laplaceish, facet=NoiseSpec(),
                                 summary="third-party gaussian", config="armour_core.api.noise:NoiseConfig")

        registry.register(Plugin, name="acme", dist="acme-armour")

        class TestAcme(NoiseContract):
            name = "acme.gauss"
            config = {"noise_multiplier": 0.5}
    """)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passed" in proc.stdout
