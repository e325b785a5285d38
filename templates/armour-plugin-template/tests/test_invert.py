"""The conformance kit runs the shared checks; add the algorithm's own property on top."""

import numpy as np

from armour_core import registry
from armour_core.testing import DistributionContract, MutatorContract


class TestInvert(MutatorContract):
    name = "acme.invert"


class TestDistribution(DistributionContract):
    dist = "acme-armour"


def test_full_strength_is_the_photographic_negative():
    x = np.random.default_rng(0).uniform(0, 1, (3, 1, 4, 4)).astype(np.float32)
    out = registry.create("mutator", "acme.invert").mutate(x, {"strength": 1.0})
    np.testing.assert_allclose(out, 1 - x, atol=1e-6)
