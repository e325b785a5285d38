"""Suppressor policies beyond the kit's contract (test_kit.py): what each policy suppresses, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.api.suppressor import mask_sparsity
from armour_core.errors import InvalidInputError
from armour_plugins_privacy.suppress.suppressors import lamp_scores


def test_layerwise_allocates_one_global_budget():
    """LAMP allocates one global budget across layers, so the declared sparsity is the global one, exactly."""
    rng = np.random.default_rng(0)
    weights = {"fc1.weight": rng.normal(size=(16, 8)), "conv.weight": 3 * rng.normal(size=(4, 2, 3, 3))}
    total = sum(w.size for w in weights.values())
    for s in (0.0, 0.1, 0.37, 0.5, 0.9, 0.95):
        masks = registry.create("suppressor", "layerwise").masks(weights, s)
        suppressed = sum(int((~m).sum()) for m in masks.values())
        assert suppressed == int(round(s * total)), f"global count wrong at {s}"
        for k, w in weights.items():
            assert masks[k].shape == w.shape and masks[k].dtype == bool and masks[k].any()


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=(30, 20)), "b": 0.01 * rng.normal(size=(50,)), "c": rng.normal(size=(3, 3, 4))}


def test_magnitude_suppresses_the_smallest():
    w = _weights()
    masks = registry.create("suppressor", "magnitude").masks(w, 0.7)
    for k in w:
        kept, dropped = np.abs(w[k][masks[k]]), np.abs(w[k][~masks[k]])
        assert dropped.max() <= kept.min()


def test_random_is_nested_and_seeded():
    w = _weights()
    sup = registry.create("suppressor", "random", seed=3)
    low, high = sup.masks(w, 0.3, step=1), sup.masks(w, 0.8, step=50)
    for k in w:
        assert np.all(high[k] <= low[k])  # everything kept at 0.8 was kept at 0.3
    again = registry.create("suppressor", "random", seed=3).masks(w, 0.3)
    other = registry.create("suppressor", "random", seed=4).masks(w, 0.3)
    assert all(np.array_equal(low[k], again[k]) for k in w)
    assert not all(np.array_equal(low[k], other[k]) for k in w)


def test_lamp_scores_and_allocation():
    w = np.array([3.0, -1.0, 2.0, 0.5])
    # ascending squares 0.25, 1, 4, 9; tails 14.25, 14, 13, 9
    assert np.allclose(lamp_scores(w), [1.0, 1 / 14, 4 / 13, 0.25 / 14.25])
    weights = _weights()
    masks = registry.create("suppressor", "layerwise").masks(weights, 0.6)
    sp = mask_sparsity(masks)
    # layer b is 100x smaller in scale but LAMP is scale-free per layer: it is not wiped out
    assert sp["b"] < 0.95 and all(m.any() for m in masks.values())
    assert sp["__all__"] == pytest.approx(round(0.6 * 686) / 686)
    # magnitude-based within each layer
    for k in weights:
        if (~masks[k]).any():
            assert np.abs(weights[k][~masks[k]]).max() <= np.abs(weights[k][masks[k]]).min()


def test_per_layer_dict_and_min_keep():
    w = _weights()
    sup = registry.create("suppressor", "magnitude")
    masks = sup.masks(w, {"a": 0.5, "b": 0.0, "c": 0.9}, min_keep={"c": 10})
    sp = mask_sparsity(masks)
    assert sp["a"] == pytest.approx(0.5) and sp["b"] == 0.0
    assert masks["c"].sum() == 10  # 0.9 of 36 would leave 4; min_keep keeps 10


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), "x"])
def test_sparsity_out_of_range(bad):
    with pytest.raises(InvalidInputError, match="sparsity"):
        registry.create("suppressor", "magnitude").masks(_weights(), bad)


def test_bad_weights_and_layer_dicts():
    sup = registry.create("suppressor", "magnitude")
    with pytest.raises(InvalidInputError, match="weights"):
        sup.masks({}, 0.5)
    with pytest.raises(InvalidInputError, match="NaN"):
        sup.masks({"a": np.array([1.0, np.nan])}, 0.5)
    with pytest.raises(InvalidInputError, match="missing"):
        sup.masks(_weights(), {"a": 0.5})
    with pytest.raises(InvalidInputError, match="min_keep"):
        sup.masks(_weights(), 0.5, min_keep={"zz": 1})
