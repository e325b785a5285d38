"""``DPModel``: differentially private training (DP-SGD) as a ``mindspore.train.Model``.

``model.train(epochs, dataset, callbacks=[...])`` runs DP-SGD: Poisson-sampled batches (rate = batch size /
dataset size), true per-example clipping (ghost clipping where the network allows it, ``vmap`` otherwise;
MindArmour's micro-batches only on request), Gaussian noise from a ``noise`` plugin scaled to the current
clip norm from a ``clip`` plugin, and the optimizer update — per-example gradients, clipping, noise and
update in one compiled graph. Every step is written ahead to a :class:`~armour_plugins_privacy.dp.ledger.PrivacyLedger`
and ``model.epsilon()`` recomputes ε from it with the ``accountant`` plugin.

Runs on CPU as well as accelerators, in one process or data-parallel under ``msrun`` (see
:mod:`~armour_plugins_privacy.dp.distributed`: one global Poisson sample split across ranks, one AllReduce, the
noise added once, the ledger written by rank 0).
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn, ops
from mindspore.train import Model

from armour_core import ms as _runtime  # noqa: F401  (CPU runtime settings)
from armour_core import registry
from armour_core.api.accountant import Accountant, check_delta
from armour_core.api.arrays import check_inputs, check_labels
from armour_core.api.clip import ClipMechanism
from armour_core.api.noise import NoiseMechanism
from armour_core.api.validators import check_positive
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.ms.runtime import first_layer_expectation, inference_mode
from armour_core.progress import Progress

from . import distributed, validator
from .calibration import resolve_accountant
from .data import as_source, take
from .ledger import PrivacyLedger
from .per_example import make_clipper
from .sampling import PoissonSampler, ShuffleSampler, default_physical_batch, pad_chunks


class ShuffledSamplingWarning(UserWarning):
    """Fixed-size shuffled batches get no privacy amplification; Poisson sampling is the sound default."""


def _resolve(kind: str, value: Any, base: type, defaults: dict[str, Any]):
    """A plugin instance from an instance, a registry name or ``(name, config)``; ``defaults`` fill the
    config of plugins created here."""
    if isinstance(value, base):
        return value
    if isinstance(value, str):
        name, extra = value, {}
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        name, extra = value[0], dict(value[1])
    else:
        raise InvalidInputError(f"{kind}: expected a registry name, (name, config) or a {base.__name__}, got {value!r}")
    cls = registry.get(kind, name)
    import attrs

    fields = {f.name for f in attrs.fields(cls.Config)}
    config = {k: v for k, v in defaults.items() if k in fields and v is not None}
    config.update(extra)
    return registry.create(kind, name, **config)


def _materialise(dataset: Any) -> tuple[np.ndarray, np.ndarray, int | None]:
    """``(x, y, batch_size)`` (float32 inputs, labels as given) from ``(x, y)`` arrays or a
    ``mindspore.dataset`` (read once into memory: Poisson sampling needs random access)."""
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2:
        x, y = (np.asarray(a) for a in dataset)
        batch = None
    elif hasattr(dataset, "create_tuple_iterator"):
        xs, ys = [], []
        for item in dataset.create_tuple_iterator(output_numpy=True, num_epochs=1):
            if len(item) < 2:
                raise InvalidInputError("dataset: expected (data, label) columns")
            xs.append(np.asarray(item[0]))
            ys.append(np.asarray(item[1]))
        batch = int(dataset.get_batch_size()) if hasattr(dataset, "get_batch_size") else 1
        if not xs:
            raise InvalidInputError("dataset: is empty")
        if batch > 1:  # batched pipeline: rows are batches (the last one may be short)
            x, y = np.concatenate(xs), np.concatenate(ys)
        else:
            x, y = np.stack(xs), np.stack(ys)
        batch = batch if batch > 1 else None
    else:
        raise InvalidInputError(f"dataset: expected (x, y) arrays or a mindspore.dataset, got {type(dataset).__name__}")
    if len(x) == 0:
        raise InvalidInputError("dataset: is empty")
    if len(x) != len(y):
        raise InvalidInputError(f"dataset: x and y lengths differ ({len(x)} vs {len(y)})")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32), y, batch  # checked by DPModel._check_data


class DPModel(Model):
    """A ``mindspore.train.Model`` that trains with DP-SGD.

    Args:
        network, loss_fn, optimizer: as for ``Model``. ``loss_fn(logits, labels)`` may reduce (mean/sum):
            per-example losses are recovered exactly. The optimizer (SGD, Momentum, Adam, ... or one from
            :class:`DPOptimizerClassFactory`) applies the privatised gradient.
        noise_multiplier: σ, noise std / clip norm. Required unless a noise instance or DP optimizer gives it.
        clip_norm: per-example clip norm C (the initial one for adaptive clipping).
        noise, clip, accountant: plugin instances, registry names, or ``(name, config)``.
        delta: δ of the reported (ε, δ).
        ledger: path of the privacy ledger (resumed if it exists) or ``None`` for an in-memory one. The file
            is locked while ``train`` runs; :meth:`save_checkpoint` / ``ModelCheckpoint`` callbacks stamp the
            ledger head into checkpoints, and :meth:`load_checkpoint` refuses a ledger that is cut or not this
            run's.
        batch_size: expected batch size; the sampling rate is ``batch_size / len(dataset)``. Defaults to
            the batch size of a batched ``mindspore.dataset``.
        sampling: ``"poisson"`` (default, what the accountants' amplification assumes) or ``"shuffle"``
            (fixed-size shuffled batches, warned about and accounted without amplification).
        per_layer: clip each parameter tensor to C/√K instead of the whole gradient to C.
        method: ``"auto"`` (ghost clipping where possible, else vmap), ``"ghost"``, ``"vmap"``, or
            ``"micro_batch"`` with ``micro_batches`` (MindArmour's scheme; the accountant's sensitivity
            follows it).
        physical_batch_size: static batch shape of the compiled step (default: expected + 2 std).
        seed: seeds sampling (and plugins created here); ``None`` draws OS entropy. ``0`` is a seed.
        durability: ledger ``fsync`` policy, ``"interval"`` (≤1 s, plus epoch/session ends) or ``"step"``.
        audit_canaries: m for a one-run privacy audit (Steinke, Nasr & Jagielski 2023) with ``audit_kind``
            canaries (``"gradient"``: white-box Dirac canaries, ``"input"``: mislabelled examples), or a
            :class:`~armour_plugins_privacy.dp.canaries.CanaryAudit` for every option. After each ``train``
            :attr:`privacy_audit` holds the empirical lower bound on ε, also recorded in the ledger.
    """

    def __init__(self, network: nn.Cell, loss_fn: Any, optimizer: nn.Optimizer, *,
                 noise_multiplier: float | None = None, clip_norm: float | None = None, noise: Any = "gaussian",
                 clip: Any = "fixed", accountant: Any = "pld", delta: float = 1e-5, ledger: Any = None,
                 batch_size: int | None = None, sampling: str = "poisson", per_layer: bool = False,
                 method: str = "auto", micro_batches: int | None = None, physical_batch_size: int | None = None,
                 seed: int | None = 0, durability: str = "interval", metrics: Any = None, eval_network: Any = None,
                 eval_indexes: Any = None, audit_canaries: Any = None, audit_kind: str = "gradient"):
        if not isinstance(network, nn.Cell):
            raise InvalidInputError(f"network: expected a mindspore.nn.Cell, got {type(network).__name__}")
        if loss_fn is None or not callable(loss_fn):
            raise InvalidInputError("loss_fn: DP training needs a loss function loss_fn(logits, labels)")
        if not isinstance(optimizer, nn.Optimizer):
            raise InvalidInputError(f"optimizer: expected a mindspore.nn.Optimizer, got {type(optimizer).__name__}")
        dp_opt = getattr(optimizer, "dp_mechanisms", None)
        if dp_opt:
            noise_multiplier = _merge("noise_multiplier", noise_multiplier, dp_opt.get("noise_multiplier"))
            clip_norm = _merge("clip_norm", clip_norm, dp_opt.get("clip_norm"))
            noise = dp_opt.get("noise", noise)
            clip = dp_opt.get("clip", clip)
            if dp_opt.get("micro_batches") is not None:
                micro_batches = _merge("micro_batches", micro_batches, dp_opt["micro_batches"])
                method = "micro_batch"
        if noise_multiplier is not None:
            noise_multiplier = check_positive(noise_multiplier, "noise_multiplier")
        if clip_norm is not None:
            clip_norm = check_positive(clip_norm, "clip_norm")
        self.delta = check_delta(delta)
        if sampling not in ("poisson", "shuffle"):
            raise InvalidInputError(f"sampling: expected 'poisson' or 'shuffle', got {sampling!r}")
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise InvalidInputError(f"seed: expected an int >= 0 or None, got {seed!r}")
        if micro_batches is not None:
            if method not in ("auto", "micro_batch"):
                raise InvalidInputError(f"micro_batches: only with method='micro_batch', not {method!r}")
            if not isinstance(micro_batches, int) or micro_batches < 1:
                raise InvalidInputError(f"micro_batches: expected an int >= 1, got {micro_batches!r}")
            method = "micro_batch"
        elif method == "micro_batch":
            raise InvalidInputError("method='micro_batch' needs micro_batches=")

        self.clip = _resolve("clip", clip, ClipMechanism, {"clip_norm": clip_norm, "seed": seed})
        if clip_norm is not None and not math.isclose(self.clip.clip_norm, clip_norm):
            raise ConfigError(f"clip_norm={clip_norm} disagrees with the clip plugin's clip_norm="
                              f"{self.clip.clip_norm}; give it in one place")
        if noise_multiplier is None and not isinstance(noise, NoiseMechanism) and not (
                isinstance(noise, tuple) and "noise_multiplier" in dict(noise[1])):
            raise InvalidInputError("noise_multiplier: required (or pass a noise plugin instance that has one)")
        self.noise = _resolve("noise", noise, NoiseMechanism,
                              {"noise_multiplier": noise_multiplier, "clip_norm": self.clip.clip_norm, "seed": seed})
        if noise_multiplier is not None and not math.isclose(self.noise.noise_multiplier_at(0), noise_multiplier):
            raise ConfigError(f"noise_multiplier={noise_multiplier} disagrees with the noise plugin's "
                              f"{self.noise.noise_multiplier_at(0)}; give it in one place")
        if not math.isclose(self.noise.config.clip_norm, self.clip.config.clip_norm):
            raise ConfigError(f"the noise plugin's clip_norm={self.noise.config.clip_norm} disagrees with the clip "
                              f"plugin's {self.clip.config.clip_norm}; the noise is scaled to the clip plugin's norm")
        self.accountant: Accountant = resolve_accountant(accountant)
        self.noise_multiplier = self.noise.noise_multiplier_at(0)
        self.batch_size = batch_size
        self.sampling = sampling
        self.per_layer = bool(per_layer)
        self.method = method
        self.micro_batches = micro_batches
        self.physical_batch_size = physical_batch_size
        self.seed = seed
        if isinstance(ledger, PrivacyLedger):
            self.ledger = ledger
        else:
            self.ledger = PrivacyLedger(ledger, durability=durability,
                                        header={"delta": self.delta, "sampling": sampling})
        self.ledger.check_compatible(delta=self.delta, sampling=sampling)
        super().__init__(network, loss_fn=loss_fn, optimizer=optimizer, metrics=metrics, eval_network=eval_network,
                         eval_indexes=eval_indexes)
        self._dp_network = network
        self._dp_loss = loss_fn
        self._dp_opt = optimizer
        self._compiled: dict[str, Any] = {}
        self.clipper = None
        self.history: list[dict[str, float]] = []
        self._eps_cache: dict[tuple, float] = {}
        self._launched = False  # whether a compiled graph of the current step was launched (see _run_step)
        self._dist_seed = seed
        self._num_classes: int | None = None
        self.canaries = _canary_audit(audit_canaries, audit_kind, seed, sampling, list(optimizer.parameters))
        self.privacy_audit = None  # the last one-run audit (canaries.OneRunAudit)
        #: the data-parallel context (``msrun``/``mindspore.communication``), ``None`` in one process
        self.cluster = distributed.attach(self)
        if self.cluster is not None and self.canaries is not None:
            raise ConfigError("audit_canaries: the one-run audit is not supported in data-parallel training yet "
                              "(its canaries would have to enter on the one rank that adds the noise, and be "
                              "scored once); audit a one-process run of the same recipe")

    # ------------------------------------------------------------------ privacy
    @property
    def steps_taken(self) -> int:
        """DP-SGD steps taken, as the ledger counts them (all sessions; voided steps excluded)."""
        return self.ledger.num_steps

    def epsilon(self, delta: float | None = None, *, accountant: Any = None) -> float:
        """ε spent by every step in the ledger, at ``delta`` (default: the model's δ)."""
        delta = self.delta if delta is None else check_delta(delta)
        acc = self.accountant if accountant is None else resolve_accountant(accountant)
        key = (self.ledger.head, delta, type(acc).__qualname__, repr(acc.config))  # a void changes the head
        if key not in self._eps_cache:
            self._eps_cache[key] = self.ledger.epsilon(delta, acc)
        return self._eps_cache[key]

    def epsilon_after(self, extra_steps: int, *, sampling_rate: float, delta: float | None = None) -> float:
        """ε if ``extra_steps`` more steps ran with the noise schedule's multipliers (for budget checks)."""
        from .ledger import events_from_steps

        delta = self.delta if delta is None else check_delta(delta)
        start = self.ledger.num_steps
        sens = self.clipper.sensitivity if self.clipper is not None else 1.0
        per_epoch = max(1, round(1.0 / sampling_rate))
        last_epoch = self.ledger.steps[-1]["epoch"] + 1 if self.ledger.steps else 0
        future = [{"sigma": self.noise.noise_multiplier_at(start + k) / sens, "q": sampling_rate,
                   "sampling": self.sampling, "epoch": last_epoch + k // per_epoch}
                  for k in range(extra_steps)] if self.noise.adaptive else []
        acc = self.accountant.fresh()
        for e in self.ledger.events():
            acc.step(noise_multiplier=e.noise_multiplier, sampling_rate=e.sampling_rate, steps=e.steps,
                     sampling=e.sampling)
        if self.noise.adaptive:
            for e in events_from_steps(future):
                acc.step(noise_multiplier=e.noise_multiplier, sampling_rate=e.sampling_rate, steps=e.steps,
                         sampling=e.sampling)
        elif extra_steps > 0:
            acc.step(noise_multiplier=self.noise_multiplier / sens, sampling_rate=sampling_rate, steps=extra_steps,
                     sampling=self.sampling)
        return acc.epsilon(delta)

    # ------------------------------------------------------------------ checkpoints and the ledger head
    def save_checkpoint(self, path: Any) -> Any:
        """Save the network atomically with the ledger's head (:data:`~armour_plugins_privacy.dp.ledger.CHECKPOINT_KEY`)
        after syncing the ledger, so the checkpoint later shows whether a ledger is this run's and complete."""
        from armour_core.ms.checkpoint import save_checkpoint_atomic
        from .ledger import CHECKPOINT_KEY

        if self.cluster is not None and not self.cluster.leader:
            return None  # rank 0 writes checkpoints (all ranks hold the same parameters)
        self.ledger.sync()
        return save_checkpoint_atomic(self._dp_network, path,
                                      append_dict={CHECKPOINT_KEY: self.ledger.head.encode()})

    def load_checkpoint(self, path: Any) -> None:
        """Resume from a checkpoint: first check that this model's ledger reaches the head stamped into it
        (not truncated, not another run's; a checkpoint without a head is refused), then load the weights."""
        from armour_core.loading import load_checkpoint
        from .ledger import CHECKPOINT_KEY, LedgerError, read_ledger_head

        head = read_ledger_head(path)
        if head is None:
            raise LedgerError(f"checkpoint {str(path)!r} carries no ledger head ({CHECKPOINT_KEY}; not saved by "
                              "DPModel): resuming from it could not be tied to this ledger")
        self.ledger.verify_head(head)
        load_checkpoint(self._dp_network, path, what="checkpoint")

    def _stamp(self, savers: list) -> None:
        """Put the ledger head into every ``ModelCheckpoint`` callback's appended entries (synced first: a
        checkpoint must never name records that are not on disk)."""
        if savers:
            from .ledger import CHECKPOINT_KEY

            self.ledger.sync()
            head = self.ledger.head.encode()
            for saver in savers:
                saver._append_dict[CHECKPOINT_KEY] = head  # MindSpore passes it to save_checkpoint(append_dict=)

    # ------------------------------------------------------------------ checks before privacy is spent
    def _prepare(self, x: np.ndarray, y: np.ndarray, physical: int) -> np.ndarray:
        """Everything that can fail before the first step, done before anything reaches the ledger: the data
        (returns the labels as int32), the DP validator, and the compiled step (built and dry-run once per
        physical batch shape)."""
        y = self._check_data(x, y)
        validator.check(self._dp_network, x[:2])
        if not self._compiled or self._compiled.get("physical") != physical:
            self._build(x, y, physical)
            self._dry_run(x, y, physical)
            self._compiled["physical"] = physical
        return y

    def _check_data(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The attacks' input checks for DP training: finite float inputs of a shape the network takes, integer
        labels (float labels are refused even when whole) in ``[0, classes)``, the number of classes read from
        one uncharged forward pass on one example."""
        check_inputs(x, name="x")
        y = np.asarray(y)
        if y.dtype.kind == "f":
            raise InvalidInputError(f"y: expected integer class labels, got dtype {y.dtype} (labels are class "
                                    "indices; cast whole-number labels with y.astype(np.int64))")
        net = self._dp_network
        try:
            with inference_mode(net):
                out = net(ms.Tensor(x[:1]))
        except Exception as exc:  # noqa: BLE001 - MindSpore's compile/shape errors, translated below
            hint = first_layer_expectation(net, tuple(x.shape[1:]))
            first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            raise InvalidInputError(f"x: {type(net).__name__} cannot run on samples of shape {tuple(x.shape[1:])}"
                                    + (f": expected {hint}" if hint else "") + f" (MindSpore: {first[:200]})") from None
        shape = tuple(getattr(out, "shape", ()))
        classes = int(shape[1]) if len(shape) == 2 else None
        self._num_classes = classes
        return check_labels(y, n=len(x), num_classes=classes, name="y").astype(np.int32)

    # ------------------------------------------------------------------ compiled step
    def _build(self, x: np.ndarray, y: np.ndarray, physical: int) -> None:
        params = list(self._dp_opt.parameters)
        self.clipper = make_clipper(self._dp_network, self._dp_loss, params, sample_x=x[:4], sample_y=y[:4],
                                    batch_size=physical, per_layer=self.per_layer, method=self.method,
                                    micro_batches=self.micro_batches)
        clip_fn = self.clipper.fn
        opt = self._dp_opt
        shapes = tuple(tuple(p.shape) for p in params)
        sizes = [int(np.prod(s)) if s else 1 for s in shapes]
        offsets = tuple(int(o) for o in np.concatenate([[0], np.cumsum(sizes)]))
        n_params = len(shapes)
        self._n_noise = offsets[-1]
        self._noise_layout = (offsets, shapes)

        def privatise(sums, noise, inv_denom):
            # the noise comes from the host already at its final scale (σ·C·scale/denom) and one tensor per
            # parameter: one multiply and one add per parameter, no slicing or rescaling of a flat vector here
            grads = ()
            for j in range(n_params):
                grads = grads + (sums[j] * inv_denom + noise[j],)
            return grads

        def step(x, y, mask, clip_norm, noise, inv_denom):
            sums, ratio, losses = clip_fn(x, y, mask, clip_norm)
            grads = privatise(sums, noise, inv_denom)
            done = opt(grads)
            lead = grads[0].reshape(-1)[0]  # the last computed gradient: keeps the next launch from starving
            return ops.depend(ratio + 0.0 * lead, done), ops.depend(losses + 0.0 * lead, done)

        def step_carry(x, y, mask, clip_norm, noise, inv_denom, carry):
            sums, ratio, losses = clip_fn(x, y, mask, clip_norm)
            total = ()
            for j in range(n_params):
                total = total + (sums[j] + carry[j],)
            grads = privatise(total, noise, inv_denom)
            done = opt(grads)
            lead = grads[0].reshape(-1)[0]
            return ops.depend(ratio + 0.0 * lead, done), ops.depend(losses + 0.0 * lead, done)

        def accumulate(x, y, mask, clip_norm):
            return clip_fn(x, y, mask, clip_norm)

        self._compiled = {"step": ms.jit(step), "step_carry": ms.jit(step_carry), "accumulate": ms.jit(accumulate)}
        if self.cluster is not None:  # the data-parallel step: local sum, AllReduce, update
            self._compiled.update(distributed.compile_steps(clip_fn, opt, shapes, offsets))

    def _dry_run(self, x: np.ndarray, y: np.ndarray, physical: int) -> None:
        """Compile and run the step graph once on an all-padding batch with zero noise, then put every
        parameter and optimizer state back in place: a network or optimizer that fails in the step fails
        here, before the ledger charges anything. The state is restored with in-place assignment
        (``set_data`` would detach the compiled graph from the parameters)."""
        state = {id(p): p for p in [*self._dp_opt.get_parameters(), *self._dp_network.get_parameters()]}
        saved = [(p, p.asnumpy().copy()) for p in state.values()]
        idx = np.resize(np.arange(min(len(x), physical)), physical)
        was_training = self._dp_network.training
        try:
            self._dp_network.set_train(True)
            self._compiled["step"](ms.Tensor(x[idx]), ms.Tensor(y[idx]), ms.Tensor(np.zeros(physical, np.float32)),
                                   ms.Tensor(1.0, ms.float32), self._noise_tensors(np.zeros(self._n_noise, np.float32)),
                                   ms.Tensor(1.0, ms.float32))
            if self.cluster is not None:
                distributed.dry_run(self, ms.Tensor(x[idx]), ms.Tensor(y[idx]),
                                    ms.Tensor(np.zeros(physical, np.float32)))
        finally:
            self._dp_network.set_train(was_training)
            for p, value in saved:
                ops.assign(p, ms.Tensor(value))

    def _noise_tensors(self, noise: np.ndarray):
        """The flat noise vector as one tensor per parameter (a ``mutable`` tuple: a plain tuple of Tensors
        would be a compile-time constant)."""
        offsets, shapes = self._noise_layout
        return ms.mutable(tuple(ms.Tensor(noise[offsets[j]:offsets[j + 1]].reshape(shapes[j]))
                                for j in range(len(shapes))))

    def _run_step(self, x, y, chunks, clip_norm: float, noise: np.ndarray, denom: float):
        """One DP-SGD step; ``noise`` is at its final scale (the noise of the clipped sum divided by ``denom``,
        see ``train``). A batch larger than the physical size is summed chunk by chunk; the carried sums enter
        the step as a ``mutable`` tuple (a plain tuple of Tensors is a compile-time constant: every chunked
        step would recompile). ``x, y`` are arrays, or a lazily read source and ``None`` (see
        :func:`~.data.take`)."""
        c = ms.Tensor(clip_norm, ms.float32)
        inv = ms.Tensor(1.0 / denom, ms.float32)
        z = self._noise_tensors(noise)
        ratios, losses = [], []
        carry = None
        for idx, mask in chunks[:-1]:
            xb, yb = take(x, y, idx, mask)
            args = (ms.Tensor(xb), ms.Tensor(yb), ms.Tensor(mask), c)
            self._launched = True  # from here on a failure may come from a graph that assigned parameters
            sums, ratio, loss = self._compiled["accumulate"](*args)
            carry = sums if carry is None else tuple(a + b for a, b in zip(carry, sums))
            ratios.append(ratio.asnumpy()[mask > 0])
            losses.append(loss.asnumpy()[mask > 0])
        idx, mask = chunks[-1]
        xb, yb = take(x, y, idx, mask)
        args = (ms.Tensor(xb), ms.Tensor(yb), ms.Tensor(mask), c, z, inv)
        self._launched = True
        if carry is None:
            ratio, loss = self._compiled["step"](*args)
        else:
            ratio, loss = self._compiled["step_carry"](*args, ms.mutable(tuple(carry)))
        ratios.append(ratio.asnumpy()[mask > 0])
        losses.append(loss.asnumpy()[mask > 0])
        return np.concatenate(ratios), np.concatenate(losses)

    def _void_if_unreleased(self, exc: BaseException) -> None:
        """Void the step just charged if it failed before any compiled graph of it was launched (data
        preparation, batch assembly, tensor conversion): nothing of it can have been released. A failure
        from inside a graph stays charged: MindSpore does not apply the optimizer's assignments atomically,
        so some parameters may already hold the noised update. If the void itself fails, the step stays
        charged (the safe side) and the exception says so."""
        if self._launched:
            return
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = f"{type(exc).__name__} before the step graph ran" + (f": {first}" if first else "")
        try:
            self.ledger.void_last_step(reason)
        except Exception as err:  # noqa: BLE001 - the original failure is what the caller must see
            exc.add_note(f"armour: the charged step could not be voided and stays charged ({err})")

    # ------------------------------------------------------------------ training
    def train(self, epoch: int, train_dataset: Any, callbacks: Any = None, dataset_sink_mode: bool = False,
              sink_size: int = -1, initial_epoch: int = 0, progress: bool | None = None) -> None:
        """Train for ``epoch`` epochs with DP-SGD (``Model.train``'s signature; sink mode is not used).

        An epoch is ``round(1/q)`` Poisson steps (``N // batch_size`` shuffled steps). Callbacks receive
        the usual ``cb_params`` plus ``dp_model`` (this model) and ``epsilon`` at epoch ends.
        ``train_dataset``: ``(x, y)`` arrays, a random-access source (``__getitem__``/``__len__`` of
        ``(x, y)``, or a ``GeneratorDataset`` over one: read per step, never as a whole), or any other
        ``mindspore.dataset`` (read into memory once).
        """
        from mindspore.train.callback import RunContext, _CallbackManager, _InternalCallbackParam

        if not isinstance(epoch, int) or epoch < 1:
            raise InvalidInputError(f"epoch: expected an int >= 1, got {epoch!r}")
        if dataset_sink_mode:
            warnings.warn("DPModel: dataset_sink_mode is ignored (steps are driven from the host)", stacklevel=2)
        data = as_source(train_dataset, _materialise)
        if self.canaries is not None:
            data = self.canaries.training_source(data)
        n = data.n
        batch = self.batch_size or data.batch_size
        if batch is None:
            raise InvalidInputError("batch_size: give DPModel(batch_size=...) or a batched mindspore.dataset")
        if not 1 <= batch <= n:
            raise InvalidInputError(f"batch_size must lie in [1, {n}] (dataset size), got {batch}")
        physical = self.physical_batch_size or (batch if self.sampling == "shuffle"
                                                else default_physical_batch(batch / n * n, n))
        if self.cluster is not None and not self.physical_batch_size:
            physical = self.cluster.physical(batch, n)  # per rank
        if self.micro_batches:
            physical = math.ceil(physical / self.micro_batches) * self.micro_batches
        x, y = data.head(physical)
        y = self._prepare(x, y, physical)  # every check and the step's compilation: before the ledger hears of it
        data.checked(y, self._num_classes)
        rows = (data, None) if data.lazy else (data.x, data.y)
        if self.cluster is not None:  # one model everywhere before anything is charged (same seed or checkpoint)
            self.cluster.check_parameters(list(self._dp_opt.parameters), "before the first step")
        callbacks = distributed.own_callbacks(self.cluster, callbacks)
        session = self.ledger.begin_session(dataset_size=n, batch_size=batch, sampling=self.sampling,
                                            noise=type(self.noise).__name__, clip=type(self.clip).__name__,
                                            seed=self.seed)
        stream = (session,)
        seed = self._dist_seed  # the model's seed, or in data-parallel training one shared by every rank
        rng = np.random.default_rng(None if seed is None else np.random.SeedSequence([seed, 7, session]))
        self.noise.reseed(*stream)
        self.clip.reseed(*stream)
        if self.sampling == "poisson":
            sampler = PoissonSampler(n, batch / n, rng)
        else:
            warnings.warn("DPModel(sampling='shuffle'): fixed-size shuffled batches get no amplification by "
                          "subsampling; each pass is accounted as one Gaussian mechanism (much larger ε than "
                          "Poisson sampling at the same noise)", ShuffledSamplingWarning, stacklevel=2)
            sampler = ShuffleSampler(n, batch, rng)
        if self.canaries is not None:
            sampler = self.canaries.sampler(sampler)
            self.canaries.begin(list(self._dp_opt.parameters), stream)
        denom = float(self.micro_batches) if self.micro_batches else sampler.expected_batch_size
        q = sampler.q
        sens = self.clipper.sensitivity

        cb_params = _InternalCallbackParam()
        cb_params.train_network = self._dp_network
        cb_params.network = self._dp_network
        cb_params.optimizer = self._dp_opt
        cb_params.loss_fn = self._dp_loss
        cb_params.epoch_num = epoch
        cb_params.batch_num = sampler.steps_per_epoch
        cb_params.cur_epoch_num = initial_epoch
        cb_params.cur_step_num = initial_epoch * sampler.steps_per_epoch
        cb_params.mode = "train"
        cb_params.train_dataset = train_dataset
        cb_params.dataset_sink_mode = False
        cb_params.parallel_mode = "stand_alone"
        cb_params.device_number = 1
        cb_params.dp_model = self
        cb_params.sampling_rate = q
        self._dp_network.set_train(True)
        name_noise = _plugin_name("noise", self.noise)
        name_clip = _plugin_name("clip", self.clip)
        total = (epoch - initial_epoch) * sampler.steps_per_epoch
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="armour-dp-noise")
        pending: dict[int, Any] = {}

        def draw(step_no: int, factor: float) -> tuple[np.ndarray | None, float]:
            if self.cluster is not None and not self.cluster.leader:
                return None, factor  # rank 0 adds the noise, once per global step (see dp/distributed.py)
            return self.noise.sample(self._n_noise, step_no, clip_norm=factor, dtype=np.float32), factor

        def noise_for(step_no: int, factor: float) -> np.ndarray | None:
            """This step's noise times ``factor``. The next step's is drawn in the background while this step's
            graph runs (one worker, in step order: the same stream as drawing inline), at this step's factor;
            mechanisms are scale families, so a factor that changed meanwhile (adaptive clipping) is a rescale."""
            future = pending.pop(step_no, None)
            noise, drawn = future.result() if future is not None else draw(step_no, factor)
            pending.clear()
            pending[step_no + 1] = pool.submit(draw, step_no + 1, factor)
            if noise is not None and drawn != factor:
                noise *= np.float32(factor / drawn)
            return noise

        savers = _checkpoint_savers(callbacks)
        try:
            with _CallbackManager(callbacks) as cbs, Progress(total, "DP-SGD", enabled=progress, unit="steps") as bar:
                run_context = RunContext(cb_params)
                cbs.on_train_begin(run_context)
                for e in range(initial_epoch, epoch):
                    cb_params.cur_epoch_num = e + 1
                    cbs.on_train_epoch_begin(run_context)
                    epoch_losses = []
                    for idx in sampler.epoch():
                        cbs.on_train_step_begin(run_context)
                        if run_context.get_stop_requested():
                            break
                        step_no = self.ledger.num_steps
                        sigma = self.noise.noise_multiplier_at(step_no)
                        clip_now = self.clip.clip_norm
                        sigma_grad = self.clip.gradient_noise_multiplier(sigma, sampler.expected_batch_size)
                        scale = clip_now * sigma_grad / sigma
                        if self.cluster is not None:  # noise for clip norm 1, scaled in the graph (distributed.py)
                            noise = noise_for(step_no, 1.0)
                        else:  # the final scale σ·C·scale/denom, so the graph only adds it
                            noise = noise_for(step_no, scale / denom)
                        if self.canaries is not None:  # single process only: a clipped example's C/denom
                            noise = self.canaries.inject(noise, q=q, clip_norm=clip_now, scale=denom)
                        self.ledger.record_step(sigma=sigma / sens, q=q, sampling=self.sampling, epoch=e,
                                                noise_multiplier=sigma, gradient_noise_multiplier=sigma_grad,
                                                clip_norm=clip_now, noise=name_noise, clip=name_clip,
                                                method=self.clipper.method, micro_batches=self.micro_batches,
                                                per_layer=self.per_layer)
                        self._launched = False
                        try:
                            if self.cluster is not None:
                                ratios, losses = distributed.run_step(self, self.cluster, data, idx, physical,
                                                                      clip_now, noise, scale, denom)
                            else:
                                ratios, losses = self._run_step(*rows, pad_chunks(idx, physical), clip_now, noise,
                                                                denom)
                        except BaseException as exc:
                            self._void_if_unreleased(exc)
                            raise
                        if self.clip.adaptive:
                            self.clip.update(ratios * clip_now, expected_batch_size=sampler.expected_batch_size)
                        loss = float(losses.mean()) if losses.size else float("nan")
                        epoch_losses.append(loss)
                        self.history.append({"step": step_no + 1, "loss": loss, "batch": int(len(idx)),
                                             "clip_norm": clip_now, "noise_multiplier": sigma,
                                             "clipped_fraction": float(np.mean(ratios > 1.0)) if ratios.size else 0.0})
                        cb_params.cur_step_num += 1
                        cb_params.net_outputs = ms.Tensor(loss, ms.float32)
                        bar.update(1, loss=f"{loss:.3f}")
                        self._stamp(savers)
                        cbs.on_train_step_end(run_context)
                        if run_context.get_stop_requested():
                            break
                    self.ledger.sync()
                    cb_params.epsilon = self.epsilon()
                    cb_params.epoch_loss = float(np.mean(epoch_losses)) if epoch_losses else float("nan")
                    cbs.on_train_epoch_end(run_context)
                    if run_context.get_stop_requested():
                        break
                cbs.on_train_end(run_context)
            if self.cluster is not None:
                self.cluster.check_parameters(list(self._dp_opt.parameters), "at the end of train")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.ledger.close()  # sync and release the writer's lock until the next session
            self._dp_network.set_train(False)
        if self.canaries is not None:
            self.privacy_audit = self.canaries.finish(network=self._dp_network, params=list(self._dp_opt.parameters),
                                                      ledger=self.ledger, claimed_epsilon=self.epsilon(),
                                                      delta=self.delta)
            self.ledger.close()


def _canary_audit(canaries: Any, kind: str, seed: int | None, sampling: str, params: list) -> Any:
    """The run's :class:`~armour_plugins_privacy.dp.canaries.CanaryAudit` (``None``: no audit), checked
    against the optimizer's parameters."""
    if canaries is None:
        return None
    from .canaries import CanaryAudit

    if sampling != "poisson":
        raise InvalidInputError("audit_canaries: the one-run audit needs sampling='poisson' (canaries are sampled "
                                "like examples, at the accountant's rate)")
    audit = canaries if isinstance(canaries, CanaryAudit) else CanaryAudit(canaries, kind=kind, seed=seed)
    audit.check(params)
    return audit


def _checkpoint_savers(callbacks: Any) -> list:
    """The ``ModelCheckpoint`` callbacks among ``callbacks`` (they get the ledger head stamped in)."""
    from mindspore.train.callback import ModelCheckpoint

    items = callbacks if isinstance(callbacks, (list, tuple)) else [] if callbacks is None else [callbacks]
    return [cb for cb in items if isinstance(cb, ModelCheckpoint)]


def _plugin_name(kind: str, obj: Any) -> str:
    for spec in registry.specs(kind):
        if isinstance(spec.target, str) and spec.target.endswith(":" + type(obj).__qualname__):
            return spec.name
    return type(obj).__qualname__


def _merge(name: str, given: Any, from_optimizer: Any) -> Any:
    if given is not None and from_optimizer is not None and given != from_optimizer:
        raise ConfigError(f"{name}={given} disagrees with the DP optimizer's {name}={from_optimizer}; "
                          "give it in one place")
    return from_optimizer if from_optimizer is not None else given


# ---------------------------------------------------------------------- DP optimizers
_BASES = {"sgd": nn.SGD, "momentum": nn.Momentum, "adam": nn.Adam}


class DPOptimizerClassFactory:
    """Optimizer classes that carry DP mechanisms, for MindArmour users.

    ::

        factory = DPOptimizerClassFactory(micro_batches=None)          # None: true per-example clipping
        factory.set_mechanisms("gaussian", noise_multiplier=1.1, clip_norm=1.0)
        Momentum = factory.create("Momentum")
        opt = Momentum(params=net.trainable_params(), learning_rate=0.1, momentum=0.9)
        model = DPModel(network=net, loss_fn=loss, optimizer=opt, batch_size=256)

    The optimizer applies the privatised gradient; ``DPModel`` reads the mechanisms from it (clipping and
    noise need per-example gradients, which only the model's step has), so there is one place for σ and C.
    """

    def __init__(self, micro_batches: int | None = None):
        if micro_batches is not None and (not isinstance(micro_batches, int) or micro_batches < 1):
            raise InvalidInputError(f"micro_batches: expected an int >= 1 or None, got {micro_batches!r}")
        self.micro_batches = micro_batches
        self.mechanisms: dict[str, Any] | None = None

    def set_mechanisms(self, noise: Any = "gaussian", *, noise_multiplier: float, clip_norm: float,
                       clip: Any = "fixed", **noise_config: Any) -> None:
        noise_multiplier = check_positive(noise_multiplier, "noise_multiplier")
        clip_norm = check_positive(clip_norm, "clip_norm")
        if isinstance(noise, str):
            noise = noise.lower()
            registry.spec("noise", noise)  # unknown mechanism: clear error now
            if noise_config:
                noise = (noise, noise_config)
        self.mechanisms = {"noise": noise, "clip": clip, "noise_multiplier": float(noise_multiplier),
                           "clip_norm": float(clip_norm), "micro_batches": self.micro_batches}

    def create(self, policy: str) -> type:
        """The optimizer class for ``policy`` ("SGD", "Momentum" or "Adam")."""
        if self.mechanisms is None:
            raise InvalidInputError("DPOptimizerClassFactory: call set_mechanisms(...) before create(...)")
        base = _BASES.get(str(policy).lower())
        if base is None:
            raise InvalidInputError(f"policy: expected one of SGD, Momentum, Adam, got {policy!r}")
        mechanisms = dict(self.mechanisms)

        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
            self.dp_mechanisms = mechanisms

        return type(f"DP{base.__name__}", (base,), {"__init__": __init__, "__doc__": f"{base.__name__} carrying "
                                                   "DP mechanisms for DPModel."})
