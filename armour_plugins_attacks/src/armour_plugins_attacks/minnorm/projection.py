"""Exact minimum-norm projection onto a hyperplane inside a box (FAB's inner step), vectorised by rows.

Solve, per row, ``min ||δ||_p  s.t.  w·δ = r,  l ≤ δ ≤ u`` (``l ≤ 0 ≤ u`` as the box contains the point).
KKT gives ``δ(λ) = clip(λ·w̃, l, u)`` for L2 and ``δ(t) = clip(t·sign(w̃), l, u)`` for L∞ (``w̃ = sign(r)·w``),
and ``g(λ) = w̃·δ(λ)`` is piecewise linear and non-decreasing: each coordinate contributes ``a_j·λ`` until
its breakpoint ``τ_j`` where it saturates. Sorting the breakpoints gives ``g`` at every breakpoint and the
exact ``λ`` with ``g(λ) = |r|``; when even the saturated box cannot reach the plane the box corner that
gets closest is returned.
"""

from __future__ import annotations

import numpy as np


def _solve(slope: np.ndarray, brk: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Smallest λ ≥ 0 with ``Σ_j slope_j·min(λ, brk_j) = need`` (or max breakpoint if unreachable)."""
    order = np.argsort(brk, axis=1, kind="stable")
    b_sorted = np.take_along_axis(brk, order, axis=1)
    a_sorted = np.take_along_axis(slope, order, axis=1)
    full = a_sorted * b_sorted
    before = np.cumsum(full, axis=1) - full
    after = np.cumsum(a_sorted[:, ::-1], axis=1)[:, ::-1]
    reach = before + b_sorted * after
    ok = reach >= need[:, None]
    feasible = ok.any(axis=1)
    k = np.argmax(ok, axis=1)
    rows = np.arange(len(need))
    lam = (need - before[rows, k]) / np.maximum(after[rows, k], 1e-30)
    return np.where(feasible, lam, b_sorted[:, -1])


def project_onto_hyperplane(w: np.ndarray, r: np.ndarray, low: np.ndarray, high: np.ndarray,
                            norm: str) -> np.ndarray:
    """δ (B, d) of minimal ``norm`` with ``w·δ = r`` and ``low ≤ δ ≤ high`` (closest reachable otherwise)."""
    s = np.where(r >= 0, 1.0, -1.0)[:, None]
    wt = s * w
    need = np.abs(r)
    # room in the direction of w̃ for each coordinate (the bound it saturates against)
    room = np.where(wt > 0, high, np.where(wt < 0, -low, 0.0))
    room = np.maximum(room, 0.0)
    aw = np.abs(wt)
    if norm == "l2":
        slope = wt * wt
        brk = np.where(aw > 0, room / np.maximum(aw, 1e-30), 0.0)
        lam = _solve(slope, brk, need)
        return np.clip(lam[:, None] * wt, low, high)
    slope = aw
    brk = np.where(aw > 0, room, 0.0)
    lam = _solve(slope, brk, need)
    return np.clip(lam[:, None] * np.sign(wt), low, high)
