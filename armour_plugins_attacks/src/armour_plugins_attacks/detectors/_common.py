"""Helpers shared by the detectors: batched, shape-stable model calls and per-sample filters."""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core.api.batching import padded_logits


def probabilities(model: Any, x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of the model's logits at ``temperature`` (float64), in shape-stable batched calls."""
    z = padded_logits(model, x) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def median_smooth(x: np.ndarray, size: int) -> np.ndarray:
    """Median filter of window ``size`` over each sample's spatial axes, never across the batch (nor across
    channels of (N, C, H, W) images). (N, H, W) and flat (N, D) batches are filtered over their last axes."""
    from scipy.ndimage import median_filter

    if x.ndim == 4:
        window = (1, 1, size, size)
    elif x.ndim == 3:
        window = (1, size, size)
    else:
        window = (1,) + (size,) * (x.ndim - 1)
    return median_filter(np.asarray(x), size=window, mode="reflect")


def l1_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.abs(p - q).sum(axis=1)
