"""Conformance kit for the black-box attacks: ε-ball and bounds, shape/dtype, reproducibility under a seed,
clear errors, success on the undefended default MLP at a generous budget, targeted attacks hit the target."""

from __future__ import annotations

import pytest

from armour_core import registry
from armour_core.testing import AttackContract, check

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TestHopSkipJump(AttackContract):
    name = "hsja"
    config = {"max_queries": 300}
    generous = {"max_queries": 1500}
    min_success = 0.9
    min_targeted_success = 0.9


class TestHopSkipJumpLinf(AttackContract):
    name = "hsja"
    config = {"max_queries": 300, "norm": "linf"}
    generous = {"max_queries": 1500, "norm": "linf"}
    min_success = 0.9


class TestNES(AttackContract):
    name = "nes"
    config = {"eps": 0.1, "max_queries": 300, "samples": 20}
    generous = {"eps": 0.3, "max_queries": 2000, "samples": 20}
    min_success = 0.9


class TestNESL2(AttackContract):
    name = "nes"
    config = {"eps": 1.0, "norm": "l2", "max_queries": 300, "samples": 20}
    generous = {"eps": 3.0, "norm": "l2", "max_queries": 2000, "samples": 20}
    min_success = 0.9


class TestGenetic(AttackContract):
    name = "genetic"
    config = {"eps": 0.1, "max_queries": 300}
    generous = {"eps": 0.3, "max_queries": 3000}
    min_success = 0.9


class TestPSO(AttackContract):
    name = "pso"
    config = {"eps": 0.1, "max_queries": 300}
    generous = {"eps": 0.3, "max_queries": 3000}
    min_success = 0.9


class TestPSOL2(AttackContract):
    name = "pso"
    config = {"eps": 1.0, "norm": "l2", "max_queries": 300}
    generous = {"eps": 3.0, "norm": "l2", "max_queries": 3000}
    min_success = 0.9


class TestPointwise(AttackContract):
    name = "pointwise"
    config = {"max_queries": 300, "init_queries": 100}
    generous = {"max_queries": 1500}
    min_success = 0.9
    min_targeted_success = 0.9


class TestSaltAndPepper(AttackContract):
    name = "salt_and_pepper"
    config = {"max_queries": 200, "steps": 50}
    generous = {"max_queries": 1000}
    min_success = 0.9


@pytest.mark.parametrize("name", ["hsja", "nes", "genetic", "pso", "pointwise", "salt_and_pepper"])
def test_records_are_black_box_and_gradient_free(name):
    spec = registry.spec("attack", name)
    check(spec.facet.threat_model == "black_box")
    check("gradients" not in spec.capabilities)
    check(registry.get("attack", name).needs_gradients is False)
