"""Where independent tasks run: ``local`` (in this process, the default), ``processes`` (this machine,
``concurrent.futures`` with spawned workers) or ``ray`` (a Ray cluster at ``address``, or a local Ray).

Work that splits into independent tasks (LiRA shadow models, robustness evaluation shards, fuzzing
campaigns) goes through one contract, so a figure never depends on where it was computed:

* ``executor.map(fn, tasks)`` returns ``[fn(t) for t in tasks]``, in task order;
* a task that raises, or whose worker dies, is retried once; a task that fails twice makes ``map`` raise
  :class:`TaskFailedError` naming every such task and both causes: no partial list is ever returned, so a
  caller cannot merge an incomplete result by accident;
* everything a task needs travels in the task (seeds included), never in worker state: ``fn`` must be a
  module-level function and tasks plain picklable data for ``processes`` and ``ray``.

``processes`` spawns (never forks) its workers: forking a process that has initialised MindSpore's runtime
threads can deadlock. Ray is imported only when chosen (``pip install 'armour-core[ray]'``); a local Ray
started here is reused for the rest of the process and shut down at exit.
"""

from __future__ import annotations

import abc
import argparse
import atexit
import os
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ArmourError, InvalidInputError
from .progress import Progress

EXECUTORS = ("local", "processes", "ray")
#: a failed task is tried this many more times before the whole map fails
RETRIES = 1


class TaskFailedError(ArmourError):
    """Tasks failed on every attempt; ``failures`` maps task index -> the exceptions, one per attempt."""

    def __init__(self, failures: dict[int, list[BaseException]], total: int, executor: str):
        self.failures = failures
        lines = [f"{len(failures)} of {total} tasks failed on the {executor} executor "
                 f"(each tried {RETRIES + 1} times; no partial result was merged):"]
        for i, errs in sorted(failures.items())[:5]:
            causes = "; then ".join(_short(e) for e in errs)
            lines.append(f"  task {i}: {causes}")
        if len(failures) > 5:
            lines.append(f"  ... and {len(failures) - 5} more")
        super().__init__("\n".join(lines))


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return max(os.cpu_count() or 1, 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInputError(f"workers: expected a positive integer, got {workers!r}")
    return workers


class Executor(abc.ABC):
    """Runs ``fn`` over tasks with the retry-once, all-or-nothing contract of this module."""

    name = "?"

    def __init__(self, workers: int | None = None):
        self.workers = _check_workers(workers)

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], *, desc: str = "tasks",
            progress: bool | None = None) -> list[Any]:
        """``[fn(t) for t in tasks]``; ``progress`` as :class:`~armour_core.progress.Progress`'s ``enabled``."""
        if not callable(fn):
            raise InvalidInputError(f"fn: expected a callable, got {type(fn).__name__}")
        tasks = list(tasks)
        results: dict[int, Any] = {}
        errors: dict[int, list[BaseException]] = {}
        pending = list(range(len(tasks)))
        with Progress(len(tasks), desc, unit="task", enabled=progress) as bar:
            for _attempt in range(RETRIES + 1):
                if not pending:
                    break
                failed = []
                for i, ok, value in self._run(fn, tasks, pending):
                    if ok:
                        results[i] = value
                        bar.update(1)
                    else:
                        errors.setdefault(i, []).append(value)
                        failed.append(i)
                pending = sorted(failed)
        if pending:
            raise TaskFailedError({i: errors[i] for i in pending}, len(tasks), self.name)
        return [results[i] for i in range(len(tasks))]

    @abc.abstractmethod
    def _run(self, fn, tasks, indices):
        """Yield ``(index, ok, result_or_exception)`` once for every index, in any order."""

    def close(self) -> None:
        """Release the workers this executor keeps (none for ``local``; a local Ray lives until exit)."""
        return None

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """In this process, one task after the other (``workers`` is ignored): the reference the others equal."""

    name = "local"

    def _run(self, fn, tasks, indices):
        for i in indices:
            try:
                value = fn(tasks[i])
            except Exception as exc:  # noqa: BLE001 - the contract retries any task failure
                yield i, False, exc
            else:
                yield i, True, value


