"""Mutator semantics: geometry about the centre, per-sample parameters, data ranges, registry facets, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armour_core import registry
from armour_core.api.mutator import is_valid
from armour_plugins_fuzz.mutators.resolve import create_mutator, mutator_category, mutator_names
from armour_core.errors import ConfigError, InvalidInputError, UnknownPluginError


def mut(name, **config):
    return registry.create("mutator", name, **config)


def random_images(n=3, c=1, h=9, w=9, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, c, h, w)).astype(np.float32)


def test_rotating_by_90_degrees_four_times_is_the_identity():
    x = random_images(2, 3, 8, 8)
    r = mut("rotate")
    out = x
    for _ in range(4):
        out = r.mutate(out, {"degrees": 90.0})
    np.testing.assert_allclose(out, x, atol=1e-6)
    once = r.mutate(x, {"degrees": 90.0})  # counter-clockwise as displayed: the right column becomes the top row
    np.testing.assert_allclose(once[:, :, 0, :], x[:, :, :, -1], atol=1e-6)


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(angle=st.floats(-180, 180), factor=st.floats(0.5, 2.0), size=st.sampled_from([9, 11, 12]))
def test_centred_symmetric_pattern_stays_centred(angle, factor, size):
    """A radially symmetric blob at the image centre keeps its centre of mass under rotation and scaling
    (no hidden zoom or shift)."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    blob = np.exp(-((yy - c) ** 2 + (xx - c) ** 2) / (2 * 2.0 ** 2)).astype(np.float32)[None, None]
    for name, params in (("rotate", {"degrees": angle}), ("scale", {"factor": factor})):
        out = mut(name).mutate(blob, params)[0, 0].astype(np.float64)
        mass = out.sum()
        assert abs((out * yy).sum() / mass - c) < 1e-3 and abs((out * xx).sum() / mass - c) < 1e-3, name
    rotated = mut("rotate").mutate(blob, {"degrees": angle})
    np.testing.assert_allclose(rotated, blob, atol=0.05)  # symmetric: unchanged up to bilinear smoothing


def test_scale_zooms_about_the_centre_without_other_change():
    x = np.zeros((1, 1, 11, 11), np.float32)
    x[0, 0, 5, 7] = 1.0  # two pixels right of the centre (5, 5)
    out = mut("scale").mutate(x, {"factor": 2.0})
    y, xpos = np.unravel_index(np.argmax(out[0, 0]), (11, 11))
    assert (y, xpos) == (5, 9)  # now four pixels right of the centre
    np.testing.assert_allclose(mut("scale").mutate(x, {"factor": 1.0}), x, atol=1e-7)
    np.testing.assert_allclose(mut("rotate").mutate(x, {"degrees": 0.0}), x, atol=1e-7)


def test_translate_and_shear_move_pixels_exactly():
    x = random_images(2, 1, 10, 10)
    out = mut("translate").mutate(x, {"dx": 0.2, "dy": -0.1})  # 2 pixels right, 1 up; background fills in
    np.testing.assert_allclose(out[:, :, :-1, 2:], x[:, :, 1:, :-2], atol=1e-6)
    assert np.all(out[:, :, :, :2] == 0) and np.all(out[:, :, -1, :] == 0)
    edge = mut("translate", border="edge").mutate(x, {"dx": 0.2, "dy": 0.0})
    np.testing.assert_allclose(edge[:, :, :, 0], x[:, :, :, 0], atol=1e-6)
    sheared = mut("shear").mutate(x, {"x": 0.0, "y": 0.0})
    np.testing.assert_allclose(sheared, x, atol=1e-6)


def test_per_sample_parameters_apply_to_their_own_sample():
    x = random_images(3)
    params = {"degrees": np.array([0.0, 90.0, 0.0])}
    out = mut("rotate").mutate(x, params)
    np.testing.assert_allclose(out[[0, 2]], x[[0, 2]], atol=1e-6)
    np.testing.assert_allclose(out[1], mut("rotate").mutate(x[1:2], {"degrees": 90.0})[0], atol=1e-6)
    blurred = mut("gaussian_blur").mutate(x, {"sigma": np.array([0.0, 1.0, 2.0])})
    d = np.abs(blurred - x).mean(axis=(1, 2, 3))
    assert d[0] < 1e-3 < d[1] < d[2]


