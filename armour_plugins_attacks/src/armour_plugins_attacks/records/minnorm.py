"""Records of the minimum-norm and optimisation attacks and the AutoAttack family."""

from __future__ import annotations

from armour_core.specs import AttackSpec, PluginSpec

_PKG = "armour_plugins_attacks"
_CFG = f"{_PKG}.configs_minnorm"


def _attack(name, target, config, summary, *, norms, targeted=False, minimum_norm=False,
            threat_model="white_box", aliases=()):
    caps = {"forward"} if threat_model == "black_box" else {"gradients"}
    return PluginSpec(name=name, kind="attack", target=f"{_PKG}.{target}", config=f"{_CFG}:{config}",
                      aliases=aliases, capabilities=caps, summary=summary,
                      facet=AttackSpec(norms=norms, threat_model=threat_model, targeted=targeted,
                                       minimum_norm=minimum_norm))


def attacks():
    yield _attack("deepfool", "minimum_norm:DeepFool", "DeepFoolConfig",
                  "DeepFool (Moosavi-Dezfooli et al. 2016): steps to the nearest linearised boundary, L2 and L∞",
                  norms=("l2", "linf"), minimum_norm=True, aliases=("deep_fool",))
    yield _attack("cw", "minnorm_cw:CarliniWagnerL2", "CWConfig",
                  "Carlini–Wagner L2 (2017): tanh box, Adam on the margin loss, per-sample binary search on c",
                  norms=("l2",), targeted=True, minimum_norm=True, aliases=("cw_l2", "carlini_wagner"))
    yield _attack("fab", "minnorm_fab:FAB", "FABConfig",
                  "FAB (Croce & Hein 2020): fast adaptive boundary attack, minimum norm, L∞ and L2",
                  norms=("linf", "l2"), targeted=True, minimum_norm=True)
    yield _attack("fab_t", "minnorm_fab:FABT", "FABTConfig",
                  "FAB-T (Croce & Hein 2020): FAB towards each of the top-9 other classes (AutoAttack member)",
                  norms=("linf", "l2"), targeted=True, minimum_norm=True)
    yield _attack("jsma", "minnorm_jsma:JSMA", "JSMAConfig",
                  "JSMA (Papernot et al. 2016): targeted L0 saliency-map attack changing feature pairs",
                  norms=("l0",), targeted=True, minimum_norm=True, aliases=("saliency_map",))
    yield _attack("lbfgs", "minnorm_lbfgs:LBFGS", "LBFGSConfig",
                  "Box-constrained L-BFGS (Szegedy et al. 2014): c·CE + squared L2, binary search on c",
                  norms=("l2",), targeted=True, minimum_norm=True, aliases=("l_bfgs",))
    yield _attack("apgd", "autoattack_apgd:APGD", "APGDConfig",
                  "Auto-PGD (Croce & Hein 2020): step-size halving at checkpoints, momentum, CE or DLR loss",
                  norms=("linf", "l2"), targeted=True, aliases=("auto_pgd",))
    yield _attack("apgd_t", "autoattack_apgd:APGDT", "APGDTConfig",
                  "APGD-T (Croce & Hein 2020): targeted DLR towards each of the top-9 other classes",
                  norms=("linf", "l2"), targeted=True)
    yield _attack("square", "autoattack_square:Square", "SquareConfig",
                  "Square Attack (Andriushchenko et al. 2020): score-based random search, L∞ and L2, "
                  "query budget", norms=("linf", "l2"), targeted=True, threat_model="black_box")
    yield _attack("autoattack", "autoattack:AutoAttack", "AutoAttackConfig",
                  "AutoAttack (Croce & Hein 2020): APGD-CE, APGD-T, FAB-T and Square, point-wise worst case",
                  norms=("linf", "l2"), aliases=("auto_attack",))
