"""The fuzz distribution owns its engine (issue 10): where the Fuzzer lives and how core still reaches it,
the families' folders, the plugins the Fuzzer's defaults name, and the capabilities it asks a model for."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest

import armour_plugins_fuzz
from armour_core import registry
from armour_core.api.model import Classifier
from armour_core.errors import CapabilityError, ConfigError
from armour_core.testing.models import SoftmaxRegression
from armour_plugins_fuzz.fuzzer import Fuzzer, oracles
from armour_plugins_fuzz.mutators import resolve

DIST = "armour-plugins-fuzz"
#: the folder of each kind this distribution provides
FAMILY = {"mutator": "mutators", "coverage": "coverage", "scheduler": "schedulers"}


def _no_activations() -> SoftmaxRegression:
    return SoftmaxRegression(np.zeros((4, 3)), np.zeros(3), input_shape=(4,))


class _Hidden(Classifier):
    """A numpy classifier exposing one layer of activations and no MindSpore graphs."""

    capabilities = frozenset({"forward", "activations"})

    def __init__(self):
        super().__init__()
        self.input_shape, self.bounds, self.num_classes = (4,), (0.0, 1.0), 3

    def _logits(self, x):
        return x[:, :3].astype(np.float32)

    def layer_names(self):
        return ["hidden"]

    def activations(self, x, layers=None):
        return {"hidden": np.asarray(x, np.float32)}


def test_core_lazy_name_returns_the_engine_of_this_distribution():
    import armour_core

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the lazy name may announce its move
        from armour_core import Fuzzer as via_core

        assert armour_core.Fuzzer is via_core
    assert via_core is Fuzzer
    assert Fuzzer.__module__ == "armour_plugins_fuzz.fuzzer.fuzzer"
    assert importlib.import_module("armour_plugins_fuzz.fuzzer.fuzzer").Fuzzer is Fuzzer


def test_no_flat_modules_and_each_family_holds_its_records_targets_and_configs():
    top = {m.name for m in pkgutil.iter_modules(armour_plugins_fuzz.__path__)}
    assert top == {"hooks", "records", "fuzzer", "mutators", "coverage", "schedulers"}
    seen = set()
    for kind, family in FAMILY.items():
        for spec in registry.specs(kind):
            if spec.dist != DIST:
                continue
            seen.add(kind)
            package = f"armour_plugins_fuzz.{family}."
            assert spec.target.startswith(package) and spec.config.startswith(package + "configs:"), spec
            cls = registry.get(kind, spec.name)
            assert cls.Config.__name__ == spec.config.rpartition(":")[2]
            if kind == "mutator":  # the category is the module the mutator lives in, on record and class alike
                module = spec.target.split(":")[0].rpartition(".")[2]
                assert spec.facet.category == module == cls.category, spec.name
            if kind == "coverage":  # the record's profile flag is the criterion's
                assert spec.facet.needs_profile == cls.needs_profile, spec.name
    assert seen == set(FAMILY)


def test_fuzzer_defaults_name_plugins_this_distribution_registers():
    params = inspect.signature(Fuzzer).parameters
    for kind, arg in (("coverage", "coverage"), ("scheduler", "scheduler")):
        assert registry.spec(kind, params[arg].default).dist == DIST
    assert set(params["oracles"].default) <= set(oracles.ORACLES)


def test_adversarial_mutator_default_attack_absent_is_a_clear_error(monkeypatch):
    """The adapter's default attack (fgsm) comes from armour-plugins-attacks: without it, the error names the
    attack and the distribution to install (or the setting that blocked it)."""
    monkeypatch.setenv("ARMOUR_PLUGINS_ONLY", "fuzz")
    registry.reset()
    try:
        with pytest.raises(ConfigError, match="attack='fgsm'") as info:
            registry.create("mutator", "adversarial", model=_Hidden())
        assert "armour-plugins-attacks" in str(info.value)
        assert resolve.mutator_names("adversarial") == []  # no fuzzing attack to adapt
    finally:
        monkeypatch.delenv("ARMOUR_PLUGINS_ONLY")
        registry.reset()


def test_fuzzer_and_coverage_need_the_activations_capability():
    with pytest.raises(CapabilityError, match="'activations'"):
        Fuzzer(_no_activations(), ["gaussian_noise"])
    with pytest.raises(CapabilityError, match="'activations'"):
        registry.create("coverage", "neuron", model=_no_activations())


def test_differential_oracle_needs_the_graphs_capability():
    with pytest.raises(CapabilityError, match="'graphs'"):
        oracles.Differential(_Hidden(), "graph")
    with pytest.raises(CapabilityError, match="'graphs'"):
        Fuzzer(_Hidden(), ["gaussian_noise"], differential="float16")


def test_mutator_lookups_moved_out_of_core_keep_their_old_names_for_one_release():
    import armour_core.api.mutator as base

    for name in base._MOVED:
        with pytest.warns(DeprecationWarning, match="armour_plugins_fuzz.mutators.resolve"):
            assert getattr(base, name) is getattr(resolve, name)
    with pytest.raises(AttributeError):
        base.no_such_helper  # noqa: B018
