"""The Fuzzer, until it moves to armour-plugins-fuzz (issue 10); the DP and suppress engines already live in
armour-plugins-privacy. Import-light: nothing here imports MindSpore until an attribute is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Fuzzer": "armour_core.wrappers.fuzzer:Fuzzer",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'armour_core.wrappers' has no attribute {name!r}")
