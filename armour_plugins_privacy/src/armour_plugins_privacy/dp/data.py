"""Training data for :class:`~armour_plugins_privacy.dp.model.DPModel`: in-memory arrays, or a random-access
source read one batch at a time.

Poisson sampling needs random access: every step picks arbitrary indices. ``(x, y)`` arrays and pipelines
without random access (a ``mindspore.dataset`` with ``map`` operations, MindRecord) are read into memory once,
as before. A source with ``__getitem__``/``__len__`` returning ``(x, y)`` — given directly, or as the source
of a ``GeneratorDataset`` (optionally batched, with no other operation in between) — is never read as a
whole: each step reads only the sampled indices (in data-parallel training, only this rank's share), and
each batch read is checked as the in-memory path checks the whole set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core.api.arrays import check_inputs, check_labels
from armour_core.errors import InvalidInputError


class ArraySource:
    """``(x, y)`` held in memory; ``take`` is fancy indexing."""

    lazy = False

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int | None):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.n = len(x)

    def head(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """What the pre-training checks see: the whole set (checked in full before any charge)."""
        return self.x, self.y

    def checked(self, y: np.ndarray, num_classes: int | None) -> None:
        """Adopt the labels as the checks returned them (int32)."""
        self.y = y

    def take(self, idx: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.x[idx], self.y[idx]


class IndexedSource:
    """A ``__getitem__``/``__len__`` source of ``(x, y)`` examples, read only at the sampled indices."""

    lazy = True

    def __init__(self, source: Any, batch_size: int | None = None):
        self.source, self.batch_size = source, batch_size
        self.n = len(source)
        if self.n == 0:
            raise InvalidInputError("dataset: is empty")
        self.num_classes: int | None = None

    def _read(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for i in idx:
            item = self.source[int(i)]
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise InvalidInputError(f"dataset: item {int(i)} is not a (data, label) pair "
                                        f"(got {type(item).__name__})")
            xs.append(np.asarray(item[0]))
            ys.append(np.asarray(item[1]).reshape(-1)[0] if np.ndim(item[1]) else np.asarray(item[1]))
        x = np.stack(xs)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        return np.ascontiguousarray(x, dtype=np.float32), np.asarray(ys)

    def head(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``k`` examples: what the pre-training checks (shape, labels, validator, dry run) see."""
        return self._read(np.arange(min(k, self.n)))

    def checked(self, y: np.ndarray, num_classes: int | None) -> None:
        """Remember the number of classes the checks read from the network; every batch is held to it."""
        self.num_classes = num_classes
        self._pad = self.head(1)

    def take(self, idx: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The examples at ``idx`` (only the real ones, ``mask > 0``: padding rows repeat the first example
        without reading it again), checked: finite float inputs, integer labels in ``[0, classes)``. A bad
        example fails its step before any graph runs, so the step is voided, not charged."""
        real = idx if mask is None else idx[mask > 0]
        rows = len(idx) - len(real)
        x0, y0 = self._pad
        if len(real) == 0:
            return np.repeat(x0, rows, 0), np.zeros(rows, np.int32)
        unique, inverse = np.unique(real, return_inverse=True)
        x, y = self._read(unique)
        where = f"dataset items {unique[:3].tolist()}{'...' if len(unique) > 3 else ''}"
        check_inputs(x, name=f"x ({where})")
        if y.dtype.kind == "f":
            raise InvalidInputError(f"y ({where}): expected integer class labels, got dtype {y.dtype}")
        y = check_labels(y, n=len(x), num_classes=self.num_classes, name=f"y ({where})").astype(np.int32)
        return (np.concatenate([x[inverse], np.repeat(x0, rows, 0)]),
                np.concatenate([y[inverse], np.zeros(rows, np.int32)]))


def take(x: Any, y: Any, idx: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One padded batch: ``x[idx], y[idx]`` for arrays; from a lazily read source (``y is None``), only the
    real rows are read."""
    return x.take(idx, mask) if y is None else (x[idx], y[idx])


def _generator_source(dataset: Any) -> tuple[Any, int | None] | None:
    """``(source, batch size)`` of a ``GeneratorDataset`` over a random-access source, alone or batched and
    nothing else (any other operation, e.g. ``map``, must run: such pipelines are read through)."""
    from mindspore.dataset import BatchDataset, GeneratorDataset

    batch = None
    node = dataset
    if isinstance(node, BatchDataset):
        if len(node.children) != 1:
            return None
        batch = int(node.get_batch_size())
        node = node.children[0]
    if not isinstance(node, GeneratorDataset) or node.children:
        return None
    source = node.source
    if not (hasattr(source, "__getitem__") and hasattr(source, "__len__")) or isinstance(source, (list, tuple)):
        return None
    return source, (batch if batch and batch > 1 else None)


def as_source(dataset: Any, materialise) -> ArraySource | IndexedSource:
    """The training data as a source: random access without reading the set where the dataset allows it,
    otherwise ``materialise(dataset)`` (``(x, y, batch_size)`` in memory)."""
    if isinstance(dataset, (IndexedSource, ArraySource)):
        return dataset
    if hasattr(dataset, "create_tuple_iterator"):
        found = _generator_source(dataset)
        if found is not None:
            return IndexedSource(*found)
    elif (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")
          and not isinstance(dataset, (tuple, list, np.ndarray))):
        return IndexedSource(dataset)
    return ArraySource(*materialise(dataset))
