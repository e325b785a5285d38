"""Batch bucketing and padding for compiled models (numpy only; usable with any ``Classifier``).

A compiled (``mindspore.jit``) function recompiles for every new input shape (~0.3 s each), so whoever runs
one on batches of varying size pads ``n`` real rows to one of a few bucket sizes and drops the padding rows
from the result. Padding rows repeat the first real row: valid inputs that carry no information, never
counted as passes or queries. Every attack, detector and the gradient loop use these helpers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: largest number of floats sent to a model in one call by :func:`padded_logits` (bounds memory)
MAX_CALL_ELEMENTS = 1 << 23


def bucket(n: int, *, step: int | None = 64, minimum: int = 16) -> int:
    """Rows to send for ``n`` real rows: ``minimum`` up to it, then the next power of two up to ``step``,
    then the next multiple of ``step``. ``step=None``: powers of two throughout (fewest shapes, for
    populations whose size changes from call to call, as black-box attacks' do)."""
    n = max(int(n), 1)
    if n <= minimum:
        return minimum
    if step is None or n <= step:
        return 1 << (n - 1).bit_length()
    return -(-n // step) * step


def pad_rows(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` with copies of its first row appended up to ``size`` rows (as is when empty or already long)."""
    if a.shape[0] == 0 or a.shape[0] >= size:
        return a
    return np.concatenate([a, np.repeat(a[:1], size - a.shape[0], axis=0)], axis=0)


def pad_batch(*arrays: np.ndarray, pad: bool = True, step: int | None = 64,
              minimum: int = 16) -> tuple[int, list[np.ndarray]]:
    """``(size, arrays)``: the arrays of one batch (same first dimension) as contiguous graph inputs
    (float32, integer arrays kept integer), padded together to the :func:`bucket` size (``pad=False``: as
    they are, e.g. for an eager run that compiles nothing)."""
    n = arrays[0].shape[0]
    size = bucket(n, step=step, minimum=minimum) if pad else n
    out = [pad_rows(np.ascontiguousarray(a, dtype=a.dtype if a.dtype.kind == "i" else np.float32), size)
           for a in arrays]
    return size, out


def pad_to_bucket(a: np.ndarray, *, step: int | None = None, minimum: int = 1) -> np.ndarray:
    """``a`` padded (:func:`pad_rows`) to its :func:`bucket` size; for an index array of rows to attack this
    is the padded selection (powers of two by default: attacks whose active rows shrink call often)."""
    return pad_rows(a, bucket(a.shape[0], step=step, minimum=minimum))


def padded_logits(model: Any, x: np.ndarray, *, chunk: int | None = None) -> np.ndarray:
    """Logits (float64) of a batch of any size through ``model.logits``, in calls of at most ``chunk`` rows
    padded to power-of-two shapes. Counts one forward pass per call and one query per real row."""
    x = np.asarray(x, dtype=np.float32)
    m = x.shape[0]
    if chunk is None:
        d = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
        chunk = int(max(16, min(8192, 1 << int(np.log2(max(MAX_CALL_ELEMENTS // max(d, 1), 16))))))
    out = []
    for start in range(0, m, chunk):
        part = x[start:start + chunk]
        k = part.shape[0]
        with model.uncounted():  # the padding rows are no queries: count the real ones below
            z = np.asarray(model.logits(pad_rows(part, bucket(k, step=None))))
        model.count(forward=1, queries=k)
        out.append(np.asarray(z[:k], dtype=np.float64))
    return np.concatenate(out) if out else np.zeros((0, 0))
