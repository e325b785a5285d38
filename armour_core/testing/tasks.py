"""Task functions for testing executors: importable by any worker (a Ray or spawned worker cannot import a
test module), each deterministic and cheap. Markers in ``task["dir"]`` remember a first attempt across
processes."""

from __future__ import annotations

import os
from pathlib import Path


def square(task: int) -> int:
    return task * task


def fails_first_time(task: dict) -> int:
    """Raises on a task's first attempt, then returns ``task["i"]``."""
    marker = Path(task["dir"]) / f"seen-{task['i']}"
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError(f"transient failure of task {task['i']}")
    return task["i"]


def always_fails(task: object) -> None:
    raise ValueError(f"task {task} is broken")


def dies_first_time(task: dict) -> int:
    """Kills its worker process (no exception, no cleanup) on a task's first attempt, then returns 10·i."""
    marker = Path(task["dir"]) / f"died-{task['i']}"
    if not marker.exists():
        marker.write_text("1")
        os._exit(3)
    return task["i"] * 10
