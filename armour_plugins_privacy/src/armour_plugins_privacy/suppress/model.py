"""Suppress-privacy training: a ``mindspore.train.Model`` that gradually zeroes weights on a schedule.

MindArmour users know three pieces, kept here under the same names:

* :class:`SuppressCtrl` — the schedule (first and last epoch, number of suppress operations, sparsity
  rising from ``sparse_start`` to ``sparse_end`` along Zhu & Gupta's cubic curve) and the masks; which
  weights to suppress comes from a ``suppressor`` plugin (``magnitude``, ``random``, ``layerwise``...).
* :class:`SuppressMasker` — the callback that runs a suppress operation at the scheduled steps.
* :class:`SuppressModel` — the ``Model`` whose train step masks gradients and re-applies the masks to the
  weights after every optimizer update, so suppressed weights stay exactly zero whatever the optimizer
  (MindArmour's "de-weight" gradient trick is only exact for plain SGD without momentum).

Differences that matter: it runs in GRAPH and PyNative mode (masks are non-trainable Parameters of the
train step, updated in place, so the compiled graph is reused); the network's own parameter names are
untouched (a checkpoint of the network loads into a fresh one); the achieved sparsity per layer is
measured on the weights and reported.
"""

from __future__ import annotations

from typing import Any

import attrs
import mindspore as ms
import numpy as np
from mindspore import nn, ops
from mindspore.train.callback import Callback

import armour_core.ms  # noqa: F401 - CPU runtime settings

from armour_core import registry
from armour_core.api.suppressor import Suppressor, check_sparsity
from armour_core.errors import InvalidInputError


