"""``MSDefense``: the MindSpore side every defense shares — optimizer, compiled steps, batch splitting."""

from __future__ import annotations

from typing import Any

import numpy as np

import armour_core.ms  # noqa: F401  (tunes the MindSpore CPU runtime before the first graph runs)
from armour_core.api.defense import Defense
from armour_core.errors import CapabilityError

from .graphs import ce_mean, compile_update, make_optimizer


def tensor(a: np.ndarray, dtype=np.float32):
    import mindspore as ms

    return ms.Tensor(np.ascontiguousarray(a, dtype=dtype))


def labels(a: np.ndarray):
    return tensor(a, np.int32)


def split_counts(n: int, ratio: float) -> int:
    """How many of ``n`` samples a ``ratio`` replaces (rounded half up, so 0.5 of 1 is 1)."""
    return int(np.floor(ratio * n + 0.5))


class MSDefense(Defense):
    """A defense that trains a MindSpore network (wrapped in :class:`~armour_core.ms.model.MSModel`).

    Compiled steps are cached by name; MindSpore recompiles them once per new batch shape (the last,
    partial batch of an epoch).
    """

    def __init__(self, *, network: Any, bounds: tuple[float, float] | None = None, **config: Any):
        super().__init__(network=network, bounds=bounds, **config)
        if "graphs" not in self.model.capabilities:  # a subclass without a record still trains in graphs
            raise CapabilityError(f"{type(self).__name__} trains a MindSpore network and needs the model "
                                  f"capability 'graphs': pass an nn.Cell or an MSModel, not "
                                  f"{type(self.model).__name__}")
        self.network = self.model.network
        self.optimizer = make_optimizer(self.network, self.config)
        self._steps: dict[str, Any] = {}

    def compiled(self, name: str, build) -> Any:
        """The compiled step ``name`` (built once by ``build()``)."""
        step = self._steps.get(name)
        if step is None:
            step = self._steps[name] = build()
        return step

    def clean_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One compiled update on mean cross-entropy over ``(x, y)`` (the batch as given)."""
        step = self.compiled("ce", lambda: compile_update(ce_mean(self.model.logits_fn), self.optimizer))
        return float(step(tensor(x), labels(y)).asnumpy())

    def replace_indices(self, n: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
        """Indices (a seeded random subset) of the ``ratio`` share of a batch of ``n`` to make adversarial."""
        return np.sort(rng.permutation(n)[:split_counts(n, ratio)])
