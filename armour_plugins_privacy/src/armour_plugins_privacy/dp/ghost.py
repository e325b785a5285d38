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

What a parametrised layer type contributes is a :class:`GhostRule` registered for that type with
:func:`ghost_rule` (as Opacus' ``register_grad_sampler``): ``Dense`` and ``Conv2d`` here; a third party
registers a rule for its own layer type the same way. The rule of the nearest registered class in a cell's
MRO applies.

Which networks qualify is decided once, by running the network in PyNative with forward hooks on its leaf
cells: the calls must form a chain (each call's input is the previous call's output, possibly reshaped),
every trainable parameter must belong to a layer with a rule, called exactly once, and replaying the chain
must reproduce the network's output. Anything else (functional ops between cells, weight sharing, batch
norm, parametrised layers without a rule) makes :func:`analyse` raise the reason, and callers fall back to
the ``vmap`` path of :mod:`armour_plugins_privacy.dp.per_example`.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence

import attrs
import mindspore as ms
import numpy as np
from mindspore import nn, ops

from armour_core.ms.activations import leaf_cells


_matmul_ta = ops.MatMul(transpose_a=True)  # aᵀb without materialising the transpose


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


class GhostRule(abc.ABC):
    """How ghost clipping treats one parametrised layer type; subclass it, define :meth:`norm` and
    :meth:`clipped_sum` (abstract), and register it with :func:`ghost_rule`. Every method is a plain function
    of its arguments (``@staticmethod``): the three last run inside the caller's compiled graph, where lambdas
    and object state do not parse.

    ``slot`` numbers the layer's parameters in the order of :meth:`params`; ``config`` is what
    :meth:`prepare` returned for this call (static: ints, tuples, bools, None).
    """

    @staticmethod
    def params(cell) -> list:
        """The layer's trainable parameters in slot order (default: ``weight``, then ``bias`` if present)."""
        return [cell.weight] + ([cell.bias] if getattr(cell, "has_bias", False) else [])

    @staticmethod
    def prepare(cell, a: np.ndarray):
        """Static configuration of one call, given a sample of its (B, ...) input; raise
        :class:`GhostUnsupported` for a configuration the rule does not cover."""
        return None

    @staticmethod
    def forward(cell, a, probe, config):
        """The layer's output with the zero ``probe`` added to its pre-activation output."""
        return cell(a) + probe

    @staticmethod
    @abc.abstractmethod
    def norm(g, a, slot, config):
        """``(sq, piece)`` for parameter ``slot``: the (B,) squared norms of the examples' gradients, from the
        output gradients ``g`` and inputs ``a``, and what :meth:`clipped_sum` builds the sum from."""

    @staticmethod
    @abc.abstractmethod
    def clipped_sum(f, piece, a, slot, shape):
        """``Σ_i f_i ∇_i`` of parameter ``slot`` (of shape ``shape``), given the (B,) clip factors ``f``."""


_RULES: dict[type, GhostRule] = {}


def ghost_rule(layer_type: type) -> Callable[[type[GhostRule]], type[GhostRule]]:
    """Class decorator: register a :class:`GhostRule` subclass for ``layer_type`` (and its subclasses without a
    rule of their own). Registering a type again replaces its rule."""
    if not isinstance(layer_type, type):
        raise TypeError(f"layer_type: expected a class, got {layer_type!r}")

    def register(rule: type[GhostRule]) -> type[GhostRule]:
        if not (isinstance(rule, type) and issubclass(rule, GhostRule)):
            raise TypeError(f"ghost_rule({layer_type.__name__}): expected a GhostRule subclass, got {rule!r}")
        missing = sorted(getattr(rule, "__abstractmethods__", ()))
        if missing:
            raise TypeError(f"ghost_rule({layer_type.__name__}): {rule.__name__} must define {', '.join(missing)}")
        _RULES[layer_type] = rule()
        return rule

    return register


def rule_for(cell) -> GhostRule | None:
    """The rule of the nearest class in ``type(cell).__mro__`` that has one (``None``: no rule)."""
    for klass in type(cell).__mro__:
        rule = _RULES.get(klass)
        if rule is not None:
            return rule
    return None


@ghost_rule(nn.Dense)
class DenseRule(GhostRule):
    """``Dense`` on (B, in): per-example weight-gradient norm² ``|a_i|²·|g_i|²``, bias ``|g_i|²``; a Dense with
    ``activation=`` owns its activation, so the probe goes before it."""

    @staticmethod
    def prepare(cell, a):
        if a.ndim != 2:
            raise GhostUnsupported(f"Dense on {a.ndim}-D inputs (only 2-D)")
        return bool(cell.activation_flag)

    @staticmethod
    def forward(cell, a, probe, config):
        if config:
            z = ops.matmul(a, cell.weight.T)
            if cell.has_bias:
                z = z + cell.bias
            return cell.activation(z + probe)
        return cell(a) + probe

    @staticmethod
    def norm(g, a, slot, config):
        gg = row_sq(g)
        if slot == 0:
            return row_sq(a) * gg, g
        return gg, g

    @staticmethod
    def clipped_sum(f, piece, a, slot, shape):
        if slot == 0:
            return _matmul_ta(piece * f.reshape(-1, 1), a)
        return ops.matmul(f.reshape(1, -1), piece).reshape(-1)


