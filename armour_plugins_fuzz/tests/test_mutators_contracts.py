"""The conformance kit's mutator contract for every pixel and affine mutator (the adversarial adapter needs the
attacks distribution: its contract is in tests/test_trust_fuzz_with_attacks.py)."""

from __future__ import annotations

from armour_core import registry
from armour_core.testing import MutatorContract

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
