"""Per-sample resampling of image batches: the machinery behind the affine and blur mutators.

Coordinates are pixel centres: pixel (i, j) sits at (y, x) = (i, j), so the image centre is
((H - 1) / 2, (W - 1) / 2). Every geometric mutator maps each output pixel back to a source position
(inverse warping) and samples it bilinearly, all samples of the batch at once.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.mutator import image_shape


def as_images(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) float64 view of an image batch; (N, H, W) gets a channel axis."""
    image_shape(x)
    img = x if x.ndim == 4 else x[:, None]
    return img.astype(np.float64, copy=False)


def centred_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) arrays of y and x offsets from the image centre."""
    ys = np.arange(h, dtype=np.float64) - (h - 1) / 2.0
    xs = np.arange(w, dtype=np.float64) - (w - 1) / 2.0
    return np.meshgrid(ys, xs, indexing="ij")


def ramp(n_h_w: tuple[int, int, int], angle_deg: np.ndarray) -> np.ndarray:
    """(N, H, W) linear ramp from 0 to 1 across the image along each sample's direction (degrees)."""
    _, h, w = n_h_w
    gy, gx = centred_grid(h, w)
    a = np.deg2rad(angle_deg)[:, None, None]
    proj = np.cos(a) * gx[None] + np.sin(a) * gy[None]
    lo = proj.min(axis=(1, 2), keepdims=True)
    span = proj.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (proj - lo) / np.where(span > 0, span, 1.0), 0.0)


def _index(i: np.ndarray, size: int, border: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer source indices inside [0, size) per the border rule, and a mask of the in-image ones."""
    inside = (i >= 0) & (i < size)
    if border == "edge" or size == 1:
        return np.clip(i, 0, size - 1), inside | (border != "constant")
    if border == "reflect":
        period = 2 * (size - 1)
        j = np.abs(i) % period
        return np.where(j >= size, period - j, j), np.ones_like(inside)
    return np.clip(i, 0, size - 1), inside


def remap(img: np.ndarray, src_y: np.ndarray, src_x: np.ndarray, *, border: str = "constant",
          fill: float = 0.0) -> np.ndarray:
    """Sample ``img`` (N, C, H, W) at per-sample source positions (N, H, W) with bilinear interpolation.

    ``border``: ``constant`` (outside pixels read ``fill``), ``edge`` (nearest edge pixel) or ``reflect``.
    """
    n, c, h, w = img.shape
    flat = img.reshape(n, c, h * w)
    y0 = np.floor(src_y)
    x0 = np.floor(src_x)
    wy = (src_y - y0)[:, None]
    wx = (src_x - x0)[:, None]
    y0 = y0.astype(np.int64)
    x0 = x0.astype(np.int64)
    out = np.zeros((n, c, h, w))
    for dy, dx, weight in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                           (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):
        yi, my = _index(y0 + dy, h, border)
        xi, mx = _index(x0 + dx, w, border)
        idx = np.broadcast_to((yi * w + xi).reshape(n, 1, h * w), (n, c, h * w))
        vals = np.take_along_axis(flat, idx, axis=2).reshape(n, c, h, w)
        vals = np.where((my & mx)[:, None], vals, fill)
        out += weight * vals
    return out


def warp_linear(img: np.ndarray, inverse: np.ndarray, shift: np.ndarray | None = None, *,
                border: str = "constant", fill: float = 0.0) -> np.ndarray:
    """Apply per-sample linear maps about the image centre.

    ``inverse``: (N, 2, 2) matrices acting on centred (y, x) that take an output position back to its
    source; ``shift``: (N, 2) output-space translation (y, x) in pixels applied after the linear map.
    """
    n, _, h, w = img.shape
    gy, gx = centred_grid(h, w)
    oy, ox = gy[None], gx[None]
    if shift is not None:
        oy = oy - shift[:, 0, None, None]
        ox = ox - shift[:, 1, None, None]
    sy = inverse[:, 0, 0, None, None] * oy + inverse[:, 0, 1, None, None] * ox + (h - 1) / 2.0
    sx = inverse[:, 1, 0, None, None] * oy + inverse[:, 1, 1, None, None] * ox + (w - 1) / 2.0
    return remap(img, sy, sx, border=border, fill=fill)


def gaussian_kernels(sigma: np.ndarray) -> np.ndarray:
    """(N, 2r+1) normalised 1-D Gaussian kernels, one per σ (r = ceil(3 max σ), at least 1)."""
    sigma = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-3)
    r = max(1, int(np.ceil(3 * sigma.max())))
    t = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t[None, :] / sigma[:, None]) ** 2)
    return k / k.sum(axis=1, keepdims=True)


def blur(img: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur with a σ per sample (reflect padding; edge padding for tiny images)."""
    from numpy.lib.stride_tricks import sliding_window_view

    kernels = gaussian_kernels(sigma)
    r = kernels.shape[1] // 2
    out = img
    for axis in (2, 3):
        pad = [(0, 0)] * 4
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="reflect" if out.shape[axis] > r else "edge")
        windows = sliding_window_view(padded, kernels.shape[1], axis=axis)
        out = np.einsum("nchwk,nk->nchw", windows, kernels, optimize=True)
    return out
