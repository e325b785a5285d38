"""Numpy building blocks of the gradient attacks: random starts inside Lp balls and steepest-ascent steps.

The compiled loop (:mod:`armour_plugins_attacks.gradient.loop`) implements the same steps in MindSpore; the
tests check that the two agree. Both backends exist on purpose, one algorithm each: the loop runs every step
inside one compiled graph (numpy there would cost a device round trip per step), while single-step attacks
and any numpy ``Classifier`` need them without MindSpore. The L1 ball projection follows the same rule:
numpy in :func:`armour_core.api.norms.project` (the base's final projection), MindSpore in the loop.
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


def steepest_step(g: np.ndarray, norm: str) -> np.ndarray:
    """The unit-length step that increases a loss linearised with gradient ``g`` the most, per row:
    ``sign(g)`` for L∞, ``g / ||g||_2`` for L2 (zero for a zero gradient). L1 steps depend on the bounds:
    see :func:`l1_box_step`."""
    g = np.asarray(g, dtype=np.float64)
    if norm == "linf":
        return np.sign(g)
    if norm == "l2":
        f = _rows(g)
        return (f / (np.linalg.norm(f, axis=1, keepdims=True) + _TINY)).reshape(g.shape)
    raise ValueError(f"norm={norm!r}: unit steepest-ascent steps exist for linf and l2")


def l1_box_step(g: np.ndarray, x: np.ndarray, bounds: tuple[float, float], budget: float,
                spread: int | None = None) -> np.ndarray:
    """The perturbation ``d`` maximising ``<g, d>`` subject to ``||d||_1 <= budget``, ``x + d`` inside
    ``bounds`` and (given ``spread``) ``|d_i| <= budget / spread``, per row.

    A fractional knapsack: every unit of L1 budget earns |g_i| on coordinate i, up to its room (distance to
    the bound in the direction of ``sign(g_i)``, capped at ``budget / spread``), so coordinates are filled
    greedily in order of |g|. Without ``spread`` it is the exact steepest-ascent step under L1 and box
    constraints (FGM-L1). With ``spread = k`` it is Tramèr & Boneh's sparse L1 descent (SLIDE: the budget
    split over the top-k coordinates) with water-filling: budget that does not fit next to a bound moves
    to the next coordinate instead of being clipped away (the compiled loop does the same).
    """
    f = _rows(np.asarray(g, dtype=np.float64))
    a = _rows(np.asarray(x, dtype=np.float64))
    lo, hi = bounds
    cap = np.where(f > 0, hi - a, np.where(f < 0, a - lo, 0.0))
    cap = np.maximum(cap, 0.0)
    if spread is not None:
        cap = np.minimum(cap, budget / spread)
    order = np.argsort(-np.abs(f), axis=1, kind="stable")
    caps = np.take_along_axis(cap, order, axis=1)
    before = np.cumsum(caps, axis=1) - caps
    amount = np.empty_like(caps)
    np.put_along_axis(amount, order, np.clip(budget - before, 0.0, caps), axis=1)
    return (np.sign(f) * amount).reshape(np.shape(g))
