"""Process-wide MindSpore settings that change CPU speed by 10-100x (measured on 2-core AVX-512 boxes).

Applied once, when armour first touches MindSpore (``import armour_core.ms``):

* ``ONEDNN_MAX_CPU_ISA=AVX2`` (``setdefault``: a value you set wins). On AVX-512 CPUs oneDNN otherwise
  picks a reference convolution kernel that is 45-120x slower. It must be set before the first convolution.
* ``mindspore.runtime.launch_blocking()`` when running on CPU: PyNative's asynchronous dispatch costs
  10-20x on small machines and only pays off on accelerators.

* ``ARMOUR_CPU_THREADS=n`` (only when set): MindSpore's CPU kernel threads, for machines shared with other
  busy processes (see ``docs/performance.md``).

Set ``ARMOUR_TUNE_RUNTIME=0`` to leave MindSpore's defaults alone. MindSpore's log level is not set here:
a library must not change how its host logs. The ``armour`` command sets ``GLOG_v=3`` (unless you set it)
before MindSpore is imported, so a normal run prints only armour's lines (see ``armour_core.cli``).

One correctness fix is always applied: MindSpore keys each ``jit``-compiled function by its source location
plus ``int(time.time() * 1e9)`` taken when it is wrapped. Two closures from the same ``def`` wrapped within
one clock tick (common: consecutive ``time.time()`` readings are equal about a third of the time here) share a
key, so the second can silently run the first's graph with the first's captured values. armour gives that
module a clock whose readings strictly increase. And MindSpore's compile-failure reports
(``rank_0/om/analyze_fail.ir``) go under ``MS_OM_PATH``, which armour points at ``<cache dir>/mindspore``
when unset, instead of the current working directory. MindSpore's compile cache is switched off (with a
warning when it was asked for): in 2.10 it returns wrong results for ``mindspore.jit`` functions in PyNative
(:data:`COMPILE_CACHE_REASON`); ``ARMOUR_MS_COMPILE_CACHE=1`` keeps it.

The second half of this module is the model runtime every algorithm goes through: :class:`CompiledCache`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

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


#: why MindSpore's compile cache stays off (see ``docs/performance.md``, "Compile cache")
COMPILE_CACHE_REASON = (
    "MindSpore 2.10's compile cache (MS_COMPILER_CACHE_ENABLE / enable_compile_cache) gives wrong results for "
    "armour's graphs: a cached mindspore.jit function that reads a network's Parameters returns NaN (the "
    "weights are not bound to the loaded graph), and cached graphs are found by their compile order in the "
    "process, so a process that compiles its functions in another order runs another function's graph")


def _compile_cache_off() -> None:
    """Switch MindSpore's compile cache off for this process unless ``ARMOUR_MS_COMPILE_CACHE=1`` (measured
    wrong results, :data:`COMPILE_CACHE_REASON`). Asked for through the environment or ``set_context``:
    warned about once. Setting the variable works until the first graph compiles (read at each compile)."""
    if os.environ.get("ARMOUR_MS_COMPILE_CACHE") == "1":
        return
    asked = os.environ.get("MS_COMPILER_CACHE_ENABLE") == "1"
    ms = sys.modules.get("mindspore")
    if ms is not None:
        try:
            if ms.get_context("enable_compile_cache"):
                asked = True
                ms.set_context(enable_compile_cache=False)
        except Exception:  # noqa: BLE001 - another MindSpore layout: the variable below still applies
            pass
    os.environ["MS_COMPILER_CACHE_ENABLE"] = "0"
    if asked:
        import warnings

        warnings.warn(f"armour switched MindSpore's compile cache off: {COMPILE_CACHE_REASON} (set "
                      "ARMOUR_MS_COMPILE_CACHE=1 to keep it at your own risk)", RuntimeWarning, stacklevel=3)


def configure() -> None:
    global _done
    if _done:
        return
    _unique_jit_stamps()
    _compile_cache_off()
    om_path()
    if os.environ.get("ARMOUR_TUNE_RUNTIME", "1") == "0":
        _done = True
        return
    if platform.machine().lower() in ("x86_64", "amd64"):
        os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
    import mindspore as ms

    try:
        target = ms.get_context("device_target")
    except Exception:  # noqa: BLE001
        target = "CPU"
    if target == "CPU":
        ms.runtime.launch_blocking()
        _cpu_threads(ms)
    _done = True


def _cpu_threads(ms) -> None:
    """``ARMOUR_CPU_THREADS=n``: MindSpore's CPU kernel threads (``op_tuning.threads_num``). Unset: MindSpore's
    default (one per core). On a machine shared with other busy processes, fewer threads than cores avoids
    the kernels' barrier waits on descheduled threads (measured in ``docs/performance.md``)."""
    value = os.environ.get("ARMOUR_CPU_THREADS", "").strip()
    if not value:
        return
    try:
        threads = int(value)
        if threads < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"ARMOUR_CPU_THREADS: expected an integer >= 1, got {value!r}") from None
    try:
        ms.device_context.cpu.op_tuning.threads_num(threads)
    except RuntimeError:  # already set by the caller ("can not be set repeatedly"): their value wins
        log.debug("ARMOUR_CPU_THREADS ignored: MindSpore's CPU threads were already set")