def test_intensities_follow_the_data_range():
    x = random_images(4, seed=1) * 0.5 + 0.25
    for name, params in (("gaussian_noise", {"sigma": 0.05}), ("uniform_noise", {"amplitude": 0.05}),
                         ("contrast", {"alpha": 1.0, "beta": 0.1}),
                         ("gradient_luminance", {"strength": 0.2, "angle": 30.0})):
        unit = mut(name, seed=5).mutate(x, params)
        byte = mut(name, seed=5, bounds=(0, 255)).mutate(x * 255, params)
        np.testing.assert_allclose(byte / 255, unit, atol=1e-4, err_msg=name)


def test_noise_statistics_and_salt_and_pepper_density():
    x = np.full((8, 1, 32, 32), 0.5, np.float32)
    g = mut("gaussian_noise").mutate(x, {"sigma": 0.1}) - 0.5
    # sample sd of 8192 normals: relative error sd ≈ 1/sqrt(2n) ≈ 0.8%; 5 sigma
    assert abs(g.std() / 0.1 - 1) < 5 / np.sqrt(2 * g.size)
    sp = mut("salt_and_pepper").mutate(np.repeat(x, 3, axis=1), {"density": 0.2})
    changed = (sp != 0.5).any(axis=1)
    assert np.all((sp == 0.5).all(axis=1) | (sp == sp[:, :1]).all(axis=1))  # channels change together
    p = changed.mean()
    assert abs(p - 0.2) < 5 * np.sqrt(0.2 * 0.8 / changed.size)
    assert set(np.unique(sp[np.repeat(changed[:, None], 3, axis=1)])) <= {0.0, 1.0}


def test_deterministic_under_seed_and_rng():
    x = random_images(4)
    for name in ("perspective", "natural_noise", "gaussian_noise"):
        a = mut(name, seed=11).mutate(x)
        b = mut(name, seed=11).mutate(x)
        c = mut(name, seed=12).mutate(x)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        m = mut(name, seed=None)
        np.testing.assert_array_equal(m.mutate(x, rng=np.random.default_rng(3)),
                                      m.mutate(x, rng=np.random.default_rng(3)))


def test_tensor_in_tensor_out():
    ms = pytest.importorskip("mindspore")
    x = random_images(2)
    out = mut("rotate").mutate(ms.Tensor(x))
    assert isinstance(out, ms.Tensor) and out.shape == x.shape


def test_categories_come_from_records():
    """A mutator's category is its record's (adversarial ones, which need attacks, are checked in
    tests/test_trust_fuzz_with_attacks.py)."""
    for name in registry.names("mutator"):
        assert mutator_category(name) == registry.spec("mutator", name).facet.category \
            == registry.get("mutator", name).category
    assert set(mutator_names("affine")) == {"translate", "scale", "shear", "rotate", "perspective", "curve"}


def test_clear_errors():
    with pytest.raises(UnknownPluginError, match="rotate"):
        create_mutator("rotat")
    with pytest.raises(ConfigError, match="degrees"):
        mut("rotate", degrees=(30, -30))  # min above max
    with pytest.raises(ConfigError, match="sigma"):
        mut("gaussian_blur", sigma=(-1, 2))  # outside the allowed limits
    with pytest.raises(ConfigError, match="border"):
        mut("rotate", border="wrap")
    with pytest.raises(InvalidInputError, match="images"):
        mut("rotate").mutate(np.zeros((4, 64), np.float32))  # flat input to an image mutator
    assert mut("gaussian_noise").mutate(np.zeros((4, 64), np.float32)).shape == (4, 64)  # noise: any shape
    with pytest.raises(InvalidInputError, match="params"):
        mut("rotate").mutate(random_images(), {"angle": 3.0})
    with pytest.raises(InvalidInputError, match="degrees"):
        mut("rotate").mutate(random_images(), {"degrees": 1e4})
    with pytest.raises(InvalidInputError, match="bounds"):
        mut("rotate", bounds=(1, 0))
    with pytest.raises(InvalidInputError, match="bounds"):
        mut("contrast", bounds=(0, 1)).mutate(random_images() * 255)


def test_validity_knows_the_data_range():
    x = random_images(2)
    small = x + 0.1
    assert is_valid(x, small, bounds=(0, 1), beta=0.2).all()
    assert is_valid(x * 255, small * 255, bounds=(0, 255), beta=0.2).all()  # same change in 0-255 units
    big = x.copy()
    big[:, 0, :5, :5] += 0.5
    assert not is_valid(x, big, bounds=(0, 1), alpha=0.02, beta=0.2).any()
    assert is_valid(x, big, bounds=(0, 1), alpha=0.5, beta=0.2).all()  # 25 of 81 pixels changed < 50%