@attrs.frozen
class MaskLayer:
    """One parameter to suppress (MindArmour's ``MaskLayerDes``).

    Args:
        name: the parameter's name (``"fc1.weight"``), as in ``network.parameters_and_names()``.
        min_keep: entries that must never be suppressed (MindArmour's ``min_num``).
        upper_bound: at each suppress operation, clip the weights to [-upper_bound, upper_bound].
        lower_clip: push surviving weights smaller than ``SuppressCtrl.lower_bound`` out to it.
        add_noise: add uniform noise of ``SuppressCtrl.noise_volume`` to large surviving weights.
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    min_keep: int = attrs.field(default=0, validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)])
    upper_bound: float | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.gt(0.0)))
    lower_clip: bool = False
    add_noise: bool = False


class SuppressCtrl:
    """Suppress schedule and masks for ``network``.

    Args:
        network: the ``nn.Cell`` being trained.
        layers: parameter names or :class:`MaskLayer` records; default: every weight with two or more
            dimensions (Dense and Conv kernels, not biases).
        suppressor: a ``suppressor`` plugin name or instance (default ``magnitude``).
        start_epoch, end_epoch: 1-based epochs in which suppress operations happen (inclusive).
        mask_times: number of suppress operations, evenly spaced from the start of ``start_epoch`` to the
            end of ``end_epoch``; the last one reaches ``sparse_end`` exactly.
        sparse_start, sparse_end: sparsity at the first and the last operation, 0 <= start <= end < 1.
        lower_bound, noise_volume: used by ``MaskLayer(lower_clip=True)`` / ``MaskLayer(add_noise=True)``.
        seed: randomness of the suppressor and the noise.
    """

    def __init__(self, network: nn.Cell, layers: list[str | MaskLayer] | None = None, *,
                 suppressor: str | Suppressor = "magnitude", start_epoch: int = 1, end_epoch: int = 10,
                 mask_times: int = 10, sparse_start: float = 0.0, sparse_end: float = 0.9,
                 lower_bound: float = 0.005, noise_volume: float = 0.01, seed: int = 0):
        if not isinstance(network, nn.Cell):
            raise InvalidInputError(f"network: expected a mindspore.nn.Cell, got {type(network).__name__}")
        for name, v in (("start_epoch", start_epoch), ("end_epoch", end_epoch), ("mask_times", mask_times)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidInputError(f"{name}: expected an int >= 1, got {v!r}")
        if start_epoch > end_epoch:
            raise InvalidInputError(f"start_epoch={start_epoch} is after end_epoch={end_epoch}")
        self.sparse_start = check_sparsity(sparse_start, "sparse_start")
        self.sparse_end = check_sparsity(sparse_end, "sparse_end")
        if self.sparse_start > self.sparse_end:
            raise InvalidInputError(f"sparse_start={sparse_start} must not exceed sparse_end={sparse_end}")
        if not lower_bound >= 0 or not noise_volume >= 0:
            raise InvalidInputError("lower_bound and noise_volume: expected values >= 0")
        self.network = network
        self.start_epoch, self.end_epoch, self.mask_times = start_epoch, end_epoch, mask_times
        self.lower_bound, self.noise_volume = float(lower_bound), float(noise_volume)
        self.seed = seed
        if isinstance(suppressor, str):
            suppressor = registry.create("suppressor", suppressor, seed=seed)
        if not isinstance(suppressor, Suppressor):
            raise InvalidInputError(f"suppressor: expected a plugin name or Suppressor, got {suppressor!r}")
        self.suppressor = suppressor
        params = {p.name: p for p in network.get_parameters()}
        if layers is None:
            layers = [n for n, p in params.items() if len(p.shape) >= 2 and p.requires_grad]
        if not layers:
            raise InvalidInputError("layers: no parameter to suppress (give parameter names)")
        self.layers: list[MaskLayer] = []
        for item in layers:
            layer = item if isinstance(item, MaskLayer) else MaskLayer(str(item))
            if layer.name not in params:
                raise InvalidInputError(f"layers: unknown parameter {layer.name!r}; available: {sorted(params)}")
            if any(existing.name == layer.name for existing in self.layers):
                raise InvalidInputError(f"layers: {layer.name!r} given twice")
            self.layers.append(layer)
        self.params = {layer.name: params[layer.name] for layer in self.layers}
        #: non-trainable mask Parameters (1 keep, 0 suppressed), read by the compiled train step
        self.mask_params = {name: ms.Parameter(ms.Tensor(np.ones(p.shape, np.float32)), name=f"suppress_mask.{name}",
                                               requires_grad=False) for name, p in self.params.items()}
        self.history: list[dict[str, Any]] = []
        self._steps_per_epoch: int | None = None
        self._plan: dict[int, float] = {}
        self._noise_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))

    # ------------------------------------------------------------------ schedule
    def plan(self, steps_per_epoch: int) -> dict[int, float]:
        """Global step (1-based, after which the operation runs) -> target sparsity."""
        if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise InvalidInputError(f"steps_per_epoch: expected an int >= 1, got {steps_per_epoch!r}")
        start = (self.start_epoch - 1) * steps_per_epoch
        end = self.end_epoch * steps_per_epoch
        plan: dict[int, float] = {}
        if self.sparse_start > 0:
            plan[max(start, 1)] = self.sparse_start
        for k in range(1, self.mask_times + 1):
            step = max(start + int(round(k * (end - start) / self.mask_times)), 1)
            plan[step] = self.sparsity_at(step, steps_per_epoch)
        return dict(sorted(plan.items()))

    def sparsity_at(self, step: int, steps_per_epoch: int) -> float:
        """Zhu & Gupta's cubic ramp: s_end + (s_start - s_end) * (1 - progress)^3."""
        start = (self.start_epoch - 1) * steps_per_epoch
        end = self.end_epoch * steps_per_epoch
        progress = min(max((step - start) / max(end - start, 1), 0.0), 1.0)
        return self.sparse_end + (self.sparse_start - self.sparse_end) * (1.0 - progress) ** 3

    def on_step(self, step: int, steps_per_epoch: int) -> bool:
        """Run the suppress operation scheduled after ``step``, if any; True when one ran."""
        if self._steps_per_epoch != steps_per_epoch:
            self._steps_per_epoch = steps_per_epoch
            self._plan = self.plan(steps_per_epoch)
        if step in self._plan:
            self.suppress(self._plan[step], step=step)
            return True
        return False

    # ------------------------------------------------------------------ masks
    def suppress(self, sparsity: float, *, step: int = 0) -> dict[str, float]:
        """One suppress operation at ``sparsity``: new masks, applied to the weights now."""
        weights = {name: p.asnumpy() for name, p in self.params.items()}
        masks = self.suppressor.masks(weights, sparsity, step=step,
                                      min_keep={layer.name: layer.min_keep for layer in self.layers})
        for layer in self.layers:
            w = weights[layer.name].astype(np.float32)
            keep = masks[layer.name]
            if layer.upper_bound is not None:
                w = np.clip(w, -layer.upper_bound, layer.upper_bound)
            if layer.lower_clip and self.lower_bound > 0:
                small = keep & (np.abs(w) < self.lower_bound)
                w = np.where(small, np.where(w < 0, -self.lower_bound, self.lower_bound), w)
            if layer.add_noise and self.noise_volume > 0:
                big = keep & (np.abs(w) > min(0.5, max(10 * self.noise_volume, 0.75 * float(np.abs(w).max()))))
                w = w + big * self._noise_rng.uniform(-self.noise_volume, self.noise_volume, w.shape)
            w = (w * keep).astype(np.float32)
            self.mask_params[layer.name].set_data(ms.Tensor(keep.astype(np.float32)))
            self.params[layer.name].set_data(ms.Tensor(w))
        achieved = self.sparsity()
        self.history.append({"step": int(step), "target": float(sparsity), "achieved": achieved})
        return achieved

    def sparsity(self) -> dict[str, float]:
        """Fraction of exactly-zero weights per suppressed layer, and ``"__all__"`` over them."""
        out, zeros, total = {}, 0, 0
        for name, p in self.params.items():
            w = p.asnumpy()
            z = int(w.size - np.count_nonzero(w))
            out[name] = z / w.size
            zeros, total = zeros + z, total + w.size
        out["__all__"] = zeros / total
        return out


