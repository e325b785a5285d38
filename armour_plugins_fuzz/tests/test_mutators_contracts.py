"""The conformance kit's mutator contract for every pixel and affine mutator, and for the adversarial adapter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from armour_core import registry
from armour_core.api.arrays import to_numpy
from armour_core.api.mutator import create_mutator
from armour_core.testing import MutatorContract, check
from armour_core.testing import strategies as S


#: adversarial mutators adapt attacks from armour-plugins-attacks; installed alone, the fuzz distribution has none
requires_fuzzing_attack = pytest.mark.skipif(
    not any(getattr(s.facet, "fuzzing", False) for s in registry.specs("attack")),
    reason="no attack with AttackSpec(fuzzing=True) is installed (pip install armour-plugins-attacks)")

CONFIGS = {
    "contrast": {}, "gradient_luminance": {}, "gaussian_blur": {}, "motion_blur": {"taps": 5},
    "gradient_blur": {}, "uniform_noise": {}, "gaussian_noise": {}, "salt_and_pepper": {"density": (0.1, 0.3)},
    "natural_noise": {"density": (0.05, 0.1)}, "translate": {}, "scale": {}, "shear": {"y": (-0.1, 0.1)},
    "rotate": {"degrees": (-30, 30)}, "perspective": {}, "curve": {"border": "reflect"},
}

for _name, _config in CONFIGS.items():
    globals()[f"Test_{_name}"] = type(f"Test_{_name}", (MutatorContract,), {"name": _name, "config": _config})


def test_every_registered_mutator_has_a_contract():
    assert set(registry.names("mutator")) == set(CONFIGS) | {"adversarial"}


@requires_fuzzing_attack
class TestAdversarial(MutatorContract):
    """The adversarial adapter on the default MLP (its inputs and bounds are the model's)."""

    name = "adversarial"
    config = {"attack": "fgsm", "levels": 2, "eps": (0.05, 0.1)}

    def make(self, request, **overrides):
        overrides.pop("bounds", None)
        model = request.getfixturevalue("armour_mlp")
        return registry.create("mutator", "adversarial", model=model, **{**self.config, **overrides})

    def test_shape_dtype_bounds(self, request, armour_digits):
        x = armour_digits.x_test[:16]

        @settings(max_examples=3, deadline=None, derandomize=True, database=None)
        @given(seed=S.seeds)
        def run(seed):
            m = self.make(request, seed=seed % 1000)
            out = to_numpy(m.mutate(x))
            check(out.shape == x.shape and out.dtype == x.dtype)
            check(out.min() >= 0.0 and out.max() <= 1.0)
            linf = np.abs(out - x).reshape(len(x), -1).max(axis=1)
            check(np.all(linf <= 0.1 + 1e-6), f"perturbation above the eps range: {linf.max()}")

        run()


@requires_fuzzing_attack
def test_adversarial_mutator_scales_eps_with_the_data_range(armour_mlp, armour_digits):
    m = create_mutator("fgsm", model=armour_mlp, eps=(0.05, 0.05), levels=1)
    x = armour_digits.x_test[:8]
    out = m.mutate(x, {"eps": 0.05})
    linf = np.abs(out - x).reshape(len(x), -1).max(axis=1)
    assert np.all(linf <= 0.05 + 1e-6) and np.any(linf > 0.04)
