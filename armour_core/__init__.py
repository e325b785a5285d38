"""armour: security and privacy toolkit for MindSpore models, built as a plugin registry.

Importing this package loads no plugin and never imports MindSpore; the registry is built on first use.
The engines live in their distributions (``DPModel`` in armour-plugins-privacy, ...); their old names here
resolve lazily, for one release, with a DeprecationWarning naming the new import.
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

#: Core names imported on first access (they import MindSpore).
_LAZY = {
    "MSModel": "armour_core.ms.model:MSModel",
}

#: Names that moved to a plugin distribution: name -> ("module:attr", the pip distribution providing it).
#: Kept for one release: resolved on first access with a DeprecationWarning naming the new import path.
MOVED: dict[str, tuple[str, str]] = {
    "DPModel": ("armour_plugins_privacy.dp.model:DPModel", "armour-plugins-privacy"),
    "SuppressModel": ("armour_plugins_privacy.suppress.model:SuppressModel", "armour-plugins-privacy"),
    "calibrate_noise": ("armour_plugins_privacy.dp.calibration:calibrate_noise", "armour-plugins-privacy"),
    "Fuzzer": ("armour_plugins_fuzz.fuzzer.fuzzer:Fuzzer", "armour-plugins-fuzz"),
}

__all__ = ["registry", "hookimpl", "PluginSpec", "ArmourError", "CapabilityError", "ConfigError",
           "InvalidInputError", "PluginConflictError", "PluginLoadError", "PluginUnavailableError",
           "UnknownPluginError", "__version__", *_LAZY]


def _moved(name: str) -> Any:
    """Resolve a name that moved out of core; a missing distribution is an ImportError saying what to install."""
    import warnings

    target, dist = MOVED[name]
    module, _, attr = target.partition(":")
    try:
        value = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name and not (module == exc.name or module.startswith(exc.name + ".")):
            raise  # the distribution is there but one of its own dependencies is missing: say that instead
        raise ImportError(f"armour_core.{name} moved to the {dist} distribution, which is not installed: "
                          f"pip install {dist} (then: from {module} import {attr})", name=module) from None
    warnings.warn(f"armour_core.{name} is deprecated and will be removed in the next release; use "
                  f"'from {module} import {attr}' ({dist})", DeprecationWarning, stacklevel=3)
    return value


def __getattr__(name: str) -> Any:
    if name in MOVED:
        return _moved(name)
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'armour_core' has no attribute {name!r}")
