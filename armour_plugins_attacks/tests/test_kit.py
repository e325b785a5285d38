"""Every attack, defense, detector and certifier this distribution registers, through the conformance kit's checks for
its kind (one test per plugin and check: ``test_kit[pgd-l2-check_stays_in_eps_ball]``).

Plugins are named by registry name; :func:`parametrize_distribution` adds a default case for any plugin (and
any kind) not listed here and fails on a name the distribution does not register. Budgets are small for CI
time; ``generous`` is a config at which an attack must fool the undefended digits MLP.
"""

from __future__ import annotations

import pytest

from armour_core.testing import case, parametrize_distribution

DIST = "armour-plugins-attacks"
LINF, L2, L1 = {"eps": 0.3}, {"eps": 3.0, "norm": "l2"}, {"eps": 10.0, "norm": "l1"}
WEAK_TARGETED = 0.3  # one step towards a fixed class: single-step attacks' own weak spot


def attack(name, config, *, label=None, **options):
    return case("attack", name, config, label=label, **options)


ATTACKS = {
    # gradient, single step
    "fgsm": attack("fgsm", {"eps": 0.1}, generous=LINF, min_targeted_success=WEAK_TARGETED),
    "fgm": [attack("fgm", {"eps": 1.0}, generous=L2, min_targeted_success=WEAK_TARGETED),
            attack("fgm", {"eps": 3.0, "norm": "l1"}, label="l1", generous=L1, min_targeted_success=WEAK_TARGETED)],
    "rfgsm": attack("rfgsm", {"eps": 0.1}, generous=LINF, min_targeted_success=WEAK_TARGETED),
    "rfgm": attack("rfgm", {"eps": 1.0}, generous=L2, min_targeted_success=WEAK_TARGETED),
    "llc": attack("llc", {"eps": 0.1}, generous=LINF),
    "rllc": attack("rllc", {"eps": 0.1, "norm": "l2"}, generous={"eps": 4.0, "norm": "l2"}),
    # gradient, iterative
    "bim": attack("bim", {"eps": 0.1}, generous=LINF),
    "pgd": [attack("pgd", {"eps": 0.1, "steps": 10}, generous={**LINF, "steps": 20}),
            attack("pgd", {"eps": 1.0, "norm": "l2", "steps": 10}, label="l2", generous={**L2, "steps": 20}),
            attack("pgd", {"eps": 3.0, "norm": "l1", "steps": 10}, label="l1", generous={**L1, "steps": 20}),
            attack("pgd", {"eps": 0.1, "steps": 5}, label="lenet", model="armour_lenet",
                   generous={**LINF, "steps": 10}),
            # the eager path: any Classifier with gradients (no MindSpore graph)
            attack("pgd", {"eps": 0.1, "steps": 5}, label="numpy", model="armour_softmax",
                   generous={**LINF, "steps": 10})],
    "mim": attack("mim", {"eps": 0.1}, generous=LINF),
    "difgsm": attack("difgsm", {"eps": 0.1}, generous=LINF),
    "mdifgsm": [attack("mdifgsm", {"eps": 0.1, "norm": "l2"}, generous=L2),
                attack("mdifgsm", {"eps": 0.1, "steps": 5}, label="numpy", model="armour_softmax",
                       generous={**LINF, "steps": 10})],
    "vmifgsm": attack("vmifgsm", {"eps": 0.1, "neighbours": 5, "steps": 5}, generous={**LINF, "neighbours": 5}),
    # black box
    "hsja": [attack("hsja", {"max_queries": 300}, generous={"max_queries": 1500}, min_success=0.9,
                    min_targeted_success=0.9),
             attack("hsja", {"max_queries": 300, "norm": "linf"}, label="linf",
                    generous={"max_queries": 1500, "norm": "linf"}, min_success=0.9)],
    "nes": [attack("nes", {"eps": 0.1, "max_queries": 300, "samples": 20},
                   generous={"eps": 0.3, "max_queries": 2000, "samples": 20}, min_success=0.9),
            attack("nes", {"eps": 1.0, "norm": "l2", "max_queries": 300, "samples": 20}, label="l2",
                   generous={"eps": 3.0, "norm": "l2", "max_queries": 2000, "samples": 20}, min_success=0.9)],
    "genetic": attack("genetic", {"eps": 0.1, "max_queries": 300}, generous={"eps": 0.3, "max_queries": 3000},
                      min_success=0.9),
    "pso": [attack("pso", {"eps": 0.1, "max_queries": 300}, generous={"eps": 0.3, "max_queries": 3000},
                   min_success=0.9),
            attack("pso", {"eps": 1.0, "norm": "l2", "max_queries": 300}, label="l2",
                   generous={"eps": 3.0, "norm": "l2", "max_queries": 3000}, min_success=0.9)],
    "pointwise": attack("pointwise", {"max_queries": 300, "init_queries": 100}, generous={"max_queries": 1500},
                        min_success=0.9, min_targeted_success=0.9),
    "salt_and_pepper": attack("salt_and_pepper", {"max_queries": 200, "steps": 50},
                              generous={"max_queries": 1000}, min_success=0.9),
    "square": attack("square", {"max_queries": 60, "eps": 0.1}, generous={"max_queries": 300, "eps": 0.3}),
    # minimum norm and AutoAttack
    "deepfool": attack("deepfool", {"steps": 10}, generous={"steps": 20}, min_success=0.9),
    "cw": attack("cw", {"binary_search_steps": 2, "steps": 10, "initial_const": 1.0, "chunk": 5},
                 generous={"binary_search_steps": 3, "steps": 30, "initial_const": 1.0, "learning_rate": 0.1,
                           "chunk": 5}),
    "fab": attack("fab", {"steps": 5}, generous={"steps": 10}),
    "fab_t": attack("fab_t", {"steps": 3, "target_classes": 2, "norm": "l2"}),
    "jsma": attack("jsma", {"gamma": 0.3}, generous={"gamma": 0.5}),
    "lbfgs": attack("lbfgs", {"search_steps": 2, "max_iterations": 20},
                    generous={"search_steps": 4, "max_iterations": 50}),
    "apgd": attack("apgd", {"steps": 10, "eps": 0.1}, generous={"steps": 10, "eps": 0.3}),
    "apgd_t": attack("apgd_t", {"steps": 3, "eps": 0.1, "target_classes": 2}),
    "autoattack": attack("autoattack", {"steps": 5, "square_max_queries": 30, "eps": 0.1, "target_classes": 2},
                         generous={"steps": 5, "square_max_queries": 30, "eps": 0.3, "target_classes": 2}),
}


