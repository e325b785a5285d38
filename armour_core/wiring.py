"""Late-bound services the ``api/`` bases use without importing them (dependency inversion).

``api/`` sits below ``ms/`` (``MSModel`` subclasses ``api.model.Classifier``) and below the registry, so it
must import neither (DESIGN.md section 1; ``tests/test_import_graph.py``). Yet ``as_classifier`` wraps a
MindSpore cell in ``MSModel``, and ``Defense.resolve_eval_attack`` looks names up in the default registry
(mutator names are looked up by the fuzz distribution, ``armour_plugins_fuzz.mutators.resolve``). The package
root (``armour_core/__init__.py``, which runs before any submodule) installs both here. This module imports
nothing, so ``import armour_core`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_model_adapters: list[tuple[Callable[[Any], bool], Callable[..., Any]]] = []
_registry: Any = None


def register_model_adapter(accepts: Callable[[Any], bool], wrap: Callable[..., Any]) -> None:
    """Make ``as_classifier(model, **options)`` return ``wrap(model, **options)`` when ``accepts(model)``."""
    _model_adapters.append((accepts, wrap))


def model_adapter(model: Any) -> Callable[..., Any] | None:
    """The wrapper of the first adapter that accepts ``model`` (``None`` if none does)."""
    for accepts, wrap in _model_adapters:
        if accepts(model):
            return wrap
    return None


def set_default_registry(registry: Any) -> None:
    """Install the registry the ``api/`` helpers use when the caller passes none."""
    global _registry
    _registry = registry


def default_registry() -> Any:
    """The registry installed by the package root."""
    return _registry
