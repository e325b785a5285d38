"""Noise from the operating system's CSPRNG (``os.urandom``), for deployments where a seeded PRNG is
not acceptable. Normals use the Box–Muller transform on 53-bit uniforms."""

from __future__ import annotations

import os

import numpy as np


class SecureGenerator:
    """The subset of ``numpy.random.Generator`` armour's mechanisms use, drawn from ``os.urandom``."""

    def random(self, size=None) -> np.ndarray:
        n = int(np.prod(size)) if size is not None else 1
        raw = np.frombuffer(os.urandom(8 * n), dtype=np.uint64) >> np.uint64(11)
        u = raw.astype(np.float64) * (1.0 / (1 << 53))
        return u.reshape(size) if size is not None else u[0]

    def uniform(self, low=0.0, high=1.0, size=None) -> np.ndarray:
        return low + (high - low) * self.random(size)

    def standard_normal(self, size=None) -> np.ndarray:
        n = int(np.prod(size)) if size is not None else 1
        m = (n + 1) // 2
        u1 = 1.0 - self.random(m)  # (0, 1]: log is finite
        u2 = self.random(m)
        r = np.sqrt(-2.0 * np.log(u1))
        z = np.concatenate([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)])[:n]
        return z.reshape(size) if size is not None else z[0]

    def normal(self, loc=0.0, scale=1.0, size=None) -> np.ndarray:
        return loc + scale * self.standard_normal(size)


def secure_generator() -> SecureGenerator:
    return SecureGenerator()
