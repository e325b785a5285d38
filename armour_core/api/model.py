"""The classifier interface algorithms are written against.

Algorithms see a model through :class:`Classifier`: numpy in, numpy out, bounds, number of classes and
pass counters. :class:`armour_core.ms.model.MSModel` implements it for MindSpore ``nn.Cell`` networks
(with compiled forward and gradient functions); :mod:`armour_core.testing.models` has a pure-numpy one for
tests that must run without MindSpore.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import CapabilityError, InvalidInputError
from ..wiring import model_adapter
from .arrays import like, to_numpy


class Classifier(abc.ABC):
    """A classifier over inputs in ``bounds`` with ``num_classes`` outputs.

    Counters: ``forward_calls`` and ``backward_calls`` count batch passes; ``queries`` counts per-sample
    model evaluations (what a black-box budget limits).
    """

    bounds: tuple[float, float]
    num_classes: int
    input_shape: tuple[int, ...] | None
    capabilities: frozenset[str] = frozenset({"forward"})

    def __init__(self) -> None:
        self.forward_calls = 0
        self.backward_calls = 0
        self.queries = 0

    # --------------------------------------------------------------- to implement
    @abc.abstractmethod
    def _logits(self, x: np.ndarray) -> np.ndarray:
        """Logits (or log-probabilities) for a float batch already validated."""

    def _loss_gradient(self, x: np.ndarray, y: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample loss values and the gradient of their sum with respect to ``x``."""
        raise CapabilityError(f"{type(self).__name__} provides no input gradients (white-box attacks need them)")

    # --------------------------------------------------------------- public, counted
    def logits(self, x: Any) -> Any:
        """Logits for a batch (numpy or Tensor in, same type out); counts one forward pass."""
        xa = to_numpy(x, "x")
        self.forward_calls += 1
        self.queries += int(xa.shape[0])
        return like(self._logits(np.asarray(xa, dtype=np.float32)), x)

    def predict(self, x: Any) -> Any:
        return like(to_numpy(self.logits(x)).argmax(axis=1), x)

    def probabilities(self, x: Any) -> Any:
        z = to_numpy(self.logits(x))
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return like(e / e.sum(axis=1, keepdims=True), x)

    def loss_gradient(self, x: Any, y: Any, loss: str = "ce") -> tuple[Any, Any]:
        """Per-sample ``loss`` (``ce``, ``margin`` or ``dlr``) at ``(x, y)`` and the gradient of its sum
        with respect to ``x`` (numpy or Tensor in, same type out); counts a forward and a backward pass."""
        if loss not in LOSSES:
            raise InvalidInputError(f"loss={loss!r}: expected one of {', '.join(LOSSES)}")
        xa = to_numpy(x, "x")
        self.forward_calls += 1
        self.backward_calls += 1
        self.queries += int(xa.shape[0])
        values, grad = self._loss_gradient(np.asarray(xa, dtype=np.float32),
                                           np.asarray(to_numpy(y, "y"), dtype=np.int32), loss)
        return like(values, x), like(grad, x)

    def num_classes_for(self, x: np.ndarray) -> int:
        """``num_classes``, learned from ``x`` (the first batch, uncounted) when the model cannot know it
        before a forward pass (a bare network wrapped without ``num_classes=`` or ``input_shape=``)."""
        return int(self.num_classes)

    def count(self, *, forward: int = 0, backward: int = 0, queries: int = 0) -> None:
        """Record passes made outside :meth:`logits`/:meth:`loss_gradient` (e.g. a compiled attack loop)."""
        self.forward_calls += forward
        self.backward_calls += backward
        self.queries += queries

    def counters(self) -> tuple[int, int, int]:
        return self.forward_calls, self.backward_calls, self.queries

    @contextlib.contextmanager
    def uncounted(self) -> Iterator[Classifier]:
        """Passes made meanwhile are not counted (an attack's success check, a probe that learns the network's
        shape, padding rows counted separately with :meth:`count`); counting resumes afterwards, also when the
        block raises. The one place counters are set back, so algorithms never assign them."""
        saved = self.forward_calls, self.backward_calls, self.queries
        try:
            yield self
        finally:
            self.forward_calls, self.backward_calls, self.queries = saved


#: Per-sample losses every classifier's gradient supports. ``ce``: cross-entropy; ``margin``:
#: Carlini-Wagner's max_{j != y} z_j - z_y; ``dlr``: Croce & Hein's difference-of-logits ratio.
LOSSES = ("ce", "margin", "dlr")


def as_classifier(model: Any, **options: Any) -> Classifier:
    """``model`` as a :class:`Classifier`: returned as is, or a MindSpore ``nn.Cell`` wrapped in ``MSModel``."""
    if isinstance(model, Classifier):
        if options:
            unknown = {k: v for k, v in options.items() if v is not None and getattr(model, k, None) != v}
            if unknown:
                raise InvalidInputError(f"model: options {sorted(unknown)} conflict with the wrapped model; "
                                        "set them when wrapping it")
        return model
    wrap = model_adapter(model)  # a MindSpore cell -> MSModel, installed by the package root
    if wrap is not None:
        return wrap(model, **options)
    raise InvalidInputError(f"model: expected a MindSpore nn.Cell or an armour Classifier, got {type(model).__name__}")
