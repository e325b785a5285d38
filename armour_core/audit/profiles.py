"""Audit profiles: how much work each section does.

``quick`` must finish in under 3 minutes on 2 cores for the embedded default; ``thorough`` adds black-box and
minimum-norm attacks, LiRA and longer fuzzing.
"""

from __future__ import annotations

from typing import Any

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "robustness": {"attacks": ["fgsm", "pgd"], "eps": [0.05, 0.1, 0.2], "n": 200, "steps": 10},
        "testing": {"max_iters": 30, "batch": 16, "seeds": 40, "coverage": ["neuron", "k_multisection"]},
        "privacy": {"attacks": ["loss_threshold", "entropy"], "n": 300},
    },
    "standard": {
        "robustness": {"attacks": ["fgsm", "pgd", "autoattack"], "eps": [0.03, 0.05, 0.1, 0.2], "n": 300,
                       "steps": 20},
        "testing": {"max_iters": 100, "batch": 32, "seeds": 100,
                    "coverage": ["neuron", "k_multisection", "neuron_boundary", "top_k"]},
        "privacy": {"attacks": ["loss_threshold", "entropy", "lr"], "n": 400},
    },
    "thorough": {
        "robustness": {"attacks": ["fgsm", "pgd", "autoattack", "deepfool", "cw", "square", "hsja"],
                       "eps": [0.02, 0.05, 0.1, 0.2, 0.3], "n": 300, "steps": 40},
        "testing": {"max_iters": 300, "batch": 32, "seeds": 200,
                    "coverage": ["neuron", "k_multisection", "neuron_boundary", "strong_neuron_activation",
                                 "top_k"]},
        "privacy": {"attacks": ["loss_threshold", "entropy", "lr", "lira"], "n": 400, "shadows": 8},
    },
}

#: the sections first-party distributions provide, so an absent one gets a "not installed" section
FIRST_PARTY_SECTIONS = {
    "robustness": ("Robustness", "armour-plugins-attacks", 10),
    "testing": ("Testing (coverage-guided fuzzing)", "armour-plugins-fuzz", 20),
    "privacy": ("Privacy risk", "armour-plugins-privacy", 30),
}
