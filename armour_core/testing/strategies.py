"""Hypothesis strategies for plugin tests: input batches, bounds, seeds, epsilons and sparsities."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

seeds = st.integers(min_value=0, max_value=2**31 - 1)
probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
sparsities = st.floats(min_value=0.0, max_value=0.95, allow_nan=False)


@st.composite
def bounds(draw) -> tuple[float, float]:
    """Data ranges seen in practice: [0, 1], [0, 255] or [-1, 1]."""
    return draw(st.sampled_from([(0.0, 1.0), (0.0, 255.0), (-1.0, 1.0)]))


@st.composite
def image_batches(draw, *, min_n: int = 1, max_n: int = 4, channels=(1, 3), sizes=(8, 12),
                  value_bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """A float32 (N, C, H, W) batch inside its bounds, and the bounds."""
    b = value_bounds or draw(bounds())
    n = draw(st.integers(min_n, max_n))
    c = draw(st.sampled_from(channels))
    h = draw(st.sampled_from(sizes))
    w = draw(st.sampled_from(sizes))
    unit = draw(hnp.arrays(np.float32, (n, c, h, w),
                           elements=st.floats(0.0, 1.0, width=32, allow_nan=False, allow_infinity=False)))
    return (b[0] + (b[1] - b[0]) * unit).astype(np.float32), b


def epsilons(norm: str, *, max_linf: float = 0.3, max_l2: float = 3.0):
    if norm == "linf":
        return st.floats(0.0, max_linf, allow_nan=False)
    if norm in ("l2", "l1"):
        return st.floats(0.0, max_l2 if norm == "l2" else 10 * max_l2, allow_nan=False)
    return st.integers(0, 20).map(float)


def subsets(n: int):
    """A sorted, non-empty subset of ``range(n)`` (which samples of a fixed batch to use)."""
    return st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True).map(sorted)
