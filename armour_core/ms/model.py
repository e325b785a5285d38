"""``MSModel``: a MindSpore classifier seen through armour's :class:`~armour_core.api.model.Classifier`.

It owns the compiled (``mindspore.jit``) forward and loss-gradient functions, applies preprocessing inside
(so algorithms work in input space), puts the network in inference mode and counts passes.
"""

from __future__ import annotations

from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from ..api.model import Classifier
from ..errors import InvalidInputError
from .losses import LOSSES

#: Leaf cells that never hold neurons of their own (skipped when capturing activations).
_NOT_NEURONS = ("Flatten", "Dropout", "Identity", "Reshape")


class MSModel(Classifier):
    """Wrap an ``nn.Cell`` classifier.

    Args:
        network: maps a float32 batch (after preprocessing) to logits or probabilities.
        bounds: valid input range (attacks and mutators stay inside it).
        num_classes: inferred from one forward pass when omitted.
        input_shape: per-sample shape, checked on every call when given.
        mean, std: preprocessing ``(x - mean) / std`` applied inside the wrapper (broadcast per sample).
        output: ``"logits"`` or ``"probabilities"`` (the latter are turned into log-probabilities, so
            cross-entropy and its gradients stay exact).
    """

    capabilities = frozenset({"forward", "gradients", "probabilities", "activations", "parameters"})

    def __init__(self, network: nn.Cell, *, bounds: tuple[float, float] = (0.0, 1.0),
                 num_classes: int | None = None, input_shape: tuple[int, ...] | None = None,
                 mean: Any = None, std: Any = None, output: str = "logits"):
        super().__init__()
        if not isinstance(network, nn.Cell):
            raise InvalidInputError(f"network: expected a mindspore.nn.Cell, got {type(network).__name__}")
        lo, hi = (float(b) for b in bounds)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise InvalidInputError(f"bounds: expected finite (low, high) with low < high, got {bounds!r}")
        if output not in ("logits", "probabilities"):
            raise InvalidInputError(f"output: expected 'logits' or 'probabilities', got {output!r}")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise InvalidInputError(f"num_classes: expected an int >= 2, got {num_classes!r}")
        if (mean is None) != (std is None):
            raise InvalidInputError("mean and std: give both or neither")
        if std is not None and np.any(np.asarray(std) <= 0):
            raise InvalidInputError("std: every entry must be > 0")
        self.network = network
        network.set_train(False)
        self.bounds = (lo, hi)
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
        self._num_classes = num_classes
        self.output = output
        m = None if mean is None else ms.Tensor(np.asarray(mean, dtype=np.float32))
        s = None if std is None else ms.Tensor(np.asarray(std, dtype=np.float32))
        probs = output == "probabilities"

        def logits_fn(x):
            if m is not None:
                x = (x - m) / s
            z = network(x)
            if probs:
                z = ops.log(ops.clamp(z, 1e-12, 1.0))
            return z

        self.logits_fn = logits_fn  #: a ``def`` usable inside plugins' own jit graphs
        self._fwd = ms.jit(logits_fn)
        self._grads: dict[str, Any] = {}
        self._weights = self._weights_signature()

        def preprocess(x):
            if m is not None:
                x = (x - m) / s
            return x

        def postprocess(z):
            if probs:
                z = ops.log(ops.clamp(z, 1e-12, 1.0))
            return z

        #: the two halves of ``logits_fn`` around ``network`` (``def``s usable inside jit graphs)
        self.preprocess, self.postprocess = preprocess, postprocess
        self._mean_np = None if mean is None else np.asarray(mean, dtype=np.float32)
        self._std_np = None if std is None else np.asarray(std, dtype=np.float32)
        self._captures: dict[Any, Any] = {}

    # ------------------------------------------------------------------ compiled functions
    def _weights_signature(self) -> tuple[int, ...]:
        return tuple(p.data_ptr() for p in self.network.get_parameters())

    def refresh(self) -> None:
        """Recompile if the network's parameters were replaced (``load_param_into_net`` swaps their storage,
        which graphs compiled before keep reading). In-place updates (optimizers, ``assign``) need nothing."""
        sig = self._weights_signature()
        if sig != self._weights:
            self._weights = sig
            self._fwd = ms.jit(self.logits_fn)
            self._grads.clear()
            self._captures.clear()

    # ------------------------------------------------------------------ Classifier
    @property
    def num_classes(self) -> int:
        if self._num_classes is None:
            self.refresh()
            if self.input_shape is None:
                raise InvalidInputError("num_classes: unknown until the first forward pass; pass num_classes= "
                                        "or input_shape= when wrapping the network")
            z = self._fwd(ms.Tensor(np.zeros((1, *self.input_shape), np.float32)))
            self._num_classes = int(z.shape[1])
        return self._num_classes

    @num_classes.setter
    def num_classes(self, value: int) -> None:
        self._num_classes = value

    def _check(self, x: np.ndarray) -> ms.Tensor:
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise InvalidInputError(f"x: expected samples of shape {self.input_shape}, got {tuple(x.shape[1:])}")
        return ms.Tensor(np.ascontiguousarray(x, dtype=np.float32))

    def _logits(self, x: np.ndarray) -> np.ndarray:
        self.refresh()
        z = self._fwd(self._check(x)).asnumpy()
        if self._num_classes is None:
            self._num_classes = int(z.shape[1])
        return z

    def grad_fn(self, loss: str = "ce"):
        """The compiled ``(x, y) -> (per-sample loss, d sum(loss) / dx)`` for ``loss``."""
        self.refresh()
        fn = self._grads.get(loss)
        if fn is None:
            per_sample = LOSSES[loss]
            logits_fn = self.logits_fn

            def total(x, y):
                values = per_sample(logits_fn(x), y)
                return values.sum(), values

            vg = ms.value_and_grad(total, grad_position=0, has_aux=True)

            def step(x, y):
                (_, values), g = vg(x, y)
                return values, g

            fn = self._grads[loss] = ms.jit(step)
        return fn

    def _loss_gradient(self, x: np.ndarray, y: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
        values, g = self.grad_fn(loss)(self._check(x), ms.Tensor(y.astype(np.int32)))
        return values.asnumpy(), g.asnumpy()

    # ------------------------------------------------------------------ activations
    def _neuron_cells(self) -> list[tuple[str, nn.Cell]]:
        out = []
        for name, cell in self.network.cells_and_names():
            if name and not cell.name_cells() and type(cell).__name__ not in _NOT_NEURONS:
                out.append((name, cell))
        return out

    def layer_names(self) -> list[str]:
        """Names of the leaf layers whose outputs :meth:`activations` can capture."""
        return [name for name, _ in self._neuron_cells()]

    def activations(self, x: np.ndarray, layers: tuple[str, ...] | None = None, *,
                    method: str = "auto") -> dict[str, np.ndarray]:
        """Outputs of the chosen leaf layers for ``x``.

        A layer called more than once per forward (a shared ReLU) appears as ``name``, ``name#1``, ...
        ``method="auto"`` captures in one compiled pass when the network is a chain of leaf cells and with
        PyNative hooks otherwise (hooks are ignored under ``jit``); ``"hooks"`` forces the hook pass and
        ``"compiled"`` fails instead of falling back. See :mod:`armour_core.ms.activations`.
        """
        return self.capture(x, layers, method=method)

    def capture(self, x: np.ndarray, layers: tuple[str, ...] | None = None, *, method: str = "auto"):
        """Like :meth:`activations`, returning a :class:`~armour_core.ms.activations.Captured` dict that also
        holds the ``logits`` of the same forward pass (one pass gives predictions and coverage)."""
        from ..api.arrays import to_numpy

        xa = to_numpy(x, "x")
        if xa.ndim < 1 or xa.shape[0] == 0:
            raise InvalidInputError(f"x: expected a non-empty batch, got shape {xa.shape}")
        self._check(xa[:1])
        # one capture of every layer serves any subset: a single set of compiled graphs per model
        self.refresh()
        out = self.activation_capture(None, method=method)(xa)
        if layers is not None:
            known = self.layer_names()
            unknown = [n for n in layers if n not in known]
            if unknown:
                raise InvalidInputError(f"layers: unknown layer(s) {unknown}; available: {known}")
            wanted = set(layers)
            out = type(out)({k: v for k, v in out.items() if k.split("#")[0] in wanted}, logits=out.logits)
        self.forward_calls += 1
        self.queries += int(xa.shape[0])
        if self._num_classes is None:
            self._num_classes = int(out.logits.shape[1])
        return out

    def activation_capture(self, layers: tuple[str, ...] | None = None, *, method: str = "auto"):
        """The (cached) :class:`~armour_core.ms.activations.ActivationCapture` for ``layers`` and ``method``."""
        from .activations import ActivationCapture

        key = (None if layers is None else tuple(layers), method)
        cap = self._captures.get(key)
        if cap is None:
            cap = self._captures[key] = ActivationCapture(self, key[0], method=method)
        return cap

    def fingerprint(self) -> str:
        """A digest of everything that decides this model's activations: architecture, parameter values,
        preprocessing and output kind (keys caches such as coverage profiles)."""
        import hashlib

        h = hashlib.blake2b(digest_size=16)
        h.update(f"{type(self.network).__module__}.{type(self.network).__qualname__}|{self.output}".encode())
        for p in self.network.get_parameters():
            arr = np.ascontiguousarray(p.asnumpy())
            h.update(f"{p.name}|{arr.dtype}|{arr.shape}".encode())
            h.update(arr.tobytes())
        for arr in (self._mean_np, self._std_np):
            h.update(b"-" if arr is None else np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def parameters(self) -> list[ms.Parameter]:
        return list(self.network.trainable_params())
