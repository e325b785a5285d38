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


def network_dying_first_time(marker: str, model: str = "mlp", input_shape: tuple = (1, 8, 8),
                             num_classes: int = 10):
    """A shadow-network factory whose first call kills its worker process (no exception, no cleanup; the
    ``marker`` file remembers it across processes), then builds the registered ``model``. Use it with
    ``functools.partial(network_dying_first_time, marker)`` on the processes or ray executor only."""
    if not Path(marker).exists():
        Path(marker).write_text("1")
        os._exit(3)
    from armour_core import registry

    return registry.create("model", model, input_shape=tuple(input_shape), num_classes=num_classes)


def network_always_fails() -> None:
    """A shadow-network factory that always raises (a shadow task that fails on every attempt)."""
    raise RuntimeError("this network factory is broken on purpose")


def dying_network():
    """A network factory (``--network armour_core.testing.tasks:dying_network``) with fixed weights for 1×8×8
    inputs and 10 classes. When ``ARMOUR_TEST_DRIVER_PID`` is set, it kills any other process building it: a
    worker loading the model dies. With ``ARMOUR_TEST_DIE_ONCE`` (a directory) only the first worker dies."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn

    once = os.environ.get("ARMOUR_TEST_DIE_ONCE")
    driver = os.environ.get("ARMOUR_TEST_DRIVER_PID")
    if driver is not None and driver != str(os.getpid()):
        marker = Path(once) / "died" if once else None
        if marker is None or not marker.exists():
            if marker is not None:
                marker.write_text("1")
            os._exit(3)
    rng = np.random.default_rng(0)
    net = nn.SequentialCell([nn.Flatten(), nn.Dense(64, 32), nn.ReLU(), nn.Dense(32, 10)])
    for p in net.get_parameters():
        p.set_data(ms.Tensor(rng.normal(0.0, 0.3, p.shape).astype(np.float32)))
    return net


def worker_pid(task: object) -> int:
    """The id of the process that ran the task (to see which worker ran it)."""
    return os.getpid()
