"""Every mutator, coverage criterion and seed scheduler this distribution registers, through the conformance
kit's checks for its kind (one test per plugin and check: ``test_kit[rotate-check_keeps_shape_dtype_bounds]``).

Plugins are named by registry name; :func:`parametrize_distribution` adds a default case for any plugin (and
any kind) not listed here and fails on a name the distribution does not register. The adversarial mutator
adapts an attack, so its case runs where the attacks distribution is installed too
(tests/test_trust_fuzz_with_attacks.py).
"""

from __future__ import annotations

from armour_core.testing import parametrize_distribution

DIST = "armour-plugins-fuzz"

MUTATORS = {
    "motion_blur": {"taps": 5}, "salt_and_pepper": {"density": (0.1, 0.3)},
    "natural_noise": {"density": (0.05, 0.1)}, "shear": {"y": (-0.1, 0.1)}, "rotate": {"degrees": (-30, 30)},
    "curve": {"border": "reflect"},
}

COVERAGE = {
    "neuron": {"threshold": 0.2}, "top_k": {"k": 2}, "top_k_pattern": {"k": 1, "capacity": 500},
    "k_multisection": {"k": 5}, "lsa": {"buckets": 50}, "dsa": {"buckets": 50},
}


@parametrize_distribution(DIST, {"mutator": MUTATORS, "coverage": COVERAGE}, exclude={"mutator": ["adversarial"]})
def test_kit(plugin, check, request):
    check(plugin, request)