# ============================================================================ the compiled-function runtime
# Every compiled (or PyNative) function that runs a user's network goes through one CompiledCache per wrapped
# model. What it guarantees, in one place:
#   * one build per (kind, options) and per weights: ``load_param_into_net`` moves parameters to new storage
#     that graphs compiled before keep reading (MindSpore 2.10), so a change of storage drops every entry;
#   * inference mode: the network runs (and is compiled) with every cell in eval mode, and the caller's
#     training flags come back exactly as they were: a graph compiled in training mode keeps using batch
#     statistics and overwriting BatchNorm's moving mean/variance, and toggling set_train never recompiles;
#   * quiet compiles: MindSpore's stderr output while a graph compiles (recompile warnings, the ~40-line
#     failure dump) goes to ``logging`` at debug level; failures become armour errors (see ``on_failure``);
#   * counting: ``compiles`` counts first calls per input signature (one compile per function and shape).

log = logging.getLogger("armour.ms")


def om_path() -> str:
    """Where MindSpore writes ``rank_0/om/analyze_fail.ir`` (``MS_OM_PATH``): never the user's directory."""
    path = os.environ.get("MS_OM_PATH")
    if not path:
        from ..cache import cache_dir

        path = os.environ["MS_OM_PATH"] = str(cache_dir() / "mindspore")
    return path


class _ToDebug(logging.Filter):
    """Re-logs MindSpore's Python log records at debug level on ``armour.ms`` instead of printing them."""

    def filter(self, record: logging.LogRecord) -> bool:
        log.debug("MindSpore: %s", record.getMessage())
        return False


@contextlib.contextmanager
def quiet_stderr(what: str = "MindSpore"):
    """Send everything MindSpore logs meanwhile (its Python logger, and whatever reaches file descriptor 2:
    the C++ log) to the ``armour.ms`` logger at debug level. Process-wide: keep it around compiles only."""
    try:
        from mindspore.log import _get_logger

        ms_logger = _get_logger()
    except Exception:  # noqa: BLE001 - another MindSpore layout: only the file descriptor is redirected
        ms_logger = None
    diverted = _ToDebug()
    if ms_logger is not None:
        ms_logger.addFilter(diverted)
    try:
        with _quiet_fd2(what):
            yield
    finally:
        if ms_logger is not None:
            ms_logger.removeFilter(diverted)


@contextlib.contextmanager
def _quiet_fd2(what: str):
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded interpreters): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace").strip()
            if text:
                log.debug("%s output:\n%s", what, text)


def _cells(network) -> list:
    return [cell for _, cell in network.cells_and_names()]


@contextlib.contextmanager
def inference_mode(network, cells: list | None = None):
    """Run ``network`` in eval mode and give every cell back its own training flag afterwards (also when the
    caller trained only some sub-cells). Costs a scan of the flags when nothing is training."""
    cells = _cells(network) if cells is None else cells
    flags = [(c, c.training, getattr(c, "_phase", None)) for c in cells]
    training = any(f[1] for f in flags)
    if training:
        network.set_train(False)
    try:
        yield
    finally:
        if training:
            for cell, flag, phase in flags:
                if cell.training != flag:
                    cell.add_flags(training=flag)
                if phase is not None:
                    cell._phase = phase


def _signature(args: tuple) -> tuple:
    """What a compiled graph is specialised on: shapes and dtypes of tensors, values of constants."""
    out = []
    for a in args:
        shape = getattr(a, "shape", None)
        if shape is not None and hasattr(a, "dtype"):
            out.append((tuple(shape), str(a.dtype)))
        elif isinstance(a, (tuple, list)):
            out.append(_signature(tuple(a)))
        else:
            out.append((type(a).__name__, a if isinstance(a, (int, float, bool, str, type(None))) else id(a)))
    return tuple(out)