@ghost_rule(nn.Conv2d)
class Conv2dRule(GhostRule):
    """``Conv2d`` (group 1, NCHW): per-example kernel gradients from unfolded inputs with one batched matmul
    (``bmm(g_i, unfold(a_i)ᵀ)``); they are the size of the kernel, small next to the activations."""

    @staticmethod
    def prepare(cell, a):
        return _conv_config(cell, a.shape[1:])

    @staticmethod
    def norm(g, a, slot, config):
        gf = g.reshape(g.shape[0], g.shape[1], -1)  # (B, Cout, L)
        if slot == 0:
            kernel, dilation, padding, stride = config
            cols = ops.unfold(a, kernel, dilation, padding, stride)  # (B, Cin*kh*kw, L)
            pe = ops.bmm(gf, cols.transpose(0, 2, 1))  # (B, Cout, Cin*kh*kw)
            pe = pe.reshape(pe.shape[0], -1)
        else:
            pe = gf.sum(2)
        return row_sq(pe), pe

    @staticmethod
    def clipped_sum(f, piece, a, slot, shape):
        return ops.matmul(f.reshape(1, -1), piece).reshape(shape)


@attrs.frozen
class GhostPlan:
    """A network as a static chain of leaf cells (built by :func:`analyse`)."""

    layers: tuple  #: leaf cells in call order
    rules: tuple  #: per call: its :class:`GhostRule`, or None for a call without parameters
    configs: tuple  #: per call: what the rule's ``prepare`` returned (None without a rule)
    reshapes: tuple  #: per call: None, or the per-example shape its input must be reshaped to
    param_slots: tuple[tuple[int, int], ...]  #: for each network parameter: (call index, slot in rule.params)
    probe_shapes: tuple[tuple[int, ...], ...]  #: per parametrised call: per-example output shape
    param_shapes: tuple[tuple[int, ...], ...]  #: shape of each network parameter


def _leaf_cells(network: nn.Cell) -> list[nn.Cell]:
    """Cells without children, and cells whose type has a rule whole (a Dense with ``activation=`` owns the
    activation cell: the pair is one call, not two)."""
    return [cell for _, cell in leaf_cells(network, whole=_has_rule)]


def _has_rule(cell: nn.Cell) -> bool:
    return rule_for(cell) is not None


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
    rules, configs, reshapes, probe_shapes = [], [], [], []
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
            rules.append(None)
            configs.append(None)
        else:
            if id(cell) in seen:
                raise GhostUnsupported(f"{type(cell).__name__} is called more than once (weight sharing)")
            seen[id(cell)] = i
            rule = rule_for(cell)
            if rule is None:
                raise GhostUnsupported(f"no ghost rule for layer type {type(cell).__name__} (register one with "
                                       "armour_plugins_privacy.dp.ghost.ghost_rule)")
            configs.append(rule.prepare(cell, a))
            rules.append(rule)
            names = list(rule.params(cell))
            if len(own) != len(names) or {id(p) for p in own} != {id(p) for p in names}:
                raise GhostUnsupported(f"{type(cell).__name__} has parameters besides those its rule handles")
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
    return GhostPlan(layers=tuple(c for c, _, _ in calls), rules=tuple(rules), configs=tuple(configs),
                     reshapes=tuple(reshapes), param_slots=tuple(slots[id(p)] for p in params),
                     probe_shapes=tuple(probe_shapes), param_shapes=tuple(tuple(p.shape) for p in params))


def build_ghost_clipper(plan: GhostPlan, per_example_loss: Callable, *, batch_size: int,
                        per_layer: bool = False) -> Callable:
    """``clip(x, y, mask, clip_norm) -> (clipped sums per parameter, clip ratio (B,), losses (B,))``.

    A ``def`` meant to be called inside the caller's ``mindspore.jit`` graph. ``mask`` (B,) is 1 for real
    examples and 0 for padding; padded examples contribute nothing. The clip ratio is ``norm/C`` (flat)
    or ``max_k norm_k/bound_k`` (per layer): an example was clipped iff its ratio exceeds 1.
    """
    layers, reshapes, configs = plan.layers, plan.reshapes, plan.configs
    n_calls = len(layers)
    has_rule = tuple(r is not None for r in plan.rules)
    # the rules' functions as tuples indexed by call: the graph sees plain functions, never the rule objects
    forwards = tuple(r.forward if r is not None else None for r in plan.rules)
    slots = plan.param_slots
    n_params = len(slots)
    probe_shapes = tuple((batch_size, *s) for s in plan.probe_shapes)
    n_probes = len(probe_shapes)
    probe_of_call = []
    k = 0
    for present in has_rule:
        probe_of_call.append(k if present else -1)
        k += present
    probe_of_call = tuple(probe_of_call)
    param_probe = tuple(probe_of_call[c] for c, _ in slots)
    param_slot = tuple(s for _, s in slots)
    param_config = tuple(configs[c] for c, _ in slots)
    param_norm = tuple(plan.rules[c].norm for c, _ in slots)
    param_sum = tuple(plan.rules[c].clipped_sum for c, _ in slots)
    param_shapes = plan.param_shapes

    def forward(x, y, probes):
        a = ops.stop_gradient(x)  # no input gradient: only the probes' gradients are needed
        acts = ()
        for i in range(n_calls):
            if reshapes[i] is not None:
                a = a.reshape((a.shape[0],) + reshapes[i])
            if has_rule[i]:
                acts = acts + (a,)
                a = forwards[i](layers[i], a, probes[probe_of_call[i]], configs[i])
            else:
                a = layers[i](a)
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
            sq_j, piece = param_norm[j](gs[p], aux[1 + p], param_slot[j], param_config[j])
            sq = sq + (sq_j,)
            pieces = pieces + (piece,)
        return sq, pieces, aux, losses

    def clip(x, y, mask, clip_norm):
        sq, pieces, aux, losses = per_param(x, y)
        factors, ratio = clip_factors(sq, clip_norm, mask, per_layer)
        sums = ()
        for j in range(n_params):
            sums = sums + (param_sum[j](factors[j], pieces[j], aux[1 + param_probe[j]], param_slot[j],
                                        param_shapes[j]),)
        return sums, ratio, losses

    return clip
