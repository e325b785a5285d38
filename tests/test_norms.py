"""Projections onto Lp balls: inside the ball, idempotent, and the Euclidean nearest point."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from armour_core.api.norms import clip_to_ball_and_bounds, lp_norm, project

deltas = hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 12)),
                    elements=st.floats(-3, 3, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(d=deltas, eps=st.floats(0.0, 4.0), norm=st.sampled_from(["linf", "l2", "l1"]))
def test_projection_inside_and_idempotent(d, eps, norm):
    p = project(d, eps, norm)
    assert np.all(lp_norm(p, norm) <= eps * (1 + 1e-9) + 1e-12)
    np.testing.assert_allclose(project(p, eps, norm), p, atol=1e-9)
    inside = lp_norm(d, norm) <= eps
    np.testing.assert_allclose(p[inside], d[inside])


@settings(max_examples=40, deadline=None)
@given(d=deltas, eps=st.floats(0.01, 4.0))
def test_l1_projection_is_nearest_point(d, eps):
    """No random point of the L1 ball is closer to d than the projection (optimality)."""
    p = project(d, eps, "l1")
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = project(p + rng.normal(0, 0.05, p.shape), eps, "l1")
        assert np.all(((q - d) ** 2).sum(1) >= ((p - d) ** 2).sum(1) - 1e-9)


def test_l2_projection_scales_not_clips():
    """MindArmour clips coordinates to ±eps for L2 (norm 2.0 at eps 1.0 for a 4-vector); armour scales."""
    d = np.full((1, 4), 1.0)
    p = project(d, 1.0, "l2")
    assert np.isclose(lp_norm(p, "l2")[0], 1.0)
    np.testing.assert_allclose(p, d / 2.0)


def test_l0_keeps_largest_coordinates():
    d = np.array([[0.1, -3.0, 0.5, 2.0]])
    np.testing.assert_allclose(project(d, 2, "l0"), [[0.0, -3.0, 0.0, 2.0]])


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float32, (3, 7), elements=st.floats(0, 1, width=32)),
       noise=hnp.arrays(np.float32, (3, 7), elements=st.floats(-2, 2, width=32)),
       eps=st.floats(0, 1), norm=st.sampled_from(["linf", "l2", "l1"]))
def test_ball_and_bounds_in_float32(x, noise, eps, norm):
    out = clip_to_ball_and_bounds(x, x + noise, eps, norm, (0.0, 1.0))
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert np.all(lp_norm(out.astype(np.float64) - x.astype(np.float64), norm) <= eps * (1 + 1e-6) + 1e-7)
