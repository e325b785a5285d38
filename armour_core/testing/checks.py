"""Counted assertions: the pytest plugin fails a run in which contract tests ran but no check executed."""

from __future__ import annotations

_count = 0


def check(condition: object, message: str = "") -> None:
    """``assert condition`` that also counts, so an empty parametrisation cannot pass silently."""
    global _count
    _count += 1
    assert condition, message


def count() -> int:
    return _count
