"""Affine and geometric mutators, about the image centre, vectorised over the batch.

Each output pixel is mapped back to its source position and sampled bilinearly. Scale and rotation act
about the image centre ((H - 1) / 2, (W - 1) / 2) and do nothing else: a rotation never zooms to hide the
corners (MindArmour's pitfall), so rotating a square image by 90° four times gives it back, and a centred
symmetric pattern stays centred under any rotation or scale. Pixels that come from outside the image are
filled per ``border`` (default: the lower bound of the data range, i.e. background).
"""

from __future__ import annotations

import numpy as np

from armour_core.api.mutator import Mutator

from .configs import (CurveConfig, PerspectiveConfig, RotateConfig, ScaleConfig, ShearConfig,
                      TranslateConfig)
from .geometry import as_images, remap, warp_linear


class _Affine(Mutator):
    category = "affine"

    def _warp(self, x: np.ndarray, inverse: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
        img = as_images(x)
        out = warp_linear(img, inverse, shift, border=self.config.border, fill=self.bounds[0])
        return out.reshape(x.shape)


class Translate(_Affine):
    """Shift by ``dx`` of the width and ``dy`` of the height (positive: right and down)."""

    Config = TranslateConfig
    ranges = ("dx", "dy")

    def _mutate(self, x, params, rng):
        h, w = x.shape[-2:]
        n = x.shape[0]
        shift = np.stack([params["dy"] * h, params["dx"] * w], axis=1)
        return self._warp(x, np.broadcast_to(np.eye(2), (n, 2, 2)), shift)


class Scale(_Affine):
    """Isotropic zoom by ``factor`` about the image centre."""

    Config = ScaleConfig
    ranges = ("factor",)

    def _mutate(self, x, params, rng):
        inv = np.eye(2)[None] / params["factor"][:, None, None]
        return self._warp(x, inv)


class Shear(_Affine):
    """Shear about the centre: x' = x + sx·(y − cy), y' = y + sy·(x − cx)."""

    Config = ShearConfig
    ranges = ("x", "y")

    def _mutate(self, x, params, rng):
        sx, sy = params["x"], params["y"]
        fwd = np.empty((x.shape[0], 2, 2))  # acts on (y, x)
        fwd[:, 0, 0], fwd[:, 0, 1] = 1.0, sy
        fwd[:, 1, 0], fwd[:, 1, 1] = sx, 1.0
        return self._warp(x, np.linalg.pinv(fwd))


class Rotate(_Affine):
    """Rotation by ``degrees`` (counter-clockwise as displayed) about the image centre, with no zoom."""

    Config = RotateConfig
    ranges = ("degrees",)

    def _mutate(self, x, params, rng):
        a = np.deg2rad(params["degrees"])
        c, s = np.cos(a), np.sin(a)
        # forward map on centred (y, x), y pointing down: y' = c·y − s·x, x' = s·y + c·x; inverse = transpose
        inv = np.empty((x.shape[0], 2, 2))
        inv[:, 0, 0], inv[:, 0, 1] = c, s
        inv[:, 1, 0], inv[:, 1, 1] = -s, c
        return self._warp(x, inv)


class Perspective(_Affine):
    """Projective warp: each image corner moves by up to ``distortion`` of the size in a random direction
    (drawn from the mutator's generator, so it is reproducible)."""

    Config = PerspectiveConfig
    ranges = ("distortion",)

    def _mutate(self, x, params, rng):
        img = as_images(x)
        n, _, h, w = img.shape
        corners = np.array([[0, 0], [0, w - 1], [h - 1, w - 1], [h - 1, 0]], dtype=np.float64)  # (y, x)
        moves = rng.uniform(-1.0, 1.0, size=(n, 4, 2)) * params["distortion"][:, None, None] * np.array([h, w])
        dst = corners[None] + moves
        hom = _homographies(dst, np.broadcast_to(corners, dst.shape))  # output -> source
        yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        pts = np.stack([yy.ravel(), xx.ravel(), np.ones(h * w)])  # (3, HW)
        src = hom @ pts  # (N, 3, HW)
        z = src[:, 2]
        z = np.where(np.abs(z) < 1e-12, 1e-12, z)
        sy = (src[:, 0] / z).reshape(n, h, w)
        sx = (src[:, 1] / z).reshape(n, h, w)
        return remap(img, sy, sx, border=self.config.border, fill=self.bounds[0]).reshape(x.shape)


def _homographies(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(N, 3, 3) homographies taking the 4 points ``src[n]`` to ``dst[n]`` (both (N, 4, 2)), in one solve."""
    n = src.shape[0]
    a = np.zeros((n, 8, 8))
    b = np.zeros((n, 8))
    for i in range(4):
        u, v = src[:, i, 0], src[:, i, 1]
        p, q = dst[:, i, 0], dst[:, i, 1]
        a[:, 2 * i] = np.stack([u, v, np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n), -u * p, -v * p], 1)
        a[:, 2 * i + 1] = np.stack([np.zeros(n), np.zeros(n), np.zeros(n), u, v, np.ones(n), -u * q, -v * q], 1)
        b[:, 2 * i], b[:, 2 * i + 1] = p, q
    sol = np.linalg.solve(a, b[..., None])[..., 0]
    return np.concatenate([sol, np.ones((n, 1))], axis=1).reshape(n, 3, 3)


class Curve(_Affine):
    """Sinusoidal bend: each row shifts sideways by ``amplitude``·width·sin(2π·``periods``·row/height +
    ``phase``°), like a page that is not flat."""

    Config = CurveConfig
    ranges = ("amplitude", "periods", "phase")

    def _mutate(self, x, params, rng):
        img = as_images(x)
        n, _, h, w = img.shape
        yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        arg = (2 * np.pi * params["periods"][:, None, None] * yy[None] / h
               + np.deg2rad(params["phase"])[:, None, None])
        shift = params["amplitude"][:, None, None] * w * np.sin(arg)
        sx = xx[None] - shift
        sy = np.broadcast_to(yy, sx.shape)
        return remap(img, sy, sx, border=self.config.border, fill=self.bounds[0]).reshape(x.shape)