class SuppressMasker(Callback):
    """Runs ``suppress_ctrl``'s suppress operations at the scheduled steps (MindArmour's callback)."""

    def __init__(self, model: "SuppressModel", suppress_ctrl: SuppressCtrl):
        super().__init__()
        if not isinstance(suppress_ctrl, SuppressCtrl):
            raise InvalidInputError(f"suppress_ctrl: expected a SuppressCtrl, got {type(suppress_ctrl).__name__}")
        self._model = model
        self._ctrl = suppress_ctrl

    def on_train_step_end(self, run_context):
        cb = run_context.original_args()
        self._ctrl.on_step(int(cb.cur_step_num), int(cb.batch_num))


class _SuppressTrainStep(nn.Cell):
    """Loss, gradients masked by the suppress masks, optimizer update, then weights re-masked."""

    def __init__(self, net_with_loss: nn.Cell, optimizer: nn.Optimizer, masks: dict[str, ms.Parameter]):
        super().__init__(auto_prefix=False)
        self.network = net_with_loss
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad = ops.GradOperation(get_by_list=True)
        names = [p.name for p in self.weights]
        missing = [n for n in masks if n not in names]
        if missing:
            raise InvalidInputError(f"layers: {missing} are not updated by the optimizer")
        ordered = [n for n in names if n in masks]
        self.masks = ms.ParameterTuple([masks[n] for n in ordered])
        self.mask_pos = tuple(ordered.index(n) if n in masks else -1 for n in names)
        self.masked = tuple(names.index(n) for n in ordered)

    def construct(self, *inputs):
        loss = self.network(*inputs)
        grads = self.grad(self.network, self.weights)(*inputs)
        masked = ()
        for g, pos in zip(grads, self.mask_pos):
            if pos >= 0:
                g = g * self.masks[pos]
            masked = masked + (g,)
        loss = ops.depend(loss, self.optimizer(masked))
        for k, i in enumerate(self.masked):
            w = self.weights[i]
            loss = ops.depend(loss, ops.assign(w, w * self.masks[k]))
        return loss


