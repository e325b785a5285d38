"""Which networks DP-SGD can train soundly, and how to repair the rest (modelled on Opacus' ``ModuleValidator``).

Per-example clipping bounds the sensitivity of the clipped gradient sum by ``C`` per example only if each
example's gradient depends on that example alone, and only the noised gradient leaves training. Two kinds of
layer break this silently:

* **BatchNorm** (every ``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, ``mint`` variants; affine or not, trainable
  or frozen): in training mode it normalises with the statistics of the whole batch, so replacing one example
  moves every other example's gradient (measured: 3.1·C where the bound is 2·C), and it writes
  ``moving_mean``/``moving_variance`` computed from raw data, saved in checkpoints without noise.
* **Any layer that updates a non-trainable parameter in training mode** (``InstanceNorm`` keeps moving
  statistics of the whole batch; custom cells with running buffers): a statistic of the data released
  without noise. ``InstanceNorm``'s normalisation itself is per example; ``GroupNorm(C, C)`` computes the same
  without the buffers.

:func:`validate` lists every offending layer (its cell path, the reason, the fix); :func:`check` raises
:class:`DPValidationError` with that list; :func:`fix` returns a deep copy with every BatchNorm replaced by
``GroupNorm(gcd(32, C), C)`` (Opacus' choice) and every InstanceNorm by ``GroupNorm(C, C)``. ``DPModel``
runs :func:`check` before its first step, before anything is charged to the privacy ledger.

Layers that do not mix examples and are accepted: Dense, Conv1d/2d (any kernel, stride, padding, groups),
GroupNorm, LayerNorm, Embedding, activations, pooling, Flatten, Dropout, cells called more than once.
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

import attrs
import numpy as np
from armour_core.errors import InvalidInputError

log = logging.getLogger(__name__)

FIX = "armour_plugins_privacy.dp.validator.fix(network) (GroupNorm in its place)"


@attrs.frozen
class Problem:
    """One layer DP-SGD cannot train soundly."""

    layer: str  #: cell path in the network (``cells_and_names``), ``"<network>"`` for the root cell
    cell_type: str
    reason: str
    fix: str

    def __str__(self) -> str:
        return f"layer {self.layer!r} ({self.cell_type}): {self.reason}; fix: {self.fix}"


class DPValidationError(InvalidInputError):
    """The network has layers that DP-SGD cannot train soundly (``problems`` lists them)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("network: not trainable with DP-SGD: " + " | ".join(str(p) for p in self.problems))


def _kind(cell: Any) -> str | None:
    """``"batchnorm"``, ``"instancenorm"`` or None, from the class hierarchy (covers ``nn``, ``mint``,
    ``SyncBatchNorm`` and user subclasses)."""
    names = [k.__name__ for k in type(cell).__mro__]
    if any("BatchNorm" in n for n in names):
        return "batchnorm"
    if any("InstanceNorm" in n for n in names):
        return "instancenorm"
    return None


def _static(network: Any) -> tuple[list[Problem], set[str]]:
    problems, flagged = [], set()
    for name, cell in network.cells_and_names():
        if any(name == f or name.startswith(f + ".") for f in flagged if f):
            continue  # inside a cell already reported (BatchNorm3d wraps a BatchNorm2d)
        kind = _kind(cell)
        if kind is None:
            continue
        path = name or "<network>"
        if kind == "batchnorm":
            reason = ("normalises with statistics of the whole batch in training mode (one example moves every "
                      "other example's clipped gradient, so the 2C sensitivity bound fails) and updates "
                      "moving_mean/moving_variance from raw data, saved without noise")
        else:
            reason = ("updates moving_mean/moving_variance, statistics of the whole batch computed from raw data, "
                      "saved in checkpoints without noise")
        problems.append(Problem(path, type(cell).__name__, reason, FIX))
        flagged.add(name)
    return problems, flagged


def _owners(network: Any) -> dict[int, tuple[str, Any]]:
    """Parameter id -> (path, cell) of the cell that owns it directly."""
    out = {}
    for name, cell in network.cells_and_names():
        for p in cell.get_parameters(expand=False):
            out.setdefault(id(p), (name or "<network>", cell))
    return out


