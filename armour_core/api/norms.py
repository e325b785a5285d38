"""Lp norms and projections onto Lp balls, vectorised over the batch (float64 internally)."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

NORMS = ("linf", "l2", "l1", "l0")


def _flat(d: np.ndarray) -> np.ndarray:
    return d.reshape(d.shape[0], int(np.prod(d.shape[1:])))  # explicit width: works for empty batches too


def lp_norm(delta: np.ndarray, norm: str) -> np.ndarray:
    """Per-sample norm of a batch of perturbations."""
    f = _flat(np.asarray(delta, dtype=np.float64))
    if norm == "linf":
        return np.abs(f).max(axis=1)
    if norm == "l2":
        return np.sqrt((f * f).sum(axis=1))
    if norm == "l1":
        return np.abs(f).sum(axis=1)
    if norm == "l0":
        return (f != 0).sum(axis=1).astype(np.float64)
    raise InvalidInputError(f"norm={norm!r}: expected one of {', '.join(NORMS)}")


def project(delta: np.ndarray, eps: float, norm: str) -> np.ndarray:
    """Euclidean projection of each perturbation onto the ``norm`` ball of radius ``eps``.

    L0 keeps the ``eps`` largest-magnitude coordinates (eps is a coordinate count).
    """
    d = np.asarray(delta, dtype=np.float64)
    shape = d.shape
    f = _flat(d).copy()
    if norm == "linf":
        f = np.clip(f, -eps, eps)
    elif norm == "l2":
        n = np.sqrt((f * f).sum(axis=1, keepdims=True))
        f = np.where(n <= eps, f, f * (eps / np.maximum(n, 1e-300)))  # rows inside the ball stay as they are
    elif norm == "l1":
        f = _project_l1(f, eps)
    elif norm == "l0":
        k = int(eps)
        if k < f.shape[1]:
            drop = np.argsort(-np.abs(f), axis=1, kind="stable")[:, k:]
            np.put_along_axis(f, drop, 0.0, axis=1)
    else:
        raise InvalidInputError(f"norm={norm!r}: expected one of {', '.join(NORMS)}")
    return f.reshape(shape)


def _project_l1(f: np.ndarray, eps: float) -> np.ndarray:
    """Duchi et al. (2008) sort-based projection onto the L1 ball, row-wise (numpy; the gradient attacks'
    compiled loop has the same algorithm in MindSpore ops, to project inside the graph at every step)."""
    a = np.abs(f)
    inside = a.sum(axis=1) <= eps
    if inside.all():
        return f
    if eps <= 0:
        return np.zeros_like(f)
    u = -np.sort(-a, axis=1)
    css = np.cumsum(u, axis=1)
    idx = np.arange(1, f.shape[1] + 1)
    cond = u - (css - eps) / idx > 0
    cond[:, 0] = True  # holds in exact arithmetic; rounding can lose it when eps is tiny
    rho = f.shape[1] - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = (css[np.arange(f.shape[0]), rho] - eps) / (rho + 1)
    out = np.sign(f) * np.maximum(a - theta[:, None], 0.0)
    out[inside] = f[inside]
    return out


def clip_to_ball_and_bounds(x: np.ndarray, adv: np.ndarray, eps: float | None, norm: str,
                            bounds: tuple[float, float]) -> np.ndarray:
    """Project ``adv`` onto {x + d : ||d|| <= eps} and then onto the box ``bounds``.

    Clipping to the box after the ball projection never leaves the ball: for x inside the box it moves
    each coordinate of ``d`` towards zero.
    """
    x64 = x.astype(np.float64)
    d = adv.astype(np.float64) - x64
    if eps is not None:
        d = project(d, eps, norm)
    out = np.clip(x64 + d, bounds[0], bounds[1])
    out = out.astype(x.dtype)
    if eps is not None and norm != "l0":
        # float32 rounding of x + d can overshoot the ball by an ulp; pull those entries back towards x.
        for _ in range(4):
            d32 = out.astype(np.float64) - x64
            if norm == "linf":
                bad = np.abs(d32) > eps
                if not bad.any():
                    break
                out[bad] = np.nextafter(out[bad], x[bad])
            else:
                rows = lp_norm(d32, norm) > eps
                if not rows.any():
                    break
                d2 = project(d32[rows], eps * (1 - 1e-6), norm)
                out[rows] = np.clip(x64[rows] + d2, bounds[0], bounds[1]).astype(x.dtype)
    return out
