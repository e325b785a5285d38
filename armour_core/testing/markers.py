"""Skip markers for optional parts of the stack (the ``core`` session runs without MindSpore)."""

from __future__ import annotations

import importlib.util

import pytest


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


requires_mindspore = pytest.mark.skipif(not has_module("mindspore"),
                                        reason="MindSpore is not installed (e.g. the core-only session)")
