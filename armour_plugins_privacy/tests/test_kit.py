"""Every noise mechanism, clip policy, accountant, suppressor and inference attack this distribution
registers, through the conformance kit's checks for its kind (one test per plugin and check:
``test_kit[pld-check_epsilon_monotone_in_steps]``).

Plugins are named by registry name; :func:`parametrize_distribution` adds a default case for any plugin (and
any kind) not listed here and fails on a name the distribution does not register.
"""

from __future__ import annotations

from armour_core.testing import case, parametrize_distribution
from armour_core.testing.markers import has_module

DIST = "armour-plugins-privacy"

NOISE = {
    "gaussian": [case("noise", "gaussian", {"noise_multiplier": 1.3, "clip_norm": 0.7}),
                 case("noise", "gaussian", {"noise_multiplier": 0.9, "secure": True}, label="secure")],
    "ada_gaussian": {"noise_multiplier": 2.0, "decay_rate": 0.01},
}

#: coarser than the default 1e-4 to keep the suite fast (the checks compare PLD with itself)
ACCOUNTANTS = {"pld": {"value_discretization_interval": 1e-3}}

#: LiRA and RMIA train shadow networks: two, one epoch, on the digits MLP's architecture (cached on disk)
SHADOWS = {"shadows": 2, "epochs": 1, "architecture": "mlp"}
INFERENCE = ({"lira": case("inference", "lira", SHADOWS, model="armour_mlp"),
              "rmia": case("inference", "rmia", SHADOWS, model="armour_mlp")} if has_module("mindspore") else {})


@parametrize_distribution(DIST, {"noise": NOISE, "accountant": ACCOUNTANTS, "inference": INFERENCE})
def test_kit(plugin, check, request):
    check(plugin, request)
