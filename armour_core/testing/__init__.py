"""Conformance kit for plugin authors (extra ``armour-core[testing]``).

Every check of a kind runs as its own pytest test, failing or skipping (with a reason) on its own::

    from armour_core.testing import parametrize_with_checks

    @parametrize_with_checks("attack", ["acme.my_attack"], generous={"eps": 0.3})
    def test_kit(plugin, check, request):
        check(plugin, request)

or, one class per plugin::

    from armour_core.testing import AttackContract

    class TestMyAttack(AttackContract):
        name = "acme.my_attack"
        config = {"eps": 0.1}
        generous = {"eps": 0.3}

The ``armour`` pytest plugin provides the fixtures. Attributes are imported lazily, so loading the pytest
plugin never requires hypothesis.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "check": "checks", "network_state": "checks", "check_untouched": "checks",
    "SoftmaxRegression": "models", "listing_imports": "contracts",
    "requires_mindspore": "markers", "has_module": "markers",
    **{name: "kit" for name in ("parametrize_with_checks", "parametrize_distribution", "check_params",
                                "checks_for", "plugin_cases", "case", "Case")},
    **{name: "contracts" for name in (
        "PluginContract", "AttackContract", "DefenseContract", "DetectorContract", "MutatorContract",
        "CoverageContract", "SchedulerContract", "NoiseContract", "ClipContract", "AccountantContract",
        "SuppressorContract", "InferenceContract", "DatasetContract", "ModelContract", "DistributionContract")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