def _static_models(request):
    """Ensemble adversarial training's fixed source models: one more small network."""
    from armour_core.ms import pretrained as pt

    return {"static_models": [pt.build("mlp", request.getfixturevalue("armour_digits"), seed=1)]}


SMALL_TRAINING = {"epochs": 1, "batch_size": 32}
DEFENSES = {
    "adversarial_training": SMALL_TRAINING,
    "adversarial_training_with_attacks": SMALL_TRAINING,
    "nad": SMALL_TRAINING,
    "pad": {**SMALL_TRAINING, "steps": 2},
    "ensemble_adversarial_training": case("defense", "ensemble_adversarial_training", SMALL_TRAINING,
                                          kwargs=_static_models),
    "trades": {**SMALL_TRAINING, "steps": 2},
    "mart": {**SMALL_TRAINING, "steps": 2},
}

DETECTORS = {
    "magnet_error": {"epochs": 2},
    "magnet_divergence": {"epochs": 2},
    "region_based": {"samples": 20, "search_steps": 4, "search_inputs": 64},
    "ensemble": {"members": ["spatial_smoothing", "feature_squeezing"], "rule": "any"},
    "similarity": {"k": 5, "buffer_size": 100, "fpr": 0.05},
}

#: the certifier kind is this distribution's own (declared through armour_kinds); its checks come with it
CERTIFIERS = {"randomized_smoothing": [case("certifier", "randomized_smoothing", {"n0": 20, "n": 300}),
                                       case("certifier", "randomized_smoothing", {"n0": 20, "n": 300},
                                            label="lenet", model="armour_lenet", n=12)]}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@parametrize_distribution(DIST, {"attack": ATTACKS, "defense": DEFENSES, "detector": DETECTORS,
                                 "certifier": CERTIFIERS})
def test_kit(plugin, check, request):
    check(plugin, request)
