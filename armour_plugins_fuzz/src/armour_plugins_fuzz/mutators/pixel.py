"""Pixel-value (natural) mutators, vectorised over the batch with one parameter set per sample.

Intensities are fractions of the data range (``self.span``), so the same config mutates [0, 1] and [0, 255]
data alike. Noise mutators accept any input shape; the others need images (N, C, H, W) or (N, H, W).
"""

from __future__ import annotations

import abc

import numpy as np

from armour_core.api.mutator import Mutator

from .configs import (ContrastConfig, GaussianBlurConfig, GaussianNoiseConfig, GradientBlurConfig,
                      GradientLuminanceConfig, MotionBlurConfig, NaturalNoiseConfig, SaltAndPepperConfig,
                      UniformNoiseConfig)
from .geometry import as_images, blur, ramp, remap


def _per_sample(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-sample vector shaped to broadcast against a batch of ``ndim`` dimensions."""
    return np.asarray(v, dtype=np.float64).reshape((-1,) + (1,) * (ndim - 1))


class _Pixel(Mutator):
    """A pixel-value mutator (the category its record derives from this module's name)."""

    category = "pixel"


class GaussianBlur(_Pixel):
    """Separable Gaussian blur; each sample gets its own σ from ``config.sigma``."""

    Config = GaussianBlurConfig
    ranges = ("sigma",)

    def _mutate(self, x, params, rng):
        return blur(as_images(x), params["sigma"]).reshape(x.shape)


class Contrast(_Pixel):
    """Contrast about each image's mean (factor ``alpha``) plus a brightness shift ``beta`` (of the range)."""

    Config = ContrastConfig
    image_only = False
    ranges = ("alpha", "beta")

    def _mutate(self, x, params, rng):
        a = x.astype(np.float64)
        axes = tuple(range(1, a.ndim))
        mean = a.mean(axis=axes, keepdims=True)
        alpha, beta = _per_sample(params["alpha"], a.ndim), _per_sample(params["beta"], a.ndim)
        return (a - mean) * alpha + mean + beta * self.span


class GradientLuminance(_Pixel):
    """A linear brightness ramp across the image: unchanged at one edge, ``strength`` (of the range) at the
    opposite edge, along direction ``angle`` (a light source off to one side)."""

    Config = GradientLuminanceConfig
    ranges = ("strength", "angle")

    def _mutate(self, x, params, rng):
        img = as_images(x)
        r = ramp(img.shape[:1] + img.shape[2:], params["angle"])[:, None]
        return (img + _per_sample(params["strength"], 4) * self.span * r).reshape(x.shape)


class MotionBlur(_Pixel):
    """Linear motion blur: the mean of ``taps`` copies shifted evenly along a streak of ``length`` pixels at
    ``angle`` degrees (sub-pixel shifts interpolated; edges extended)."""

    Config = MotionBlurConfig
    ranges = ("length", "angle")

    def _mutate(self, x, params, rng):
        img = as_images(x)
        n, _, h, w = img.shape
        a = np.deg2rad(params["angle"])
        uy, ux = -np.sin(a) * params["length"], np.cos(a) * params["length"]
        yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        out = np.zeros_like(img)
        for t in np.linspace(-0.5, 0.5, self.config.taps):
            out += remap(img, yy[None] + t * uy[:, None, None], xx[None] + t * ux[:, None, None], border="edge")
        return (out / self.config.taps).reshape(x.shape)


class GradientBlur(_Pixel):
    """Blur that grows from none at one edge to Gaussian ``sigma`` at the opposite edge along ``angle``
    (a lens focused on one side)."""

    Config = GradientBlurConfig
    ranges = ("sigma", "angle")

    def _mutate(self, x, params, rng):
        img = as_images(x)
        m = ramp(img.shape[:1] + img.shape[2:], params["angle"])[:, None]
        return ((1 - m) * img + m * blur(img, params["sigma"])).reshape(x.shape)


class _AdditiveNoise(_Pixel):
    """Element-wise additive noise: unit noise (:meth:`_unit`) times a per-sample fraction of the data range,
    the mutator's one ranged parameter."""

    image_only = False

    @abc.abstractmethod
    def _unit(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Noise of ``shape`` at unit scale."""

    def _mutate(self, x, params, rng):
        return x + self._unit(rng, x.shape) * _per_sample(params[self.ranges[0]], x.ndim) * self.span


class UniformNoise(_AdditiveNoise):
    """Additive noise, uniform on [-amplitude, amplitude] times the data range, independent per element."""

    Config = UniformNoiseConfig
    ranges = ("amplitude",)

    def _unit(self, rng, shape):
        return rng.uniform(-1.0, 1.0, size=shape)


class GaussianNoise(_AdditiveNoise):
    """Additive Gaussian noise with standard deviation ``sigma`` times the data range."""

    Config = GaussianNoiseConfig
    ranges = ("sigma",)

    def _unit(self, rng, shape):
        return rng.standard_normal(size=shape)


class SaltAndPepper(_Pixel):
    """A fraction ``density`` of pixels set to the lower (pepper) or upper (salt) bound, half each; all
    channels of a chosen pixel change together. Flat inputs are treated element-wise."""

    Config = SaltAndPepperConfig
    image_only = False
    ranges = ("density",)

    def _mutate(self, x, params, rng):
        mask_shape = (x.shape[0], 1) + x.shape[2:] if x.ndim == 4 else x.shape
        u = rng.random(mask_shape)
        d = _per_sample(params["density"], len(mask_shape))
        lo, hi = self.bounds
        out = np.where(u < d / 2, lo, x)
        return np.where((u >= d / 2) & (u < d), hi, out)


class NaturalNoise(_Pixel):
    """Dust and specks: seed pixels drawn with probability ``density`` grow into square spots ``size``
    pixels wide whose brightness shifts by ``intensity`` (of the range; each spot's strength varies between
    half and all of it)."""

    Config = NaturalNoiseConfig
    ranges = ("density", "size", "intensity")

    def _mutate(self, x, params, rng):
        img = as_images(x)
        n, _, h, w = img.shape
        seeds = rng.random((n, 1, h, w)) < _per_sample(params["density"], 4)
        strength = rng.uniform(0.5, 1.0, size=(n, 1, h, w)) * seeds
        size = np.maximum(1, np.rint(params["size"]).astype(int))
        lo_off = -((size - 1) // 2)  # a spot of width s spans offsets lo_off .. lo_off + s - 1
        rmax = int(size.max())
        spot = np.zeros((n, 1, h, w))
        padded = np.pad(strength, ((0, 0), (0, 0), (rmax, rmax), (rmax, rmax)))
        for dy in range(-rmax, rmax + 1):
            for dx in range(-rmax, rmax + 1):
                ok = ((dy >= lo_off) & (dy < lo_off + size) & (dx >= lo_off) & (dx < lo_off + size))
                if not ok.any():
                    continue
                shifted = padded[:, :, rmax - dy:rmax - dy + h, rmax - dx:rmax - dx + w]
                spot = np.maximum(spot, shifted * ok[:, None, None, None])
        return (img + _per_sample(params["intensity"], 4) * self.span * spot).reshape(x.shape)
