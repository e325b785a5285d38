"""Records of the white-box (gradient) attacks."""

from __future__ import annotations

from armour_core.specs import AttackSpec, PluginSpec

_PKG = "armour_plugins_attacks"


def attacks():
    yield PluginSpec(
        name="fgsm", kind="attack", target=f"{_PKG}.gradient:FGSM", config=f"{_PKG}.configs:FGSMConfig",
        aliases=("fast_gradient_sign_method",), capabilities={"gradients"},
        facet=AttackSpec(norms=("linf",), threat_model="white_box", targeted=True, fuzzing=True),
        summary="Fast gradient sign method (Goodfellow et al. 2015): one signed-gradient step of size eps")
