"""Data-parallel DP-SGD over ``mindspore.communication`` (workers started by ``msrun``).

One global DP-SGD step on N ranks:

1. every rank draws the same global Poisson sample (rate q, the single-process sampler and stream: the
   seed is shared, and with ``seed=None`` rank 0's entropy is broadcast) and takes its contiguous share
   ``np.array_split(batch, N)[rank]``;
2. each rank computes the clipped per-example gradient sum of its share (ghost/vmap clipping as usual);
3. **rank 0 adds the Gaussian noise to its sum**, the other ranks add nothing; one ``AllReduce`` (sum) over
   one flat parameter-sized vector then yields ``Σ clipped + noise`` on every rank — the noise is in it
   exactly once. Rank 0 draws it (rather than every rank drawing the same noise from a shared seed after the
   reduction) because that also holds for ``secure=True`` noise, which has no seed to share, spends no time
   drawing noise on the other ranks, and leaves a single place where noise enters, as in one process;
4. every rank divides by the expected batch size and applies the same optimizer update, so parameters stay
   identical; a digest of the parameters is compared across ranks every ``check_every`` steps (and at the
   end of ``train``) and a divergence raises :class:`DivergenceError` on every rank.

Only rank 0 writes the ledger and checkpoints; the other ranks keep the same records in memory (read from
the same ledger file at start), so ε, budgets and callbacks decide identically on every rank.

A rank that dies makes ``msrun`` stop the job (it kills the remaining workers); a rank that hangs is caught
by a watchdog: a collective that does not finish within ``ARMOUR_DIST_TIMEOUT`` seconds (default 600)
prints one error and ends the process. The ledger is write-ahead, so a failed job has charged every step
that may have run: resume from the last checkpoint with the same ledger.
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any

import numpy as np

from armour_core.errors import ArmourError, ConfigError

from .sampling import default_physical_batch

TIMEOUT_ENV = "ARMOUR_DIST_TIMEOUT"
CHECK_EVERY_ENV = "ARMOUR_DIST_CHECK_EVERY"


class DistributedError(ArmourError):
    """Data-parallel training cannot go on (ranks disagree, or a collective timed out)."""


class DivergenceError(DistributedError):
    """The ranks' parameters differ: data-parallel DP-SGD must keep one model on every rank."""


def _msrun_role() -> str | None:
    """``MS_WORKER``/``MS_SCHED`` when this process was started by ``msrun``, else ``None``."""
    role = os.environ.get("MS_ROLE")
    return role if role in ("MS_WORKER", "MS_SCHED") else None


def initialise() -> None:
    """``mindspore.communication.init()`` unless done already (a no-op outside ``msrun``). In msrun's
    scheduler process ``init()`` runs the scheduler and never returns, as MindSpore intends."""
    from mindspore.communication import init
    from mindspore.communication._comm_helper import GlobalComm

    if not GlobalComm.INITED and _msrun_role() is not None:
        init()


def detect() -> "Cluster | None":
    """The data-parallel context: ``mindspore.communication`` initialised (or started by ``msrun``, then it
    is initialised here) with more than one rank; ``None`` for a single process."""
    if "mindspore.communication" not in sys.modules and _msrun_role() is None:
        return None
    from mindspore.communication import get_group_size, get_rank
    from mindspore.communication._comm_helper import GlobalComm

    initialise()
    if not GlobalComm.INITED or get_group_size() < 2:
        return None
    return Cluster(get_rank(), get_group_size())