def _buffers_updated(network: Any, sample_x: Any, skip: set[str]) -> list[Problem]:
    """Layers whose non-trainable parameters change in one training-mode forward pass on ``sample_x``.
    Every parameter is put back in place afterwards (in-place assignment, so compiled graphs stay attached)."""
    import mindspore as ms
    from mindspore import ops

    frozen = [p for p in network.get_parameters() if not p.requires_grad]
    if not frozen:
        return []
    saved = [(p, p.asnumpy().copy()) for p in frozen]
    was = network.training
    try:
        network.set_train(True)
        network(ms.Tensor(np.ascontiguousarray(np.asarray(sample_x)[:2], dtype=np.float32)))
        changed = [p for p, before in saved if not np.array_equal(before, p.asnumpy())]
    except Exception as exc:  # noqa: BLE001 - the input checks and the step report failures with context
        log.debug("training-mode probe of the network failed: %s", exc)
        changed = []
    finally:
        network.set_train(was)
        for p, before in saved:
            ops.assign(p, ms.Tensor(before))
    owners = _owners(network)
    names: dict[str, list[str]] = {}
    types: dict[str, str] = {}
    for p in changed:
        path, cell = owners.get(id(p), (p.name, None))
        if any(path == f or path.startswith(f + ".") for f in skip if f):
            continue
        names.setdefault(path, []).append(p.name.rsplit(".", 1)[-1])
        types[path] = type(cell).__name__ if cell is not None else "Parameter"
    return [Problem(path, types[path], f"updates its non-trainable parameter(s) {', '.join(repr(n) for n in ns)} in "
                    "training mode (a statistic of the batch, released without noise)",
                    "keep such statistics out of DP training (remove the layer or compute them per example)")
            for path, ns in names.items()]


def validate(network: Any, sample_x: Any = None) -> list[Problem]:
    """Every layer of ``network`` that DP-SGD cannot train soundly, with the reason and the fix (empty: fine).

    By type: every BatchNorm and InstanceNorm. With ``sample_x`` (a few valid inputs), also any layer whose
    non-trainable parameters change in one training-mode forward pass (restored afterwards).
    """
    from mindspore import nn

    if not isinstance(network, nn.Cell):
        raise InvalidInputError(f"network: expected a mindspore.nn.Cell, got {type(network).__name__}")
    problems, flagged = _static(network)
    if sample_x is not None and not problems:
        problems += _buffers_updated(network, sample_x, flagged)
    return problems


def check(network: Any, sample_x: Any = None) -> None:
    """Raise :class:`DPValidationError` naming every offending layer (see :func:`validate`)."""
    problems = validate(network, sample_x)
    if problems:
        raise DPValidationError(problems)


def _first(cell: Any, *names: str) -> Any:
    for name in names:
        value = getattr(cell, name, None)
        if value is not None:
            return value
    return None


def _replacement(cell: Any) -> Any:
    """The GroupNorm for a BatchNorm (``gcd(32, C)`` groups) or an InstanceNorm (``C`` groups), with the old
    layer's affine values and trainability."""
    import mindspore as ms
    from mindspore import nn

    inner = getattr(cell, "bn2d", None)  # nn.BatchNorm3d keeps its parameters in a BatchNorm2d
    channels = int(getattr(cell, "num_features", 0) or getattr(inner, "num_features", 0))
    if channels < 1:
        raise InvalidInputError(f"network: cannot read the channel count of {type(cell).__name__} to replace it")
    groups = math.gcd(32, channels) if _kind(cell) == "batchnorm" else channels
    gamma = _first(cell, "gamma", "weight")
    beta = _first(cell, "beta", "bias")
    if gamma is None and inner is not None:
        gamma, beta = inner.gamma, inner.beta
    affine = bool(gamma is not None and gamma.requires_grad)
    new = nn.GroupNorm(groups, channels, eps=float(getattr(cell, "eps", 1e-5)), affine=affine)
    if gamma is not None and tuple(gamma.shape) == (channels,):
        new.gamma.set_data(ms.Tensor(gamma.asnumpy().copy()))
    if beta is not None and tuple(beta.shape) == (channels,):
        new.beta.set_data(ms.Tensor(beta.asnumpy().copy()))
    return new


def fix(network: Any) -> Any:
    """A deep copy of ``network`` with every BatchNorm replaced by ``GroupNorm(gcd(32, C), C)`` and every
    InstanceNorm by ``GroupNorm(C, C)``; the new parameters are named after the layer they replace
    (``features.1.gamma``). The original network is not modified. Other problems :func:`validate` reports
    (custom layers with running buffers) have no automatic fix and remain."""
    from mindspore import nn

    if not isinstance(network, nn.Cell):
        raise InvalidInputError(f"network: expected a mindspore.nn.Cell, got {type(network).__name__}")
    if _kind(network) is not None:
        return _replacement(network)
    net = copy.deepcopy(network)
    problems, _ = _static(net)
    cells = dict(net.cells_and_names())
    for problem in problems:
        parent_path, _, attr = problem.layer.rpartition(".")
        parent = cells[parent_path]
        old = cells[problem.layer]
        new = _replacement(old)
        own = getattr(old, "gamma", None)
        prefix = own.name.rsplit(".", 1)[0] + "." if own is not None and "." in own.name else problem.layer + "."
        new.update_parameters_name(prefix)
        parent._cells[attr] = new
        if hasattr(parent, "cell_list"):  # SequentialCell / CellList iterate a cached list
            parent.cell_list = list(parent._cells.values())
    return net
