"""Process-wide MindSpore settings that change CPU speed by 10-100x (measured on 2-core AVX-512 boxes).

Applied once, when armour first touches MindSpore (``import armour_core.ms``):

* ``ONEDNN_MAX_CPU_ISA=AVX2`` (``setdefault``: a value you set wins). On AVX-512 CPUs oneDNN otherwise
  picks a reference convolution kernel that is 45-120x slower. It must be set before the first convolution.
* ``GLOG_v=3`` (``setdefault``): MindSpore's C++ log shows errors only; effective only when armour
  imports MindSpore first.
* ``mindspore.runtime.launch_blocking()`` when running on CPU: PyNative's asynchronous dispatch costs
  10-20x on small machines and only pays off on accelerators.

Set ``ARMOUR_TUNE_RUNTIME=0`` to leave MindSpore's defaults alone.

One correctness fix is always applied: MindSpore keys each ``jit``-compiled function by its source location
plus ``int(time.time() * 1e9)`` taken when it is wrapped. Two closures from the same ``def`` wrapped within
one clock tick (common: consecutive ``time.time()`` readings are equal about a third of the time here) share a
key, so the second can silently run the first's graph with the first's captured values. armour gives that
module a clock whose readings strictly increase.
"""

from __future__ import annotations

import os
import platform
import threading
import time

_done = False


class _StrictlyIncreasingClock:
    """Stands in for the ``time`` module inside ``mindspore.graph.api``: ``time()`` never repeats a value."""

    def __init__(self, real):
        self._real = real
        self._last = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            t = self._real.time()
            if t <= self._last:
                t = self._last + 1e-6  # > float resolution at today's epoch (about 2.4e-7 s)
            self._last = t
            return t

    def __getattr__(self, name: str):
        return getattr(self._real, name)


def _unique_jit_stamps() -> None:
    try:
        import mindspore.graph.api as api
    except ImportError:  # another MindSpore layout: nothing to patch
        return
    if getattr(api, "time", None) is time:
        api.time = _StrictlyIncreasingClock(time)


def configure() -> None:
    global _done
    if _done:
        return
    _unique_jit_stamps()
    if os.environ.get("ARMOUR_TUNE_RUNTIME", "1") == "0":
        _done = True
        return
    os.environ.setdefault("GLOG_v", "3")  # MindSpore's C++ log: errors only (no recompilation chatter)
    if platform.machine().lower() in ("x86_64", "amd64"):
        os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
    import mindspore as ms

    try:
        target = ms.get_context("device_target")
    except Exception:  # noqa: BLE001
        target = "CPU"
    if target == "CPU":
        ms.runtime.launch_blocking()
    _done = True
