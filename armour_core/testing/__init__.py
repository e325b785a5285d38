"""Conformance kit for plugin authors (extra ``armour-core[testing]``).

Subclass a contract per plugin in your tests; the ``armour`` pytest plugin provides the fixtures and fails a
run in which contracts were collected but no check executed::

    from armour_core.testing import AttackContract

    class TestMyAttack(AttackContract):
        name = "acme.my_attack"
        config = {"eps": 0.1}
        generous = {"eps": 0.3}

Attributes are imported lazily, so loading the pytest plugin never requires hypothesis.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "check": "checks", "network_state": "checks", "check_untouched": "checks",
    "SoftmaxRegression": "models", "listing_imports": "contracts",
    "requires_mindspore": "markers", "has_module": "markers",
    **{name: "contracts" for name in (
        "PluginContract", "AttackContract", "MutatorContract", "CoverageContract", "NoiseContract",
        "DetectorContract", "SuppressorContract", "AccountantContract", "DistributionContract")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
