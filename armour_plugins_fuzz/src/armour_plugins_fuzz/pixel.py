"""Pixel-value (natural) mutators, vectorised over the batch."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from armour_core.api.mutator import Mutator
from armour_core.errors import InvalidInputError

from .configs import GaussianBlurConfig


def _as_images(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) view of an image batch; (N, H, W) gets a channel axis."""
    if x.ndim == 4:
        return x
    if x.ndim == 3:
        return x[:, None]
    raise InvalidInputError(f"x: expected images (N, C, H, W) or (N, H, W), got shape {x.shape}")


def _blur_axis(img: np.ndarray, kernels: np.ndarray, axis: int) -> np.ndarray:
    """Convolve every image along ``axis`` (2: rows, 3: columns) with its own 1-D kernel (reflect padding)."""
    r = kernels.shape[1] // 2
    pad = [(0, 0)] * 4
    pad[axis] = (r, r)
    padded = np.pad(img, pad, mode="reflect" if img.shape[axis] > r else "edge")
    windows = sliding_window_view(padded, kernels.shape[1], axis=axis)  # (..., K)
    return np.einsum("nchwk,nk->nchw", windows, kernels, optimize=True)


class GaussianBlur(Mutator):
    """Separable Gaussian blur; each sample gets its own σ from ``config.sigma``."""

    Config = GaussianBlurConfig
    category = "pixel"
    ranges = ("sigma",)

    def _mutate(self, x, params, rng):
        img = _as_images(x).astype(np.float64)
        sigma = np.maximum(params["sigma"], 1e-3)
        r = max(1, int(np.ceil(3 * sigma.max())))
        t = np.arange(-r, r + 1, dtype=np.float64)
        kernels = np.exp(-0.5 * (t[None, :] / sigma[:, None]) ** 2)
        kernels /= kernels.sum(axis=1, keepdims=True)
        out = _blur_axis(_blur_axis(img, kernels, 2), kernels, 3)
        return out.reshape(x.shape)
