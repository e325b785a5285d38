"""Bad inputs get clear errors that name the argument; the fuzzer runs on NumPy >= 1.24."""

from __future__ import annotations

import numpy as np
import pytest
from fuzz_helpers import IntegerShift

from armour_core.errors import ConfigError, InvalidInputError, UnknownPluginError
from armour_plugins_fuzz.fuzzer import Fuzzer


@pytest.fixture(scope="module")
def fz(armour_lenet):
    return Fuzzer(armour_lenet, ["gaussian_blur"], coverage="neuron", mutants_per_seed=4)


def test_empty_seeds(fz):
    with pytest.raises(InvalidInputError, match="seeds_x.*empty"):
        fz.run(np.zeros((0, 1, 8, 8), np.float32), np.zeros(0, np.int64), max_iters=1)


def test_labels_inputs_mismatch(fz, armour_digits):
    x, y = armour_digits.x_test[:5], armour_digits.y_test[:4]
    with pytest.raises(InvalidInputError, match="seeds_y"):
        fz.run(x, y, max_iters=1)
    with pytest.raises(InvalidInputError, match="seeds_y"):
        fz.run(x, np.eye(10)[armour_digits.y_test[:5]], max_iters=1)  # one-hot labels
    with pytest.raises(InvalidInputError, match="seeds_y"):
        fz.run(x, armour_digits.y_test[:5] + 10, max_iters=1)


def test_bad_seed_values(fz, armour_digits):
    x = armour_digits.x_test[:3].copy()
    with pytest.raises(InvalidInputError, match="seeds_x.*bounds"):
        fz.run(x * 255, armour_digits.y_test[:3], max_iters=1)
    with pytest.raises(InvalidInputError, match="seeds_x.*shape"):
        fz.run(x[:, :, :4], armour_digits.y_test[:3], max_iters=1)
    with pytest.raises(InvalidInputError, match="max_iters"):
        fz.run(x, armour_digits.y_test[:3], max_iters=-1)


def test_unknown_mutator(armour_lenet):
    with pytest.raises(UnknownPluginError, match=r"mutators\[1\].*gausian_blur|gaussian_blur") as info:
        Fuzzer(armour_lenet, ["gaussian_blur", "gausian_blur"])
    assert "gaussian_blur" in str(info.value)  # a close match is suggested
    with pytest.raises(UnknownPluginError, match="coverage"):
        Fuzzer(armour_lenet, ["gaussian_blur"], coverage="neuron_coverrage_x")
    with pytest.raises(UnknownPluginError, match="scheduler"):
        Fuzzer(armour_lenet, ["gaussian_blur"], scheduler="deep_hunter_x")


def test_bad_parameter_range(armour_lenet):
    with pytest.raises(ConfigError, match=r"mutators\[0\].*gaussian_blur.*sigma"):
        Fuzzer(armour_lenet, [("gaussian_blur", {"sigma": (2.0, 1.0)})])
    with pytest.raises(ConfigError, match="sigma"):
        Fuzzer(armour_lenet, [("gaussian_blur", {"sigma": (-1.0, 1.0)})])
    with pytest.raises(ConfigError, match="unknown config key"):
        Fuzzer(armour_lenet, [("gaussian_blur", {"sigmaa": (0.5, 1.0)})])
    with pytest.raises(InvalidInputError, match="mutators"):
        Fuzzer(armour_lenet, [("gaussian_blur", "sigma")])


def test_bad_options(armour_lenet):
    for kwargs, arg in (({"mutants_per_seed": 0}, "mutants_per_seed"), ({"alpha": 1.5}, "alpha"),
                        ({"beta": -0.1}, "beta"), ({"gain_threshold": 1.0}, "gain_threshold"),
                        ({"gain_threshold": {"kmnc_x": 0.1}}, "gain_threshold"), ({"oracles": ("crash",)}, "oracles"),
                        ({"differential": "bfloat8"}, "differential"), ({"mutators": []}, "mutators")):
        kw = {"mutators": ["gaussian_blur"], **kwargs}
        with pytest.raises(InvalidInputError, match=arg):
            Fuzzer(armour_lenet, **kw)
    with pytest.raises(ConfigError, match="pixel-value or adversarial"):
        Fuzzer(armour_lenet, [IntegerShift()])  # affine only: a lineage could never mutate again
    with pytest.raises(ConfigError, match="scheduler"):
        Fuzzer(armour_lenet, ["gaussian_blur"], scheduler=("deephunter", {"p_min": 2.0}))


def test_numpy_version_and_mixed_mutators(armour_lenet, armour_digits):
    """MindArmour 2.0 builds a ragged array of [image, label, flag] lists and fails on NumPy >= 1.24."""
    major, minor = (int(v) for v in np.__version__.split(".")[:2])
    assert (major, minor) >= (1, 24)
    fz = Fuzzer(armour_lenet, ["gaussian_blur", IntegerShift()], mutants_per_seed=6, alpha=0.5, beta=0.5)
    rep = fz.run(armour_digits.x_test[:6], armour_digits.y_test[:6], max_iters=3)
    assert rep.iterations == 3
