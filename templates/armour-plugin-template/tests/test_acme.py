"""The conformance kit runs every check of each plugin's kind, one test per check
(``test_attack[acme.signed_gradient-check_stays_in_eps_ball]``); add each algorithm's own property on top."""

import numpy as np

from armour_core import registry
from armour_core.testing import DistributionContract, case, parametrize_with_checks


@parametrize_with_checks("mutator", ["acme.invert"])
def test_mutator(plugin, check, request):
    check(plugin, request)


# armour_softmax: the kit's numpy classifier with exact gradients, so these tests need no MindSpore;
# model="armour_mlp" runs the same checks on a MindSpore network
@parametrize_with_checks("attack", [case("attack", "acme.signed_gradient", {"eps": 0.1, "steps": 5},
                                         generous={"eps": 0.3, "steps": 10})], model="armour_softmax")
def test_attack(plugin, check, request):
    check(plugin, request)


class TestDistribution(DistributionContract):
    dist = "acme-armour"


def test_full_strength_is_the_photographic_negative():
    x = np.random.default_rng(0).uniform(0, 1, (3, 1, 4, 4)).astype(np.float32)
    out = registry.create("mutator", "acme.invert").mutate(x, {"strength": 1.0})
    np.testing.assert_allclose(out, 1 - x, atol=1e-6)


def test_one_full_step_without_random_start_is_fgsm(armour_softmax, armour_digits):
    """One step of size eps from x itself is FGSM: x + eps * sign(grad of the loss), clipped to the bounds."""
    x, y = armour_digits.x_test[:8], armour_digits.y_test[:8]
    atk = registry.create("attack", "acme.signed_gradient", model=armour_softmax, eps=0.1, steps=1, step_size=1.0,
                          random_start=False)
    res = atk.generate(x, y)
    _, grad = armour_softmax.loss_gradient(x, y)
    np.testing.assert_allclose(res.adversarial, np.clip(x + 0.1 * np.sign(grad), 0, 1), atol=1e-6)
    assert res.backward_calls == 1