class Cluster:
    """This rank's view of the job: partition, collectives with a watchdog, cross-rank checks."""

    def __init__(self, rank: int, size: int):
        from mindspore import ops

        self.rank, self.size = int(rank), int(size)
        self.timeout = float(os.environ.get(TIMEOUT_ENV, "600"))
        self.check_every = int(os.environ.get(CHECK_EVERY_ENV, "50"))
        self._allreduce = ops.AllReduce()  # sum: the only reduction MindSpore's CPU backend offers
        self._allgather = ops.AllGather()
        self._steps = 0
        self.zero_noise = None
        self.timings = {"local": 0.0, "allreduce": 0.0, "apply": 0.0, "steps": 0}

    @property
    def leader(self) -> bool:
        """Rank 0: draws the noise, writes the ledger and checkpoints."""
        return self.rank == 0

    # ------------------------------------------------------------------ collectives
    @contextmanager
    def watch(self, what: str):
        """Run a collective under a watchdog: past the timeout, one error line and the process ends (a
        collective blocked in C++ cannot be interrupted from Python; ``faulthandler`` backs the timer up
        should the blocked call hold the GIL)."""
        message = (f"armour: rank {self.rank}/{self.size}: {what} did not complete within {self.timeout:g} s "
                   f"({TIMEOUT_ENV}): another worker died or hangs. Every step that may have run is charged in "
                   "the ledger (write-ahead); resume from the last checkpoint with the same ledger.\n")

        def expire() -> None:
            sys.stderr.write(message)
            sys.stderr.flush()
            os._exit(70)

        timer = threading.Timer(self.timeout, expire)
        timer.daemon = True
        timer.start()
        faulthandler.dump_traceback_later(self.timeout + 30, exit=True)
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()
            timer.cancel()

    def allreduce(self, tensor: Any, what: str) -> Any:
        with self.watch(what):
            out = self._allreduce(tensor)
            out.asnumpy()  # wait for it here, under the watchdog
        return out

    def gather(self, values: Any, what: str) -> np.ndarray:
        """Every rank's int32 ``values`` as a ``(size, k)`` array."""
        import mindspore as ms

        arr = np.asarray(values, np.int32).reshape(-1)
        with self.watch(what):
            out = self._allgather(ms.Tensor(arr)).asnumpy()
        return out.reshape(self.size, arr.size)

    def same_everywhere(self, values: Any, what: str) -> np.ndarray:
        """Rank 0's ``values`` after checking that every rank holds the same (``what`` names them)."""
        rows = self.gather(values, f"comparing {what} across ranks")
        bad = [r for r in range(self.size) if not np.array_equal(rows[r], rows[0])]
        if bad:
            raise DistributedError(f"{what} differ across ranks: rank 0 has {rows[0].tolist()}, "
                                   + ", ".join(f"rank {r} has {rows[r].tolist()}" for r in bad))
        return rows[0]

    def shared_seed(self) -> int:
        """Rank 0's OS entropy, broadcast: the sampling stream every rank must share when ``seed=None``."""
        mine = np.frombuffer(os.urandom(8), np.int32) if self.leader else np.zeros(2, np.int32)
        words = self.gather(mine, "broadcasting the sampling seed")[0].astype(np.uint32)
        return int(words[0]) << 32 | int(words[1])

    # ------------------------------------------------------------------ partition
    def share(self, idx: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of the global batch ``idx``."""
        return np.array_split(idx, self.size)[self.rank]

    def physical(self, batch: int, n: int) -> int:
        """Static per-rank batch shape: the expected share plus two standard deviations."""
        return default_physical_batch(batch / self.size, max(1, -(-n // self.size)))

    # ------------------------------------------------------------------ consistency
    def check_parameters(self, params: list, what: str) -> None:
        """Compare a SHA-256 digest of every parameter across ranks; a difference raises on every rank."""
        h = hashlib.sha256()
        for p in params:
            h.update(np.ascontiguousarray(p.asnumpy()).tobytes())
        digest = np.frombuffer(h.digest()[:16], np.int32)
        rows = self.gather(digest, f"comparing parameter digests ({what})")
        bad = [r for r in range(self.size) if not np.array_equal(rows[r], rows[0])]
        if bad:
            raise DivergenceError(f"parameters differ across ranks {what}: ranks {bad} disagree with rank 0 "
                                  "(data-parallel DP-SGD must apply one update everywhere; a rank changed its "
                                  "parameters outside DPModel.train or loaded other weights)")


# ---------------------------------------------------------------------- DPModel integration
def attach(model: Any) -> Cluster | None:
    """Set ``model`` up for data-parallel training if a distributed context exists: refuse what cannot be
    split across ranks, make the ledger rank 0's (the others keep its records in memory), check that every
    rank resumes the same ledger, and share the sampling seed."""
    cluster = detect()
    if cluster is None:
        return None
    if model.clip.adaptive:
        raise ConfigError("clip: adaptive clipping is not supported in data-parallel training yet (its noisy "
                          "count would need a second reduction); use clip='fixed'")
    if model.micro_batches:
        raise ConfigError("method='micro_batch': micro-batches are not supported in data-parallel training; "
                          "use per-example clipping (method='auto')")
    ledger = model.ledger
    if not cluster.leader:
        ledger.path = None  # records in memory only; rank 0 writes the file
    cluster.same_everywhere([len(ledger.sessions), len(ledger.steps), len(ledger.voids)],
                            "the ledger's (sessions, steps, voids): every rank must resume the same ledger file "
                            "(put it on storage all hosts read)")
    model._dist_seed = model.seed if model.seed is not None else cluster.shared_seed()
    return cluster


def own_callbacks(cluster: Cluster | None, callbacks: Any) -> Any:
    """The callbacks this rank runs: ``ModelCheckpoint`` only on rank 0 (one writer per file)."""
    if cluster is None or cluster.leader or callbacks is None:
        return callbacks
    from mindspore.train.callback import ModelCheckpoint

    items = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
    return [cb for cb in items if not isinstance(cb, ModelCheckpoint)]


def compile_steps(clip_fn: Any, opt: Any, shapes: tuple, offsets: tuple) -> dict[str, Any]:
    """The two graphs of a data-parallel step around the AllReduce: ``local`` (clipped sum of this rank's
    share, plus ``noise·scale`` — zero scale off rank 0 — flattened into one vector with three statistics:
    loss sum, real examples, clipped examples) and ``apply`` (split, divide, optimizer update)."""
    import mindspore as ms
    from mindspore import ops

    n_params = len(shapes)
    n_flat = offsets[-1]

    def pack(sums, ratio, losses, mask, noise, scale, carry_stats):
        flat = ops.concat([s.reshape(-1) for s in sums]) + noise * scale
        stats = ops.stack([(losses * mask).sum(), mask.sum(), ((ratio > 1.0).astype(ms.float32) * mask).sum()])
        return ops.concat([flat, stats + carry_stats])

    def local(x, y, mask, clip_norm, noise, scale, carry_stats):
        sums, ratio, losses = clip_fn(x, y, mask, clip_norm)
        return pack(sums, ratio, losses, mask, noise, scale, carry_stats)

    def local_carry(x, y, mask, clip_norm, noise, scale, carry_stats, carry):
        sums, ratio, losses = clip_fn(x, y, mask, clip_norm)
        total = ()
        for j in range(n_params):
            total = total + (sums[j] + carry[j],)
        return pack(total, ratio, losses, mask, noise, scale, carry_stats)

    def apply(total, denom):
        grads = ()
        for j in range(n_params):
            grads = grads + (total[offsets[j]:offsets[j + 1]].reshape(shapes[j]) / denom,)
        done = opt(grads)
        lead = grads[0].reshape(-1)[0]  # the last computed gradient: keeps the next launch from starving
        return ops.depend(total[n_flat:] + 0.0 * lead, done)

    return {"dist_local": ms.jit(local), "dist_local_carry": ms.jit(local_carry), "dist_apply": ms.jit(apply)}


def dry_run(model: Any, x: Any, y: Any, mask: Any) -> None:
    """Compile and run both graphs on an all-padding batch with zero noise, no AllReduce (the caller puts
    the parameters back)."""
    import mindspore as ms

    zero = ms.Tensor(np.zeros(model._n_noise, np.float32))
    flat = model._compiled["dist_local"](x, y, mask, ms.Tensor(1.0, ms.float32), zero, ms.Tensor(0.0, ms.float32),
                                         ms.Tensor(np.zeros(3, np.float32)))
    model._compiled["dist_apply"](flat, ms.Tensor(1.0, ms.float32))


def run_step(model: Any, cluster: Cluster, data: Any, idx: np.ndarray, physical: int, clip_norm: float,
             noise: np.ndarray | None, scale: float, denom: float) -> tuple[np.ndarray, np.ndarray]:
    """One global step on this rank (see the module docstring). Returns stand-ins with the *global*
    statistics the training loop reads (loss mean, clipped fraction), identical on every rank, so callbacks
    decide the same everywhere."""
    import mindspore as ms

    from .sampling import pad_chunks

    compiled = model._compiled
    t0 = time.perf_counter()
    if noise is None or not cluster.leader:
        if cluster.zero_noise is None:
            cluster.zero_noise = ms.Tensor(np.zeros(model._n_noise, np.float32))
        z, s = cluster.zero_noise, ms.Tensor(0.0, ms.float32)
    else:
        z, s = ms.Tensor(noise), ms.Tensor(scale, ms.float32)
    c = ms.Tensor(clip_norm, ms.float32)
    chunks = pad_chunks(cluster.share(idx), physical)
    carry, stats = None, np.zeros(3, np.float32)
    for part, mask in chunks[:-1]:
        xb, yb = data.take(part, mask)
        model._launched = True
        sums, ratio, loss = compiled["accumulate"](ms.Tensor(xb), ms.Tensor(yb), ms.Tensor(mask), c)
        carry = sums if carry is None else tuple(a + b for a, b in zip(carry, sums))
        real = mask > 0
        stats += np.array([loss.asnumpy()[real].sum(), real.sum(), (ratio.asnumpy()[real] > 1.0).sum()], np.float32)
    part, mask = chunks[-1]
    xb, yb = data.take(part, mask)
    args = (ms.Tensor(xb), ms.Tensor(yb), ms.Tensor(mask), c, z, s, ms.Tensor(stats))
    model._launched = True
    if carry is None:
        flat = compiled["dist_local"](*args)
    else:
        flat = compiled["dist_local_carry"](*args, ms.mutable(tuple(carry)))
    flat.asnumpy()
    t1 = time.perf_counter()
    total = cluster.allreduce(flat, f"the AllReduce of step {model.ledger.num_steps}")
    t2 = time.perf_counter()
    loss_sum, count, clipped = (float(v) for v in compiled["dist_apply"](total, ms.Tensor(denom, ms.float32))
                                .asnumpy())
    t3 = time.perf_counter()
    timings = cluster.timings
    timings["local"] += t1 - t0
    timings["allreduce"] += t2 - t1
    timings["apply"] += t3 - t2
    timings["steps"] += 1
    cluster._steps += 1
    if cluster.check_every > 0 and cluster._steps % cluster.check_every == 0:
        cluster.check_parameters(list(model._dp_opt.parameters), f"after step {model.ledger.num_steps}")
    n, k = int(round(count)), int(round(clipped))
    losses = np.full(n, loss_sum / n if n else np.nan, np.float32)
    ratios = np.concatenate([np.full(k, 2.0, np.float32), np.zeros(n - k, np.float32)])
    return ratios, losses
