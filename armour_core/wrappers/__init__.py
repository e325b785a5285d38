"""Training wrappers built from registry plugins: ``DPModel``, ``SuppressModel`` (the Fuzzer lives in
armour-plugins-fuzz: ``armour_plugins_fuzz.fuzzer``).

Import-light: nothing here imports MindSpore until an attribute is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DPModel": "armour_core.wrappers.dp_model:DPModel",
    "DPOptimizerClassFactory": "armour_core.wrappers.dp_model:DPOptimizerClassFactory",
    "PrivacyLedger": "armour_core.wrappers.ledger:PrivacyLedger",
    "LedgerError": "armour_core.wrappers.ledger:LedgerError",
    "verify_ledger": "armour_core.wrappers.ledger:verify_ledger",
    "calibrate_noise": "armour_core.wrappers.calibration:calibrate_noise",
    "PrivacyMonitor": "armour_core.wrappers.dp_callbacks:PrivacyMonitor",
    "SuppressModel": "armour_core.wrappers.suppress_model:SuppressModel",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'armour_core.wrappers' has no attribute {name!r}")
