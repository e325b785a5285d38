"""Noise from the operating system's CSPRNG (``os.urandom``), for deployments where a seeded PRNG is
not acceptable (an attacker who learns a PRNG seed can subtract the noise).

Uniforms carry 53 random bits and are drawn from ``(0, 1]`` for the logarithm, so the Box–Muller normals
never hit ``log(0)``; both Box–Muller outputs are used. Like every floating-point sampler this is not
immune to the precision attacks on floating-point DP noise (Mironov 2012); it removes the seed as an
attack surface, which is what the ``secure=True`` option promises.
"""

from __future__ import annotations

import math
import os

import numpy as np

_SCALE = 1.0 / (1 << 53)


def _count(size) -> int:
    if size is None:
        return 1
    return int(math.prod(np.atleast_1d(size).tolist()))


def _shape(values: np.ndarray, size):
    return values.reshape(size) if size is not None else values[0]


class SecureGenerator:
    """The subset of ``numpy.random.Generator`` armour's mechanisms use, drawn from ``os.urandom``."""

    def _uniform53(self, n: int) -> np.ndarray:
        raw = np.frombuffer(os.urandom(8 * n), dtype=np.uint64) >> np.uint64(11)
        return raw.astype(np.float64) * _SCALE

    def random(self, size=None, dtype=np.float64):
        """Uniforms on [0, 1)."""
        return _shape(self._uniform53(_count(size)).astype(dtype, copy=False), size)

    def uniform(self, low=0.0, high=1.0, size=None):
        return low + (high - low) * self.random(size)

    def standard_normal(self, size=None, dtype=np.float64):
        n = _count(size)
        m = (n + 1) // 2
        u1 = 1.0 - self._uniform53(m)  # (0, 1]: log is finite
        u2 = self._uniform53(m)
        r = np.sqrt(-2.0 * np.log(u1))
        theta = 2.0 * np.pi * u2
        z = np.empty(2 * m)
        z[0::2] = r * np.cos(theta)
        z[1::2] = r * np.sin(theta)
        return _shape(z[:n].astype(dtype, copy=False), size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return loc + scale * self.standard_normal(size)

    def integers(self, low, high=None, size=None):
        """Uniform integers in ``[low, high)`` by rejection (no modulo bias)."""
        if high is None:
            low, high = 0, low
        span = int(high) - int(low)
        if span <= 0:
            raise ValueError(f"high must exceed low, got low={low}, high={high}")
        n = _count(size)
        limit = (1 << 64) - ((1 << 64) % span)
        out = np.empty(n, dtype=np.int64)
        filled = 0
        while filled < n:
            raw = np.frombuffer(os.urandom(8 * (n - filled)), dtype=np.uint64)
            ok = raw[raw < np.uint64(limit)] if limit < (1 << 64) else raw
            take = ok[: n - filled]
            out[filled:filled + take.size] = (take % np.uint64(span)).astype(np.int64) + int(low)
            filled += take.size
        return _shape(out, size)


def secure_generator() -> SecureGenerator:
    return SecureGenerator()
