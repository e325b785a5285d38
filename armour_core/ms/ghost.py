"""Book-keeping ("ghost") per-example clipping: per-example gradient norms and the clipped gradient sum
from one forward and one backward pass, without materialising per-example gradients of dense layers.

How it works (Bu et al. 2022, book-keeping; Li et al. 2021, ghost norms; Opacus' per-layer rules):

* The network is seen as a chain of leaf cells. Each layer with parameters gets a zero *probe* added to
  its output (pre-activation). One backward pass of ``sum_i loss_i`` with respect to the probes gives every
  example's output gradient ``g_i``; the layer inputs ``a_i`` come back as auxiliary outputs.
* ``Dense`` on (B, in) inputs: the per-example weight gradient is the outer product ``g_i a_iᵀ`` whose
  squared norm is ``|a_i|²·|g_i|²`` (bias: ``|g_i|²``) — nothing of size B×|W| is ever built. The clipped
  sum ``Σ_i f_i g_i a_iᵀ`` is a single matmul ``(f·g)ᵀ a``.
* ``Conv2d`` (group 1, NCHW): per-example weight gradients are built from unfolded inputs with one
  batched matmul (``bmm(g_i, unfold(a_i)ᵀ)``); they are the size of the kernel, small next to activations.
* Layers without parameters (activations, pooling, flatten, dropout...) are replayed as they are.

Which networks qualify is decided once, by running the network in PyNative with forward hooks on its leaf
cells: the calls must form a chain (each call's input is the previous call's output, possibly reshaped),
every trainable parameter must belong to a supported layer called exactly once, and replaying the chain
must reproduce the network's output. Anything else (functional ops between cells, weight sharing, batch
norm, unsupported parametrised layers) makes :func:`analyse` return the reason, and callers fall back to
the ``vmap`` path of :mod:`armour_core.ms.per_example`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import attrs
import mindspore as ms
import numpy as np
from mindspore import nn, ops

PASS, DENSE, DENSE_ACT, CONV = 0, 1, 2, 3


def row_sq(t):
    """Squared L2 norm of each row of a 2-D tensor, as a matmul with a ones vector (MindSpore's CPU
    ReduceSum is 20-30x slower than a matmul here)."""
    return ops.matmul(t * t, ops.ones((t.shape[1], 1), t.dtype)).reshape(-1)


def clip_factors(sq: tuple, clip_norm, mask, per_layer: bool):
    """Per-parameter scaling factors ``min(1, bound/‖g‖)·mask`` and each example's clip ratio.

    ``sq`` holds, per parameter, the (B,) squared norms of the examples' gradients.
    """
    n_params = len(sq)
    factors = ()
    if per_layer:
        bound = clip_norm * (1.0 / math.sqrt(n_params))
        ratio = ops.zeros_like(mask)
        for j in range(n_params):
            norm = ops.sqrt(sq[j])
            factors = factors + (ops.clamp(bound / (norm + 1e-12), max=1.0) * mask,)
            ratio = ops.maximum(ratio, norm / bound)
    else:
        total = sq[0]
        for j in range(1, n_params):
            total = total + sq[j]
        norm = ops.sqrt(total)
        f = ops.clamp(clip_norm / (norm + 1e-12), max=1.0) * mask
        for _ in range(n_params):
            factors = factors + (f,)
        ratio = norm / clip_norm
    return factors, ratio * mask


class GhostUnsupported(Exception):
    """The network cannot use ghost clipping (the message says why); use the vmap path instead."""


@attrs.frozen
class GhostPlan:
    """A network as a static chain of leaf cells (built by :func:`analyse`)."""

    layers: tuple  #: leaf cells in call order
    kinds: tuple[int, ...]  #: PASS / DENSE / DENSE_ACT / CONV per call
    reshapes: tuple  #: per call: None, or the per-example shape its input must be reshaped to
    conv: tuple  #: per call: None, or (kernel, dilation, padding, stride) for ``ops.unfold``
    param_slots: tuple[tuple[int, int], ...]  #: for each network parameter: (call index, 0=weight/1=bias)
    probe_shapes: tuple[tuple[int, ...], ...]  #: per parametrised call: per-example output shape
    param_shapes: tuple[tuple[int, ...], ...]  #: shape of each network parameter


def _leaf_cells(network: nn.Cell) -> list[nn.Cell]:
    """Cells without children, and Dense/Conv2d layers whole (a Dense with ``activation=`` owns the activation
    cell: the pair is one DENSE_ACT call, not two calls)."""
    leaves, whole = [], []
    for name, cell in network.cells_and_names():
        if not name or any(name.startswith(w + ".") for w in whole):
            continue
        if isinstance(cell, (nn.Dense, nn.Conv2d)) or not cell.name_cells():
            leaves.append(cell)
            whole.append(name)
    return leaves


def _conv_config(cell: nn.Conv2d, in_shape: tuple[int, ...]):
    if getattr(cell, "group", 1) != 1:
        raise GhostUnsupported(f"{type(cell).__name__} with group={cell.group} (only group=1)")
    if getattr(cell, "data_format", "NCHW") != "NCHW":
        raise GhostUnsupported(f"{type(cell).__name__} with data_format={cell.data_format}")
    kernel, dilation, stride = tuple(cell.kernel_size), tuple(cell.dilation), tuple(cell.stride)
    if cell.pad_mode == "valid":
        padding = (0, 0)
    elif cell.pad_mode == "pad":
        pad = cell.padding
        pad = (pad,) * 4 if isinstance(pad, int) else tuple(pad)
        if len(pad) == 2:
            pad = (pad[0], pad[0], pad[1], pad[1])
        if pad[0] != pad[1] or pad[2] != pad[3]:
            raise GhostUnsupported(f"{type(cell).__name__} with asymmetric padding {pad}")
        padding = (pad[0], pad[2])
    else:  # "same"
        padding = []
        for dim, (k, d, s) in enumerate(zip(kernel, dilation, stride)):
            size = in_shape[1 + dim]
            out = -(-size // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
            if total % 2:
                raise GhostUnsupported(f"{type(cell).__name__} 'same' padding is asymmetric here")
            padding.append(total // 2)
        padding = tuple(padding)
    return kernel, dilation, padding, stride


def analyse(network: nn.Cell, sample_x: np.ndarray, params: Sequence[ms.Parameter] | None = None) -> GhostPlan:
    """Decide whether ``network`` is a chain of supported layers; raise :class:`GhostUnsupported` if not.

    ``sample_x`` is a small batch (2-4 examples suffice) of valid inputs.
    """
    params = list(params if params is not None else network.trainable_params())
    leaves = _leaf_cells(network)
    if any(isinstance(c, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)) and c.trainable_params()
           for c in leaves):
        raise GhostUnsupported("normalisation layers with parameters (BatchNorm/LayerNorm/GroupNorm)")
    calls: list[tuple[nn.Cell, np.ndarray, np.ndarray]] = []
    handles = []
    for cell in leaves:
        def hook(cell_, inputs, output, _cell=cell):
            if len(inputs) != 1 or not isinstance(output, ms.Tensor):
                calls.append((_cell, None, None))
            else:
                calls.append((_cell, inputs[0].asnumpy(), output.asnumpy()))
        handles.append(cell.register_forward_hook(hook))
    was_training = network.training
    network.set_train(False)
    try:
        x = ms.Tensor(np.ascontiguousarray(sample_x, dtype=np.float32))
        out = network(x).asnumpy()
    finally:
        for h in handles:
            h.remove()
        network.set_train(was_training)
    if not calls:
        raise GhostUnsupported("the network has no leaf cells")
    kinds, reshapes, convs, probe_shapes = [], [], [], []
    seen: dict[int, int] = {}
    slots: dict[int, tuple[int, int]] = {}
    prev = np.asarray(sample_x, dtype=np.float32)
    for i, (cell, a, z) in enumerate(calls):
        if a is None:
            raise GhostUnsupported(f"{type(cell).__name__} takes several inputs or returns several outputs")
        if a.size != prev.size or not np.array_equal(a.reshape(-1), prev.reshape(-1)):
            raise GhostUnsupported(f"{type(cell).__name__} (call {i}) does not take the previous layer's output "
                                   "(functional ops between cells)")
        reshapes.append(tuple(a.shape[1:]) if a.shape != prev.shape else None)
        own = cell.trainable_params()
        if not own:
            kinds.append(PASS)
            convs.append(None)
        else:
            if id(cell) in seen:
                raise GhostUnsupported(f"{type(cell).__name__} is called more than once (weight sharing)")
            seen[id(cell)] = i
            if isinstance(cell, nn.Dense):
                if a.ndim != 2:
                    raise GhostUnsupported(f"Dense on {a.ndim}-D inputs (only 2-D)")
                kinds.append(DENSE_ACT if cell.activation_flag else DENSE)
                convs.append(None)
                names = [cell.weight] + ([cell.bias] if cell.has_bias else [])
            elif isinstance(cell, nn.Conv2d):
                kinds.append(CONV)
                convs.append(_conv_config(cell, a.shape[1:]))
                names = [cell.weight] + ([cell.bias] if cell.has_bias else [])
            else:
                raise GhostUnsupported(f"no per-example rule for layer type {type(cell).__name__}")
            if len(own) != len(names):
                raise GhostUnsupported(f"{type(cell).__name__} has parameters besides weight and bias")
            for slot, p in enumerate(names):
                slots[id(p)] = (i, slot)
            probe_shapes.append(tuple(z.shape[1:]))
        prev = z
    if prev.shape != out.shape or not np.allclose(prev, out, rtol=1e-5, atol=1e-6):
        raise GhostUnsupported("replaying the leaf cells does not reproduce the network output "
                               "(construct does more than chain its cells)")
    missing = [p.name for p in params if id(p) not in slots]
    if missing:
        raise GhostUnsupported(f"parameters outside supported layers: {missing}")
    return GhostPlan(layers=tuple(c for c, _, _ in calls), kinds=tuple(kinds), reshapes=tuple(reshapes),
                     conv=tuple(convs), param_slots=tuple(slots[id(p)] for p in params),
                     probe_shapes=tuple(probe_shapes), param_shapes=tuple(tuple(p.shape) for p in params))


def build_ghost_clipper(plan: GhostPlan, per_example_loss: Callable, *, batch_size: int,
                        per_layer: bool = False) -> Callable:
    """``clip(x, y, mask, clip_norm) -> (clipped sums per parameter, clip ratio (B,), losses (B,))``.

    A ``def`` meant to be called inside the caller's ``mindspore.jit`` graph. ``mask`` (B,) is 1 for real
    examples and 0 for padding; padded examples contribute nothing. The clip ratio is ``norm/C`` (flat)
    or ``max_k norm_k/bound_k`` (per layer): an example was clipped iff its ratio exceeds 1.
    """
    layers, kinds, reshapes, convs = plan.layers, plan.kinds, plan.reshapes, plan.conv
    n_calls = len(layers)
    slots = plan.param_slots
    n_params = len(slots)
    probe_shapes = tuple((batch_size, *s) for s in plan.probe_shapes)
    n_probes = len(probe_shapes)
    probe_of_call = []
    k = 0
    for kind in kinds:
        probe_of_call.append(k if kind != PASS else -1)
        k += kind != PASS
    probe_of_call = tuple(probe_of_call)
    param_probe = tuple(probe_of_call[c] for c, _ in slots)
    param_slot = tuple(s for _, s in slots)
    param_call = tuple(c for c, _ in slots)
    param_shapes = plan.param_shapes

    def forward(x, y, probes):
        a = ops.stop_gradient(x)  # no input gradient: only the probes' gradients are needed
        acts = ()
        for i in range(n_calls):
            if reshapes[i] is not None:
                a = a.reshape((a.shape[0],) + reshapes[i])
            if kinds[i] == PASS:
                a = layers[i](a)
            elif kinds[i] == DENSE_ACT:
                acts = acts + (a,)
                cell = layers[i]
                z = ops.matmul(a, cell.weight.T)
                if cell.has_bias:
                    z = z + cell.bias
                a = cell.activation(z + probes[probe_of_call[i]])
            else:
                acts = acts + (a,)
                a = layers[i](a) + probes[probe_of_call[i]]
        losses = per_example_loss(a, y)
        return (losses.sum(), losses) + acts

    grads_of_probes = ms.grad(forward, grad_position=2, has_aux=True)

    def per_param(x, y):
        # zero probes derived from an input: constant zeros would be folded away and get no gradient
        zero = (y * 0).astype(ms.float32)
        probes = ()
        for j in range(n_probes):
            shape = probe_shapes[j]
            probes = probes + (ops.broadcast_to(zero.reshape((shape[0],) + (1,) * (len(shape) - 1)), shape),)
        gs, aux = grads_of_probes(x, y, probes)
        losses = aux[0]
        sq = ()  # per parameter: (B,) squared norm of each example's gradient
        pieces = ()  # per parameter: what the clipped sum is built from
        for j in range(n_params):
            p = param_probe[j]
            g = gs[p]
            a = aux[1 + p]
            kind = kinds[param_call[j]]
            if kind == CONV:
                gf = g.reshape(g.shape[0], g.shape[1], -1)  # (B, Cout, L)
                if param_slot[j] == 0:
                    kernel, dilation, padding, stride = convs[param_call[j]]
                    cols = ops.unfold(a, kernel, dilation, padding, stride)  # (B, Cin*kh*kw, L)
                    pe = ops.bmm(gf, cols.transpose(0, 2, 1))  # (B, Cout, Cin*kh*kw)
                    pe = pe.reshape(pe.shape[0], -1)
                else:
                    pe = gf.sum(2)
                sq = sq + (row_sq(pe),)
                pieces = pieces + (pe,)
            else:
                gg = row_sq(g)
                if param_slot[j] == 0:
                    sq = sq + (row_sq(a) * gg,)
                else:
                    sq = sq + (gg,)
                pieces = pieces + (g,)
        return sq, pieces, aux, losses

    def clip(x, y, mask, clip_norm):
        sq, pieces, aux, losses = per_param(x, y)
        factors, ratio = clip_factors(sq, clip_norm, mask, per_layer)
        sums = ()
        for j in range(n_params):
            f = factors[j]
            pe = pieces[j]
            if kinds[param_call[j]] == CONV:
                s = ops.matmul(f.reshape(1, -1), pe).reshape(param_shapes[j])
            elif param_slot[j] == 0:
                a = aux[1 + param_probe[j]]
                s = ops.matmul((pe * f.reshape(-1, 1)).T, a)
            else:
                s = ops.matmul(f.reshape(1, -1), pe).reshape(-1)
            sums = sums + (s,)
        return sums, ratio, losses

    return clip