class Compiled:
    """A cached function of one model: runs in inference mode, compiles quietly, translates failures.
    Without a cache (:func:`quiet_jit`): only quiet compiles, the network's mode left to the caller.

    Attribute access falls through to the wrapped object (e.g. an activation capture's ``mode``).
    """

    def __init__(self, fn: Callable, cache: CompiledCache | None, kind: str):
        self.fn, self._cache, self.kind = fn, cache, kind
        self._seen: set = set()

    def _mode(self):
        cache = self._cache
        return contextlib.nullcontext() if cache is None else inference_mode(cache.network, cache.cells)

    def __call__(self, *args):
        cache = self._cache
        sig = _signature(args)
        with self._mode():
            if sig in self._seen:
                return self.fn(*args)
            try:
                with quiet_stderr(f"compiling {self.kind}"):
                    out = self.fn(*args)
            except Exception as exc:  # noqa: BLE001 - translated (or re-raised) below
                translated = cache.on_failure(exc, args) if cache is not None and cache.on_failure else None
                if translated is None:
                    raise
                raise translated from None
        self._seen.add(sig)
        if cache is not None:
            cache.compiles += 1
        return out

    def __getattr__(self, name: str):
        if name == "fn":
            raise AttributeError(name)
        return getattr(self.fn, name)


class CompiledCache:
    """The one cache of compiled functions of a wrapped network, keyed by ``(kind, options)`` and by where the
    network's parameters live (a replaced parameter drops every entry, so the next call recompiles).

    ``on_failure(exc, args)`` turns an exception raised while a function first runs on new input shapes into
    an armour error (or returns None to re-raise it).
    """

    def __init__(self, network, on_failure: Callable | None = None):
        self.network = network
        self.on_failure = on_failure
        self.compiles = 0  #: first calls per (function, input signature): MindSpore compiles there
        self.builds = 0  #: functions built
        self._entries: dict = {}
        self._storage: tuple | None = None
        self.cells: list = _cells(network)

    def storage(self) -> tuple:
        """Where the parameters live: ``Parameter.set_data`` (``load_param_into_net``) moves them."""
        return tuple(p.data_ptr() for p in self.network.get_parameters())

    def check(self) -> bool:
        """Drop every entry if the parameters were replaced; True when that happened."""
        storage = self.storage()
        if storage == self._storage:
            return False
        stale = self._storage is not None
        self._storage = storage
        self._entries.clear()
        self.cells = _cells(self.network)
        return stale

    def get(self, kind: str, options: Any, build: Callable[[], Callable]) -> Compiled:
        """The function for ``(kind, options)``, built by ``build()`` on first use for the current weights.

        ``options`` must hold everything the built function depends on besides the model (hashable).
        """
        self.check()
        key = (kind, options)
        entry = self._entries.get(key)
        if entry is None:
            with quiet_stderr(f"building {kind}"):
                fn = build()
            entry = self._entries[key] = Compiled(fn, self, kind)
            self.builds += 1
        return entry

    def __len__(self) -> int:
        return len(self._entries)


def quiet_jit(fn: Callable) -> Compiled:
    """``mindspore.jit(fn)`` whose compiles are quiet (see :func:`quiet_stderr`); for graphs that are not a
    model's inference functions (training steps), which must keep the caller's training mode."""
    import mindspore as ms

    return Compiled(ms.jit(fn), None, getattr(fn, "__name__", "function"))


def first_layer_expectation(network, actual: tuple[int, ...]) -> str | None:
    """What the first layer with weights expects, when ``actual`` (a per-sample shape) visibly does not fit:
    a convolution's ``in_channels`` (channels first) or a dense layer's ``in_channels`` features (the
    flattened sample). None when that layer is of another kind or the shape fits."""
    for name, cell in network.cells_and_names():
        kind = type(cell).__name__
        channels = getattr(cell, "in_channels", None)
        if channels is None or not isinstance(channels, int):
            if any(True for _ in cell.get_parameters(expand=False)):
                return None  # the first layer with weights is of a kind we do not read
            continue
        if kind.startswith("Conv") and "Transpose" not in kind:
            dims = {"Conv1d": 1, "Conv2d": 2, "Conv3d": 3}.get(kind, 2)
            if len(actual) == dims + 1 and actual[0] == channels:
                return None
            spatial = ", ".join("H W D".split()[:dims])
            return f"samples of shape ({channels}, {spatial}) (first layer {name or kind}: {kind} with " \
                   f"in_channels={channels})"
        if kind == "Dense":
            if int(np.prod(actual)) == channels:
                return None
            return f"samples with {channels} features (first layer {name or kind}: Dense with " \
                   f"in_channels={channels})"
        return None
    return None
