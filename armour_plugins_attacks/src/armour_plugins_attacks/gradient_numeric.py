"""Numpy building blocks of the gradient attacks: random starts inside Lp balls and steepest-ascent steps.

The compiled loop (:mod:`armour_plugins_attacks._graph`) implements the same steps in MindSpore; the
tests check that the two agree.
"""

from __future__ import annotations

import math

import numpy as np

_TINY = 1e-12


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


def random_in_ball(rng: np.random.Generator, shape: tuple[int, ...], eps: float, norm: str) -> np.ndarray:
    """Points drawn uniformly from the ``norm`` ball of radius ``eps`` (one per row), float64.

    L∞: uniform in the cube. L2: a Gaussian direction (uniform on the sphere) at radius ``eps * U^(1/d)``.
    L1: exponential spacings normalised by the sum of ``d + 1`` of them, which is uniform on the solid
    simplex, with random signs.
    """
    n, d = shape[0], int(np.prod(shape[1:]))
    if norm == "linf":
        out = rng.uniform(-eps, eps, size=(n, d))
    elif norm == "l2":
        v = rng.standard_normal((n, d))
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), _TINY)
        out = v * (eps * rng.uniform(size=(n, 1)) ** (1.0 / d))
    elif norm == "l1":
        e = rng.exponential(size=(n, d + 1))
        out = e[:, :d] / e.sum(axis=1, keepdims=True) * rng.choice([-1.0, 1.0], size=(n, d)) * eps
    else:
        raise ValueError(f"norm={norm!r}: random starts exist for linf, l2 and l1")
    return out.reshape(shape)


def random_direction(rng: np.random.Generator, shape: tuple[int, ...], norm: str) -> np.ndarray:
    """A random point on the unit sphere of ``norm`` (the random step of R+FGSM and its L2 analogue).

    L∞: ``sign`` of Gaussian noise (Tramèr et al. 2018). L2: a Gaussian vector normalised to L2 length 1 —
    L2 noise, not sign noise (MindArmour's random L2 attacks draw sign noise).
    """
    g = rng.standard_normal(shape)
    if norm == "linf":
        return np.sign(g)
    if norm == "l2":
        return (_rows(g) / np.maximum(np.linalg.norm(_rows(g), axis=1, keepdims=True), _TINY)).reshape(shape)
    raise ValueError(f"norm={norm!r}: random steps exist for linf and l2")


def sparse_count(dim: int, sparsity: float) -> int:
    """How many coordinates the sparse L1 step moves: those at or above the ``sparsity`` percentile."""
    return max(1, min(dim, math.ceil((1.0 - sparsity / 100.0) * dim)))


def steepest_step(g: np.ndarray, norm: str, *, x: np.ndarray | None = None,
                  bounds: tuple[float, float] | None = None, sparsity: float = 99.0) -> np.ndarray:
    """The unit-norm step that increases a linearised loss with gradient ``g`` the most, per row.

    L∞: ``sign(g)``. L2: ``g / ||g||_2``. L1: Tramèr & Boneh's sparse step — signs of the coordinates whose
    |g| reaches the ``sparsity`` percentile, normalised to L1 length 1; coordinates that sit at a bound and
    would be pushed outside are skipped (given ``x`` and ``bounds``), so the budget is not wasted on them.
    A zero gradient gives a zero step.
    """
    g = np.asarray(g, dtype=np.float64)
    if norm == "linf":
        return np.sign(g)
    f = _rows(g).copy()
    if norm == "l2":
        return (f / (np.linalg.norm(f, axis=1, keepdims=True) + _TINY)).reshape(g.shape)
    if norm != "l1":
        raise ValueError(f"norm={norm!r}: steepest-ascent steps exist for linf, l2 and l1")
    if x is not None and bounds is not None:
        a = _rows(np.asarray(x, dtype=np.float64))
        movable = ((f > 0) & (a < bounds[1])) | ((f < 0) & (a > bounds[0]))
        f = f * movable
    m = np.abs(f)
    k = sparse_count(f.shape[1], sparsity)
    thr = -np.sort(-m, axis=1)[:, k - 1:k]
    e = np.sign(f) * ((m >= thr) & (m > 0))
    return (e / (np.abs(e).sum(axis=1, keepdims=True) + _TINY)).reshape(g.shape)


def l1_box_step(g: np.ndarray, x: np.ndarray, bounds: tuple[float, float], budget: float) -> np.ndarray:
    """The perturbation ``d`` maximising ``<g, d>`` subject to ``||d||_1 <= budget`` and ``x + d`` inside
    ``bounds``, per row: the exact steepest-ascent step of a linearised loss under L1 and box constraints.

    A fractional knapsack: every unit of L1 budget earns |g_i| on coordinate i, up to its distance to the
    bound in the direction of ``sign(g_i)``; so coordinates are filled greedily in order of |g|.
    """
    f = _rows(np.asarray(g, dtype=np.float64))
    a = _rows(np.asarray(x, dtype=np.float64))
    lo, hi = bounds
    cap = np.where(f > 0, hi - a, np.where(f < 0, a - lo, 0.0))
    cap = np.maximum(cap, 0.0)
    order = np.argsort(-np.abs(f), axis=1, kind="stable")
    caps = np.take_along_axis(cap, order, axis=1)
    before = np.cumsum(caps, axis=1) - caps
    amount = np.empty_like(caps)
    np.put_along_axis(amount, order, np.clip(budget - before, 0.0, caps), axis=1)
    return (np.sign(f) * amount).reshape(np.shape(g))
