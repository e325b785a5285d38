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
from .wiring import register_model_adapter, set_default_registry  # noqa: E402


def _is_mindspore_cell(model: Any) -> bool:
    return type(model).__module__.startswith("mindspore") or any(
        c.__name__ == "Cell" and c.__module__.startswith("mindspore") for c in type(model).__mro__)


def _wrap_cell(model: Any, **options: Any) -> Any:
    """``MSModel(model)``; imported on use because it imports MindSpore (``import armour_core`` never does)."""
    from .ms.model import MSModel

    return MSModel(model, **{k: v for k, v in options.items() if v is not None})


# The composition root: api/ bases reach the MindSpore runtime and the registry only through these.
register_model_adapter(_is_mindspore_cell, _wrap_cell)
set_default_registry(registry)

_LAZY = {
    "DPModel": "armour_core.wrappers.dp_model:DPModel",
    "SuppressModel": "armour_core.wrappers.suppress_model:SuppressModel",
    "Fuzzer": "armour_plugins_fuzz.fuzzer.fuzzer:Fuzzer",
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
