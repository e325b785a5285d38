"""Process-wide MindSpore settings that change CPU speed by 10-100x (measured on 2-core AVX-512 boxes).

Applied once, when armour first touches MindSpore (``import armour_core.ms``):

* ``ONEDNN_MAX_CPU_ISA=AVX2`` (``setdefault``: a value you set wins). On AVX-512 CPUs oneDNN otherwise
  picks a reference convolution kernel that is 45-120x slower. It must be set before the first convolution.
* ``GLOG_v=3`` (``setdefault``): MindSpore's C++ log shows errors only; effective only when armour
  imports MindSpore first.
* ``mindspore.runtime.launch_blocking()`` when running on CPU: PyNative's asynchronous dispatch costs
  10-20x on small machines and only pays off on accelerators.

Set ``ARMOUR_TUNE_RUNTIME=0`` to leave MindSpore's defaults alone.
"""

from __future__ import annotations

import os
import platform

_done = False


def configure() -> None:
    global _done
    if _done or os.environ.get("ARMOUR_TUNE_RUNTIME", "1") == "0":
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