class ProcessExecutor(Executor):
    """Spawned worker processes on this machine, kept for the executor's life (a worker imports MindSpore
    once, not once per ``map``); a pool broken by a dying worker is replaced."""

    name = "processes"

    def __init__(self, workers: int | None = None):
        super().__init__(workers)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _run(self, fn, tasks, indices):
        from concurrent.futures.process import BrokenProcessPool

        if self._pool is None:
            self._pool = _spawn_pool(self.workers)
        unattributed = []
        for i, ok, value in _pool_run(self._pool, fn, tasks, indices):
            if not ok and isinstance(value, BrokenProcessPool):
                unattributed.append(i)  # a worker died: this task, or another one in the same pool
            else:
                yield i, ok, value
        if unattributed:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        # A dead worker fails every task still in its pool; each runs again alone, so only the task that kills
        # its worker is charged an attempt.
        for i in unattributed:
            with _spawn_pool(1) as alone:
                yield from _pool_run(alone, fn, tasks, [i])


def _spawn_pool(workers: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _pool_run(pool, fn, tasks, indices):
    from concurrent.futures import as_completed

    futures = {pool.submit(fn, tasks[i]): i for i in indices}
    for fut in as_completed(futures):
        exc = fut.exception()
        yield (futures[fut], False, exc) if exc is not None else (futures[fut], True, fut.result())


def _ray(address: str | None, workers: int):
    """Ray, connected to ``address`` or to a local instance started once for this process."""
    try:
        import ray
    except ImportError:
        raise ArmourError("the ray executor needs Ray: pip install 'armour-core[ray]'") from None
    if not ray.is_initialized():
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
            atexit.register(ray.shutdown)
        else:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    return ray


class RayExecutor(Executor):
    """One Ray task per armour task (1 CPU each); Ray's own retries are off so the contract is the same."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None):
        super().__init__(workers)
        self.address = address

    def _run(self, fn, tasks, indices):
        ray = _ray(self.address, self.workers)
        remote = ray.remote(num_cpus=1, max_retries=0, retry_exceptions=False)(fn)
        refs = {remote.remote(tasks[i]): i for i in indices}
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
                    yield refs[ref], False, cause
                except ray.exceptions.RayError as exc:  # a worker or node died
                    yield refs[ref], False, exc
                else:
                    yield refs[ref], True, value


def get_executor(name: str = "local", *, workers: int | None = None, address: str | None = None) -> Executor:
    """The executor called ``name`` (one of :data:`EXECUTORS`); ``address`` only for ``ray``."""
    if not isinstance(name, str) or name.lower() not in EXECUTORS:
        raise InvalidInputError(f"executor: expected one of {', '.join(EXECUTORS)}, got {name!r}")
    name = name.lower()
    if address is not None and name != "ray":
        raise InvalidInputError(f"address: only the ray executor takes an address (executor is {name!r})")
    if name == "local":
        return LocalExecutor(workers)
    if name == "processes":
        return ProcessExecutor(workers)
    return RayExecutor(workers, address)


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers`` and ``--ray-address`` for a command whose work splits into tasks."""
    from .cli_args import positive_int

    group = parser.add_argument_group("where independent tasks run")
    group.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local (in process, default), processes (this machine), ray (a Ray cluster)")
    group.add_argument("--workers", type=positive_int, default=None,
                       help="parallel workers for processes/ray (default: CPU count)")
    group.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="Ray cluster address (default: start a local Ray)")


def executor_from_args(args: argparse.Namespace) -> Executor:
    """The executor chosen by :func:`add_executor_arguments`' flags."""
    if args.ray_address is not None and args.executor != "ray":
        raise InvalidInputError("--ray-address needs --executor ray")
    return get_executor(args.executor, workers=args.workers, address=args.ray_address)
