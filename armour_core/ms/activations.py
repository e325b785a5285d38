"""Capture every leaf layer's output in ONE compiled forward pass, without editing the user's network.

Forward hooks are ignored under ``mindspore.jit`` and MindArmour's route (``TensorSummary`` ops inside the
network plus GRAPH mode) needs the user to edit their model. armour instead learns the network's dataflow
once, in PyNative, with hooks on every leaf cell:

* when the leaf cells form a chain (each call consumes the previous call's output, the first consumes the
  network input, the last produces the network output — ``nn.SequentialCell`` models and hand-written
  ``construct`` methods such as LeNet5), it compiles a function that re-runs those same cell objects in
  order and returns the final output plus the chosen intermediates. Measured on LeNet5 at batch 256 this
  costs about 1.05x a plain jitted forward (see ``docs/fuzz_mutators_coverage.md``);
* otherwise (residual connections, functional ops between cells, multi-input cells) it keeps the
  PyNative-hook capture, which is always correct.

The first compiled call is checked against the hook capture on the same batch; any disagreement falls back
to hooks, so the compiled path can never silently change results. The network's parameters are shared,
never copied, and their names are untouched.
"""

from __future__ import annotations

import logging
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn

from ..api.coverage import Activations
from ..errors import InvalidInputError

log = logging.getLogger(__name__)

#: Leaf cells that never hold neurons of their own (run, but not reported as layers).
NOT_NEURONS = ("Flatten", "Dropout", "Identity", "Reshape")


class Captured(Activations):
    """Layer name -> ``(N, ...)`` array, plus the ``logits`` of the same forward pass.

    Returning the logits with the activations lets a fuzzer take its oracle's predictions and every
    criterion's coverage from a single forward pass.
    """


def leaf_cells(network: nn.Cell, whole=None) -> list[tuple[str, nn.Cell]]:
    """Every leaf cell (no child cells) with its dotted name, in definition order: the one walk over a network's
    layers. ``whole(cell)`` true makes a cell with children one leaf (its children are not visited), e.g. a
    ``Dense`` with ``activation=`` that a DP ghost rule handles as one layer."""
    leaves, inside = [], []
    for name, cell in network.cells_and_names():
        if not name or any(name.startswith(w + ".") for w in inside):
            continue
        if not cell.name_cells() or (whole is not None and whole(cell)):
            leaves.append((name, cell))
            inside.append(name)
    return leaves


def neuron_layer_names(network: nn.Cell) -> list[str]:
    return [name for name, cell in leaf_cells(network) if type(cell).__name__ not in NOT_NEURONS]


def call_names(calls: list[tuple[str, Any]]) -> list[str]:
    """``name`` for a cell's first call in a forward pass, ``name#1``, ``name#2``... for later calls."""
    seen: dict[str, int] = {}
    out = []
    for name, _ in calls:
        i = seen.get(name, 0)
        seen[name] = i + 1
        out.append(name if i == 0 else f"{name}#{i}")
    return out


class _Chain(nn.Cell):
    """Re-runs a chain of the network's own leaf cells; returns (final output, *kept intermediates).

    The cells live in a plain tuple attribute, so they are not re-parented (parameter names stay as the user
    set them). The final output comes first: a jitted graph whose first output is ready early makes the next
    launch starve the CPU on small machines (MINDSPORE_CPU.md, E4).
    """

    def __init__(self, cells: tuple[nn.Cell, ...], keep: tuple[bool, ...]):
        super().__init__(auto_prefix=False)
        self.chain = cells
        self.keep = keep

    def construct(self, x):
        outs = ()
        i = 0
        for cell in self.chain:
            x = cell(x)
            if self.keep[i]:
                outs = outs + (x,)
            i = i + 1
        return (x,) + outs


