"""Skip markers for optional parts of the stack (the ``core`` session runs without MindSpore)."""

from __future__ import annotations

import importlib.util

import pytest


def has_module(name: str) -> bool:
    """Importable as a real module (a same-named folder in the working directory, which Python would import
    as an empty namespace package, does not count)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "namespace")


requires_mindspore = pytest.mark.skipif(not has_module("mindspore"),
                                        reason="MindSpore is not installed (e.g. the core-only session)")


def requires_dists(*dists: str) -> pytest.MarkDecorator:
    """Skip unless the first-party plugin distributions ``dists`` (``"attacks"``, ``"privacy"``, ``"fuzz"``) are
    installed. Such a test runs in the ``tests`` session (everything installed), never in ``core``/``core-ms``;
    a plugin distribution brings MindSpore, so the mark implies :data:`requires_mindspore`."""
    missing = _missing(dists)
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (the 'tests' session)")


def skip_module_unless_dists(*dists: str) -> None:
    """:func:`requires_dists` for a whole module, called at its top before it imports a distribution: the module
    is one skip (not one per test), and contract classes in it are never collected (the kit's no-check guard
    would count them)."""
    missing = _missing(dists)
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (the 'tests' session)", allow_module_level=True)


def _missing(dists: tuple[str, ...]) -> list[str]:
    unknown = sorted(set(dists) - {"attacks", "privacy", "fuzz"})
    if not dists or unknown:
        raise ValueError(f"dists: expected some of 'attacks', 'privacy', 'fuzz', got {dists!r}")
    return [f"armour-plugins-{d}" for d in dists if not has_module(f"armour_plugins_{d}")]
