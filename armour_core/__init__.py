"""armour: security and privacy toolkit for MindSpore models, built as a plugin registry.

Importing this package loads no plugin and never imports MindSpore; the registry is built on first use
and the wrappers (``DPModel``, ``SuppressModel``, ``Fuzzer``) are imported on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from . import registry  # noqa: E402  (light: pluggy + attrs)
from .errors import (ArmourError, CapabilityError, ConfigError, InvalidInputError,  # noqa: E402
                     PluginConflictError, PluginLoadError, PluginUnavailableError, UnknownPluginError)
from .plugins import hookimpl  # noqa: E402
from .specs import PluginSpec  # noqa: E402

_LAZY = {
    "DPModel": "armour_core.wrappers.dp_model:DPModel",
    "SuppressModel": "armour_core.wrappers.suppress_model:SuppressModel",
    "Fuzzer": "armour_core.wrappers.fuzzer:Fuzzer",
    "MSModel": "armour_core.ms.model:MSModel",
    "calibrate_noise": "armour_core.wrappers.calibration:calibrate_noise",
}

__all__ = ["registry", "hookimpl", "PluginSpec", "ArmourError", "CapabilityError", "ConfigError",
           "InvalidInputError", "PluginConflictError", "PluginLoadError", "PluginUnavailableError",
           "UnknownPluginError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'armour_core' has no attribute {name!r}")
