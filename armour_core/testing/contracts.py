"""Contract test classes: subclass one per plugin, set ``name`` and ``config``, and pytest runs every check of
the plugin's kind as its own test (``TestPGD::test_check[check_stays_in_eps_ball]``).

Example (in a plugin's tests)::

    from armour_core.testing import AttackContract

    class TestFGSM(AttackContract):
        name = "fgsm"
        config = {"eps": 0.1}
        generous = {"eps": 0.3}     # success on the undefended default model expected at this config

A class is the same as one case of :func:`armour_core.testing.parametrize_with_checks`: its attributes besides
``name`` and ``config`` are the case's options (``model_fixture`` is the ``model`` option). Fixtures come from
the ``armour`` pytest plugin (``armour_digits``, ``armour_mlp``, ``armour_lenet``, ``armour_softmax``).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, ClassVar

import attrs
import pytest

from .. import registry
from ..specs import PluginSpec
from .kit import Case, case, checks_for
from .kit.records import create

#: class attributes read as case options (``model_fixture`` is the option ``model``)
_OPTIONS = {"model_fixture": "model", "generous": "generous", "min_success": "min_success",
            "min_targeted_success": "min_targeted_success", "vary_eps": "vary_eps", "n_samples": "n_samples",
            "n_fit": "n_fit", "n": "n"}


class PluginContract:
    """Every check of ``kind`` on the plugin ``name`` with ``config``, each its own test."""

    kind: ClassVar[str]
    name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}

    def case(self) -> Case:
        options = {opt: getattr(self, attr) for attr, opt in _OPTIONS.items() if hasattr(self, attr)}
        return case(self.kind, self.name, self.config, **options)

    def spec(self) -> PluginSpec:
        return registry.spec(self.kind, self.name)

    def make(self, request, **overrides: Any) -> Any:
        """The plugin built as the checks build it (for a subclass's own tests)."""
        return create(self.case(), request, **overrides)

    def pytest_generate_tests(self, metafunc) -> None:
        if metafunc.definition.originalname == "test_check":
            checks = checks_for(self.kind)
            metafunc.parametrize("check", checks, ids=[c.__name__ for c in checks])

    def test_check(self, check, request):
        check(self.case(), request)


class AttackContract(PluginContract):
    kind = "attack"


class DefenseContract(PluginContract):
    kind = "defense"


class DetectorContract(PluginContract):
    kind = "detector"


class MutatorContract(PluginContract):
    kind = "mutator"


class CoverageContract(PluginContract):
    kind = "coverage"


class SchedulerContract(PluginContract):
    kind = "scheduler"


class NoiseContract(PluginContract):
    kind = "noise"


class ClipContract(PluginContract):
    kind = "clip"


class AccountantContract(PluginContract):
    kind = "accountant"


class SuppressorContract(PluginContract):
    kind = "suppressor"


class InferenceContract(PluginContract):
    kind = "inference"


class DatasetContract(PluginContract):
    kind = "dataset"


class ModelContract(PluginContract):
    kind = "model"


# ------------------------------------------------------------------------------------------ distributions
class DistributionContract:
    """A plugin distribution: records valid and unique, listing stays import-light."""

    dist: ClassVar[str]

    def records(self) -> list[PluginSpec]:
        return [s for s in registry.specs() if s.dist == self.dist]

    def test_has_records(self):
        assert self.records(), f"{self.dist} registered no records"

    def test_names_unique_and_configs_default(self):
        seen = set()
        for spec in self.records():
            for n in spec.names:
                assert (spec.kind, n) not in seen, f"duplicate {spec.kind} {n}"
                seen.add((spec.kind, n))
            if isinstance(spec.config, str):
                cfg = registry.import_target(spec.config)
                assert attrs.has(cfg), f"{spec.name}: config is not an attrs class"
                cfg()

    def test_listing_is_import_light(self):
        heavy = listing_imports()
        assert heavy == [], f"listing plugins imported {heavy}"

    def test_first_party_kinds_and_sibling_hints(self, monkeypatch):
        """A first-party distribution registers only its own kinds, and asking for a sibling distribution's
        kind names the ``pip install`` that adds it (installed or not: the check simulates its absence)."""
        from ..registry import FIRST_PARTY

        if self.dist not in FIRST_PARTY:
            pytest.skip("not a first-party distribution")
        kinds = {s.kind for s in self.records()}
        assert kinds and kinds <= set(FIRST_PARTY[self.dist]), f"{self.dist} registers kinds {sorted(kinds)}"
        from ..errors import UnknownPluginError

        for other, other_kinds in FIRST_PARTY.items():
            if other == self.dist:
                continue
            monkeypatch.setattr("armour_core.registry._dist_installed", lambda name, o=other: name != o)
            with pytest.raises(UnknownPluginError) as exc:
                registry.get(other_kinds[0], "armour_surely_not_a_plugin")
            assert f"pip install {other}" in str(exc.value), str(exc.value)

    def test_configs_take_numpy_numbers_and_refuse_strings(self):
        """Every config of the distribution: numpy scalars accepted, string numbers refused naming the field,
        eps finite wherever defined, an unknown norm answered with the valid ones, one-line errors."""
        from .config_checks import check_config_types, registered_configs

        for _, name, cls in registered_configs(self.dist):
            check_config_types(cls, name)


HEAVY = ("mindspore", "mindarmour", "torch", "tensorflow", "sklearn", "scipy", "matplotlib", "dp_accounting")


def listing_imports(heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Heavy modules imported by listing every plugin (run in a fresh interpreter)."""
    code = ("import sys\nfrom armour_core import registry\n"
            "[registry.names(k) for k in registry.kinds()]\n[s.summary for s in registry.specs()]\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]
