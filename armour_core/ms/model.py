"""``MSModel``: a MindSpore classifier seen through armour's :class:`~armour_core.api.model.Classifier`.

It applies preprocessing inside (so algorithms work in input space), counts passes, and owns the one cache
of compiled functions over the network (its forward and loss gradients, and every algorithm's graphs): see
:class:`~armour_core.ms.runtime.CompiledCache` for what that guarantees (reloaded weights are followed, the
network runs in inference mode and the caller's training flags are left as they were, compile failures become
armour errors naming the input shape).
"""

from __future__ import annotations

import weakref
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from ..api.model import Classifier
from ..errors import CapabilityError, InvalidInputError
from .losses import LOSSES
from .runtime import CompiledCache, first_layer_expectation, inference_mode, log


#: network -> per-sample shape it last ran on (weak: forgotten with the network)
_LEARNED_SHAPE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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

    #: ``graphs``: plugins may build MindSpore graphs on :attr:`logits_fn` and keep them in :meth:`compiled`
    capabilities = frozenset({"forward", "gradients", "probabilities", "activations", "parameters", "graphs"})

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
        self.network = network  # its training flags stay the caller's: every call runs in inference mode
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
        #: every compiled function of this model, the plugins' own graphs included (see :meth:`compiled`)
        self.graphs = CompiledCache(network, on_failure=self._compile_failure)

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
        self._layer_calls: list[str] | None = None  # set by the first capture (see layer_names)

    # ------------------------------------------------------------------ compiled functions
    def compiled(self, kind: str, options: Any, build) -> Any:
        """The function ``build()`` returns, built once per ``(kind, options)`` and per weights, run in
        inference mode with quiet compiles and translated failures (:class:`~armour_core.ms.runtime.
        CompiledCache`). Every algorithm keeps its graphs here, never on the model or the network."""
        return self.graphs.get(kind, options, build)

    def refresh(self) -> None:
        """Drop every compiled function if the network's parameters were replaced (``load_param_into_net``
        swaps their storage, which graphs compiled before keep reading). Also done on every :meth:`compiled`
        lookup; in-place updates (optimizers, ``assign``) need nothing."""
        self.graphs.check()

    def inference(self):
        """Context manager: the network in eval mode meanwhile, the caller's training flags restored after
        (for code that runs ``logits_fn`` eagerly, outside :meth:`compiled`)."""
        return inference_mode(self.network)

    @property
    def _ok_shape(self) -> tuple[int, ...] | None:
        """Per-sample shape of the last batch the network ran on, through any wrapper (kept per network, so
        each attack given the same bare network knows it)."""
        return _LEARNED_SHAPE.get(self.network)

    @_ok_shape.setter
    def _ok_shape(self, shape: tuple[int, ...]) -> None:
        _LEARNED_SHAPE[self.network] = shape

    @property
    def _fwd(self):
        return self.compiled("forward", (), lambda: ms.jit(self.logits_fn))

    # ------------------------------------------------------------------ Classifier
    @property
    def num_classes(self) -> int:
        if self._num_classes is None:
            shape = self.input_shape or self._ok_shape
            if shape is None:
                raise InvalidInputError("num_classes: unknown until the first forward pass; pass num_classes= "
                                        "or input_shape= when wrapping the network, or give a batch first")
            z = self._fwd(ms.Tensor(np.zeros((1, *shape), np.float32)))
            self._num_classes = int(z.shape[1])
        return self._num_classes

    def num_classes_for(self, x: np.ndarray) -> int:
        """The number of classes, learned from one uncounted forward pass on ``x`` (the batch about to be
        processed, so the graph it compiles is the one the algorithm uses) when not known yet."""
        if self._num_classes is None:
            self._num_classes = int(self._fwd(self._check(x)).shape[1])
            self._ok_shape = tuple(x.shape[1:])
        return self.num_classes

    @num_classes.setter
    def num_classes(self, value: int) -> None:
        self._num_classes = value

    def _check(self, x: np.ndarray) -> ms.Tensor:
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise InvalidInputError(f"x: expected samples of shape {self.input_shape}, got {tuple(x.shape[1:])}")
        return ms.Tensor(np.ascontiguousarray(x, dtype=np.float32))

    def _logits(self, x: np.ndarray) -> np.ndarray:
        z = self._fwd(self._check(x)).asnumpy()
        self._ok_shape = tuple(x.shape[1:])
        if self._num_classes is None:
            self._num_classes = int(z.shape[1])
        return z

    def _compile_failure(self, exc: Exception, args: tuple) -> Exception | None:
        """An armour error for a MindSpore failure on new input shapes, naming the expected and actual sample
        shape (expected: the last batch that ran, ``input_shape``, or the first layer's ``in_channels``)."""
        x = args[0] if args else None
        shape = getattr(x, "shape", None)
        text = str(exc)
        if shape is None or not ("C++ Call Stack" in text or "analyze_fail" in text):
            return None  # not MindSpore failing to build or run the graph (armour's errors, plugin bugs)
        actual = tuple(int(s) for s in shape[1:])
        expected = self.input_shape or self._ok_shape
        if expected is not None:
            if actual == tuple(expected):
                return None  # the input is not the problem: keep MindSpore's own error
            wanted = f"samples of shape {tuple(expected)}"
        else:  # nothing ran yet: the first layer may tell; else the first batch is the suspect
            wanted = first_layer_expectation(self.network, actual) or \
                "the shape the network was built for (give input_shape= when wrapping to check it up front)"
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
        log.debug("MindSpore failure for samples of shape %s: %s", actual, exc)
        if self._runs_eagerly(x):  # the shape is fine: graph mode rejects the network's code itself
            return CapabilityError(f"model: {type(self.network).__name__} runs eagerly on samples of shape "
                                   f"{actual} but MindSpore cannot compile it in graph mode, which armour needs "
                                   f"(MindSpore: {first[:200]}); rewrite that part of construct")
        return InvalidInputError(f"x: {type(self.network).__name__} cannot run on samples of shape {actual}: "
                                 f"expected {wanted} (MindSpore: {first[:200]})")

    def _runs_eagerly(self, x: Any) -> bool:
        """Whether the network runs on ``x`` in PyNative (inference mode, caller's flags restored): tells a
        wrong input shape from code that only graph mode rejects. Only called after a compile failure."""
        try:
            with self.inference():
                self.logits_fn(x)
        except Exception:  # noqa: BLE001 - any eager failure means the input is the suspect
            return False
        return True

    def grad_fn(self, loss: str = "ce"):
        """The compiled ``(x, y) -> (per-sample loss, d sum(loss) / dx)`` for ``loss``."""

        def build():
            per_sample = LOSSES[loss]
            logits_fn = self.logits_fn

            def total(x, y):
                values = per_sample(logits_fn(x), y)
                return values.sum(), values

            vg = ms.value_and_grad(total, grad_position=0, has_aux=True)

            def step(x, y):
                (_, values), g = vg(x, y)
                return values, g

            return ms.jit(step)

        return self.compiled("loss_gradient", loss, build)

    def _loss_gradient(self, x: np.ndarray, y: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
        values, g = self.grad_fn(loss)(self._check(x), ms.Tensor(y.astype(np.int32)))
        self._ok_shape = tuple(x.shape[1:])
        return values.asnumpy(), g.asnumpy()

    # ------------------------------------------------------------------ activations
    def layer_names(self, x: Any = None) -> list[str]:
        """Names of the layers :meth:`activations` captures, in call order: one per call of a leaf cell in a
        forward pass, so a cell called twice is two layers of neurons, ``name`` and ``name#1``.

        Which cells ``construct`` calls, and how often, is learned once from a forward pass: on ``x`` when
        given, else on zeros of ``input_shape`` (or of the last batch's sample shape), else from the first
        batch captured.
        """
        if self._layer_calls is None:
            from ..api.arrays import to_numpy

            shape = self.input_shape or self._ok_shape
            if x is not None:
                probe = to_numpy(x, "x")[:1]
            elif shape is not None:
                probe = np.zeros((1, *shape), np.float32)
            else:
                raise InvalidInputError("layer_names: the layers are learned from one forward pass; pass x= (a "
                                        "batch), or input_shape= when wrapping the network")
            with self.uncounted():  # learning the structure is no query
                self.capture(probe, method="hooks")
        return list(self._layer_calls)

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
        if self._layer_calls is None:
            self._layer_calls = list(out)
        if layers is not None:
            unknown = [n for n in layers if n not in self._layer_calls]
            if unknown:
                raise InvalidInputError(f"layers: unknown layer(s) {unknown}; available: {self._layer_calls}")
            wanted = set(layers)
            out = type(out)({k: v for k, v in out.items() if k in wanted}, logits=out.logits)
        self.count(forward=1, queries=int(xa.shape[0]))
        if self._num_classes is None:
            self._num_classes = int(out.logits.shape[1])
        return out

    def activation_capture(self, layers: tuple[str, ...] | None = None, *, method: str = "auto"):
        """The (cached) :class:`~armour_core.ms.activations.ActivationCapture` for ``layers`` and ``method``."""
        from .activations import ActivationCapture

        key = (None if layers is None else tuple(layers), method)
        return self.compiled("capture", key, lambda: ActivationCapture(self, key[0], method=method))

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