class ActivationCapture:
    """Outputs of the chosen leaf layers (and the logits) of an ``MSModel`` for a batch.

    ``method``: ``"auto"`` (compiled when the network is a chain of leaf cells, else hooks), ``"compiled"``
    (raise if that is impossible) or ``"hooks"`` (PyNative hooks only). ``mode`` says which one is in use
    and ``reason`` why hooks were chosen.
    """

    def __init__(self, model: Any, layers: tuple[str, ...] | None = None, *, method: str = "auto",
                 max_batch: int = 256):
        if method not in ("auto", "compiled", "hooks"):
            raise InvalidInputError(f"method: expected 'auto', 'compiled' or 'hooks', got {method!r}")
        if not isinstance(max_batch, int) or max_batch < 1:
            raise InvalidInputError(f"max_batch: expected a positive int, got {max_batch!r}")
        self.model = model
        self.network: nn.Cell = model.network
        cells = [(n, c) for n, c in leaf_cells(self.network) if type(c).__name__ not in NOT_NEURONS]
        known = [n for n, _ in cells]
        if layers is not None:
            layers = tuple(layers)
            unknown = [n for n in layers if n.split("#")[0] not in known]
            if unknown:
                raise InvalidInputError(f"layers: unknown layer(s) {unknown}; available: {known}")
        self.layers = layers
        #: the cells to hook, and the exact layer calls to keep (``relu#1`` is the second call of ``relu``)
        self._selected = set(known if layers is None else (n.split("#")[0] for n in layers))
        self._wanted = None if layers is None else set(layers)
        self.method = method
        self.max_batch = max_batch
        self.mode = "hooks" if method == "hooks" else "undecided"
        self.reason = "method='hooks'" if method == "hooks" else ""
        self._fn = None
        self._names: list[str] = []  # names of the kept chain outputs, in order
        self._sizes: set[int] = set()

    # ------------------------------------------------------------------ public
    def __call__(self, x: np.ndarray) -> Captured:
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = x.shape[0]
        if n == 0:
            raise InvalidInputError(f"x: the batch is empty (shape {x.shape})")
        parts = [self._run(x[i:i + self.max_batch]) for i in range(0, n, self.max_batch)]
        if len(parts) == 1:
            return parts[0]
        logits = np.concatenate([p.logits for p in parts])
        return Captured({k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, logits=logits)

    # ------------------------------------------------------------------ internals
    def _run(self, x: np.ndarray) -> Captured:
        if self.mode == "undecided":
            return self._decide(x)
        if self.mode == "hooks":
            return self._hooks(x)[0]
        return self._compiled(x)

    def _decide(self, x: np.ndarray) -> Captured:
        """First call: capture with hooks, learn the dataflow, compile, and check the two agree."""
        captured, calls, chain_ok, why = self._hooks(x, probe=True)
        if chain_ok:
            try:
                self._build(calls)
                fast = self._compiled(x)
                bad = _disagreement(captured, fast)
                if bad:
                    chain_ok, why = False, f"compiled capture disagrees with hooks on layer {bad}"
            except Exception as exc:  # noqa: BLE001 - any compile failure means: keep the hooks
                chain_ok, why = False, f"compilation failed: {type(exc).__name__}: {exc}"
        if chain_ok:
            self.mode = "compiled"
            return captured
        if self.method == "compiled":
            raise InvalidInputError(f"method='compiled': cannot capture {type(self.network).__name__} in one "
                                    f"compiled pass ({why}); use method='auto' or 'hooks'")
        log.debug("activation capture of %s uses PyNative hooks: %s", type(self.network).__name__, why)
        self.mode, self.reason, self._fn = "hooks", why, None
        return captured

    def _hooks(self, x: np.ndarray, probe: bool = False):
        """One PyNative forward with hooks. With ``probe``, every leaf is hooked to learn whether it is a chain."""
        calls: list[tuple[str, nn.Cell, tuple, Any]] = []
        handles = []
        for name, cell in leaf_cells(self.network):
            if not probe and name not in self._selected:
                continue

            def hook(cell_, inputs, output, _name=name):
                calls.append((_name, cell_, inputs, output))

            handles.append(cell.register_forward_hook(hook))
        xt = ms.Tensor(x)
        try:
            xp = self.model.preprocess(xt)
            out = self.network(xp)
        finally:
            for h in handles:
                h.remove()
        logits = self.model.postprocess(out).asnumpy()
        names = call_names([(c[0], None) for c in calls])
        acts = {}
        for nm, c in zip(names, calls):
            out_t = _first_tensor(c[3])
            if self._keeps(nm, c[0], c[1]) and out_t is not None:
                acts[nm] = out_t.asnumpy()
        captured = Captured(acts, logits=logits)
        if not probe:
            return captured, calls, False, ""
        ok, why = _is_chain(calls, xp, out)
        return captured, calls, ok, why

    def _keeps(self, call: str, cell_name: str, cell: nn.Cell) -> bool:
        """Whether the layer call ``call`` (of leaf ``cell_name``) is reported: a neuron layer, and chosen."""
        return (cell_name in self._selected and type(cell).__name__ not in NOT_NEURONS
                and (self._wanted is None or call in self._wanted))

    def _build(self, calls) -> None:
        cells = tuple(c[1] for c in calls)
        names = call_names([(c[0], None) for c in calls])
        keep = tuple(self._keeps(nm, c[0], c[1]) for nm, c in zip(names, calls))
        self._names = [nm for nm, k in zip(names, keep) if k]
        chain = _Chain(cells, keep)
        model = self.model

        def capture(x):
            outs = chain(model.preprocess(x))
            return (model.postprocess(outs[0]),) + outs[1:]

        self._fn = ms.jit(capture)

    def _compiled(self, x: np.ndarray) -> Captured:
        n = x.shape[0]
        padded = x
        # Each new batch size compiles a new graph (~0.5 s): the first few sizes seen (a run's fixed batch and
        # its last partial batch) compile exactly; later ones are padded up to a power of two.
        if n not in self._sizes and len(self._sizes) >= 3:
            near = [s for s in self._sizes if n < s <= 2 * n]  # reuse a graph when padding at most doubles
            size = min(near) if near else min(self.max_batch, 1 << (n - 1).bit_length())
            if size > n:
                padded = np.concatenate([x, np.repeat(x[:1], size - n, axis=0)])
        self._sizes.add(padded.shape[0])
        self.compiled_sizes = sorted(self._sizes)
        outs = self._fn(ms.Tensor(padded))
        arrays = [o.asnumpy()[:n] for o in outs]
        return Captured(dict(zip(self._names, arrays[1:])), logits=arrays[0])


def _first_tensor(value: Any):
    """A leaf's output tensor; for a leaf returning several (an LSTM's output and state), the first."""
    while isinstance(value, (tuple, list)) and value:
        value = value[0]
    return value if isinstance(value, ms.Tensor) else None


def _is_chain(calls, x_in, out) -> tuple[bool, str]:
    """Whether the recorded leaf calls form a single chain from the network input to its output."""
    if not calls:
        return False, "the network has no leaf cells"
    prev = x_in
    for name, _, inputs, output in calls:
        if len(inputs) != 1:
            return False, f"leaf {name!r} takes {len(inputs)} inputs"
        if inputs[0] is not prev:
            return False, f"leaf {name!r} does not consume the previous leaf's output (functional ops or branches)"
        if not isinstance(output, ms.Tensor):
            return False, f"leaf {name!r} returns {type(output).__name__}, not a Tensor"
        prev = output
    if out is not prev:
        return False, "the network output is not the last leaf's output"
    return True, ""


def _disagreement(ref: Captured, got: Captured) -> str:
    """Name of the first layer (or 'logits') where two captures differ beyond float32 round-off, else ''."""
    pairs = [("logits", ref.logits, got.logits)] + [(k, ref[k], got.get(k)) for k in ref]
    if set(ref) != set(got):
        return f"set {sorted(set(ref) ^ set(got))}"
    for name, a, b in pairs:
        if b is None or a.shape != b.shape:
            return name
        scale = max(1.0, float(np.abs(a).max()) if a.size else 1.0)
        if not np.allclose(a, b, rtol=1e-4, atol=1e-5 * scale):
            return name
    return ""


__all__ = ["NOT_NEURONS", "ActivationCapture", "Captured", "call_names", "leaf_cells", "neuron_layer_names"]
