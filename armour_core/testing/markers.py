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