class SuppressModel(ms.train.Model):
    """A ``mindspore.train.Model`` for suppress-privacy training.

    Give the schedule either as a ready :class:`SuppressCtrl` (``suppress_ctrl=`` or MindArmour's
    ``link_suppress_ctrl``) or as keyword arguments forwarded to one (``layers``, ``suppressor``,
    ``start_epoch``, ``end_epoch``, ``mask_times``, ``sparse_start``, ``sparse_end``, ``seed``).
    ``train`` adds the :class:`SuppressMasker` callback itself when it is not among ``callbacks``.

    Example::

        model = SuppressModel(net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                              optimizer=nn.Adam(net.trainable_params(), 1e-3), metrics={"acc"},
                              suppressor="magnitude", start_epoch=2, end_epoch=8, mask_times=20, sparse_end=0.9)
        model.train(10, dataset)
        model.sparsity()          # {"fc1.weight": 0.9, ..., "__all__": 0.9}
    """

    _CTRL_KEYS = ("layers", "suppressor", "start_epoch", "end_epoch", "mask_times", "sparse_start", "sparse_end",
                  "lower_bound", "noise_volume", "seed")

    def __init__(self, network: nn.Cell, loss_fn: Any = None, optimizer: Any = None, metrics: Any = None,
                 eval_network: Any = None, *, suppress_ctrl: SuppressCtrl | None = None, **kwargs: Any):
        ctrl_kwargs = {k: kwargs.pop(k) for k in self._CTRL_KEYS if k in kwargs}
        if not isinstance(network, nn.Cell):
            raise InvalidInputError(f"network: expected a mindspore.nn.Cell, got {type(network).__name__}")
        if optimizer is None:
            raise InvalidInputError("optimizer: SuppressModel trains, so it needs an optimizer")
        if suppress_ctrl is not None and ctrl_kwargs:
            raise InvalidInputError(f"give either suppress_ctrl or schedule arguments, not both "
                                    f"({sorted(ctrl_kwargs)})")
        if suppress_ctrl is None and ctrl_kwargs:
            suppress_ctrl = SuppressCtrl(network, **ctrl_kwargs)
        if suppress_ctrl is not None and suppress_ctrl.network is not network:
            raise InvalidInputError("suppress_ctrl: it was built for a different network")
        self._suppress_ctrl = suppress_ctrl
        super().__init__(network, loss_fn=loss_fn, optimizer=optimizer, metrics=metrics,
                         eval_network=eval_network, **kwargs)

    @property
    def suppress_ctrl(self) -> SuppressCtrl | None:
        return self._suppress_ctrl

    def link_suppress_ctrl(self, suppress_ctrl: SuppressCtrl) -> None:
        """Attach a :class:`SuppressCtrl` (MindArmour's API); rebuilds the train step with its masks."""
        if not isinstance(suppress_ctrl, SuppressCtrl):
            raise InvalidInputError(f"suppress_ctrl: expected a SuppressCtrl, got {type(suppress_ctrl).__name__}")
        if suppress_ctrl.network is not self._network:
            raise InvalidInputError("suppress_ctrl: it was built for a different network")
        self._suppress_ctrl = suppress_ctrl
        self._train_network = self._build_train_network()

    def _build_train_network(self):
        ctrl = getattr(self, "_suppress_ctrl", None)
        if ctrl is None:
            return super()._build_train_network()
        net = self._network if self._loss_fn is None else nn.WithLossCell(self._network, self._loss_fn)
        return _SuppressTrainStep(net, self._optimizer, ctrl.mask_params).set_train()

    def train(self, epoch: int, train_dataset: Any, callbacks: Any = None, dataset_sink_mode: bool = False,
              **kwargs: Any):
        if self._suppress_ctrl is None:
            raise InvalidInputError("SuppressModel.train: no suppress schedule; pass suppress_ctrl= or "
                                    "schedule arguments, or call link_suppress_ctrl(...)")
        if dataset_sink_mode:
            raise InvalidInputError("dataset_sink_mode: suppress operations run between steps; use False")
        cbs = list(callbacks) if isinstance(callbacks, (list, tuple)) else ([callbacks] if callbacks else [])
        if not any(isinstance(c, SuppressMasker) for c in cbs):
            cbs.append(SuppressMasker(self, self._suppress_ctrl))
        return super().train(epoch, train_dataset, callbacks=cbs, dataset_sink_mode=False, **kwargs)

    def sparsity(self) -> dict[str, float]:
        """Achieved sparsity (exact zeros) per suppressed layer and overall."""
        if self._suppress_ctrl is None:
            raise InvalidInputError("no suppress schedule attached")
        return self._suppress_ctrl.sparsity()



class SuppressPrivacyFactory:
    """MindArmour's entry point, kept for migration: ``SuppressPrivacyFactory().create(...)`` returns a
    :class:`SuppressCtrl` using the ``magnitude`` suppressor (MindArmour's only policy).

    ``batch_num`` and ``lr`` are accepted for signature compatibility: the steps per epoch are read from
    the dataset during training, and armour's masking needs no learning rate (it is exact for any optimizer).
    """

    @staticmethod
    def create(networks: nn.Cell, mask_layers: list[str | MaskLayer], policy: str = "local_train",
               end_epoch: int = 10, batch_num: int = 20, start_epoch: int = 3, mask_times: int = 500,
               lr: float = 0.10, sparse_end: float = 0.90, sparse_start: float = 0.0) -> SuppressCtrl:
        if policy != "local_train":
            raise InvalidInputError(f"policy: only 'local_train' exists, got {policy!r}")
        if not isinstance(batch_num, int) or batch_num < 1:
            raise InvalidInputError(f"batch_num: expected an int >= 1, got {batch_num!r}")
        if not lr > 0:
            raise InvalidInputError(f"lr: expected a value > 0, got {lr!r}")
        return SuppressCtrl(networks, mask_layers, suppressor="magnitude", start_epoch=start_epoch,
                            end_epoch=end_epoch, mask_times=mask_times, sparse_start=sparse_start,
                            sparse_end=sparse_end)
