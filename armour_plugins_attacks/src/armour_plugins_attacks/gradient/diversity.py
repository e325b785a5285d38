"""The input-diversity transform of DI-FGSM (Xie et al. 2019) as a pair of matrices.

Random resizing (nearest neighbour, as in the paper) followed by random zero padding is linear in the
image and separable over rows and columns: ``T(x) = A_h @ x @ A_w.T`` for every channel. Expressing it so
keeps the compiled attack loop at fixed shapes (the random size only changes the matrices' entries),
makes the gradient pull-back exact (``A_h.T @ G @ A_w``) and lets the seeded numpy generator drive the
randomness. One transform is drawn per iteration for the whole batch, as in the authors' implementation.
"""

from __future__ import annotations

import numpy as np


def resize_pad_matrix(size: int, resized: int, canvas: int, offset: int) -> np.ndarray:
    """``(canvas, size)`` matrix: nearest-neighbour resize of ``size`` pixels to ``resized`` pixels placed at
    ``offset`` in a zero canvas of ``canvas`` pixels."""
    if not (1 <= resized and 0 <= offset and offset + resized <= canvas):
        raise ValueError(f"resized={resized} at offset={offset} does not fit a canvas of {canvas}")
    m = np.zeros((canvas, size), np.float32)
    src = np.minimum(((np.arange(resized) + 0.5) * size / resized).astype(np.int64), size - 1)
    m[offset + np.arange(resized), src] = 1.0
    return m


def _axis(rng: np.random.Generator, size: int, scale: float, rate: float) -> np.ndarray:
    if rate < 1.0:
        resized = int(np.clip(round(scale * size), 1, size))
        offset = int(rng.integers(0, size - resized + 1))
        return resize_pad_matrix(size, resized, size, offset)
    canvas = max(size + 1, int(np.floor(rate * size)))
    resized = int(np.clip(round(scale * size), size, canvas - 1))
    offset = int(rng.integers(0, canvas - resized + 1))
    back = resize_pad_matrix(canvas, size, size, 0)  # resample the canvas to the network's input size
    return back @ resize_pad_matrix(size, resized, canvas, offset)


def diversity_matrices(rng: np.random.Generator, height: int, width: int, *, resize_rate: float,
                       prob: float) -> tuple[np.ndarray, np.ndarray]:
    """One random transform ``(A_h, A_w)``: with probability ``prob`` a resize-and-pad, else the identity.

    ``resize_rate < 1``: the image is shrunk to a random size in ``[resize_rate * H, H)`` (at least one
    pixel smaller when possible) and zero-padded back to ``H`` at a random offset. ``resize_rate > 1``:
    enlarged to a random size in ``[H, resize_rate * H)``, padded to a ``resize_rate * H`` canvas and
    resampled to ``H``. Both axes share the scale; offsets are independent.
    """
    applied = rng.uniform() < prob
    if not applied:
        return np.eye(height, dtype=np.float32), np.eye(width, dtype=np.float32)
    if resize_rate < 1.0:
        low = max(1, int(np.floor(resize_rate * height)))
        high = max(low, height - 1)  # inclusive; a real shrink whenever the image has room for it
        resized = int(rng.integers(low, high + 1))
    else:
        canvas = max(height + 1, int(np.floor(resize_rate * height)))
        resized = int(rng.integers(height, canvas))
    scale = resized / height
    return _axis(rng, height, scale, resize_rate), _axis(rng, width, scale, resize_rate)


def apply(x: np.ndarray, ah: np.ndarray, aw: np.ndarray) -> np.ndarray:
    """``T(x)`` for a batch ``(N, C, H, W)`` or ``(N, H, W)``."""
    return np.matmul(np.matmul(ah, x), aw.T)
