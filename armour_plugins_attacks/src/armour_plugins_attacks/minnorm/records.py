"""Records of the minimum-norm and optimisation attacks (light: no implementation import)."""

from __future__ import annotations

from armour_core.specs import AttackSpec, PluginSpec

_PKG = "armour_plugins_attacks"
_CFG = f"{_PKG}.minnorm.configs"


def _attack(name, target, config, summary, *, norms, targeted=False, minimum_norm=False, aliases=()):
    return PluginSpec(name=name, kind="attack", target=f"{_PKG}.minnorm.{target}", config=f"{_CFG}:{config}",
                      aliases=aliases, capabilities={"gradients"}, summary=summary,
                      facet=AttackSpec(norms=norms, threat_model="white_box", targeted=targeted,
                                       minimum_norm=minimum_norm))


def _records():
    yield _attack("deepfool", "deepfool:DeepFool", "DeepFoolConfig",
                  "DeepFool (Moosavi-Dezfooli et al. 2016): steps to the nearest linearised boundary, L2 and L∞",
                  norms=("l2", "linf"), minimum_norm=True, aliases=("deep_fool",))
    yield _attack("cw", "cw:CarliniWagnerL2", "CWConfig",
                  "Carlini–Wagner L2 (2017): tanh box, Adam on the margin loss, per-sample binary search on c",
                  norms=("l2",), targeted=True, minimum_norm=True, aliases=("cw_l2", "carlini_wagner"))
    yield _attack("fab", "fab:FAB", "FABConfig",
                  "FAB (Croce & Hein 2020): fast adaptive boundary attack, minimum norm, L∞ and L2",
                  norms=("linf", "l2"), targeted=True, minimum_norm=True)
    yield _attack("fab_t", "fab:FABT", "FABTConfig",
                  "FAB-T (Croce & Hein 2020): FAB towards each of the top-9 other classes (AutoAttack member)",
                  norms=("linf", "l2"), targeted=True, minimum_norm=True)
    yield _attack("jsma", "jsma:JSMA", "JSMAConfig",
                  "JSMA (Papernot et al. 2016): targeted L0 saliency-map attack changing feature pairs",
                  norms=("l0",), targeted=True, minimum_norm=True, aliases=("saliency_map",))
    yield _attack("lbfgs", "lbfgs:LBFGS", "LBFGSConfig",
                  "Box-constrained L-BFGS (Szegedy et al. 2014): c·CE + squared L2, binary search on c",
                  norms=("l2",), targeted=True, minimum_norm=True, aliases=("l_bfgs",))


#: the family's records by name: the one declaration of each algorithm's facts (norms, targeting, needed
#: capabilities); implementation classes name theirs in ``record`` and configs read their norms from it
RECORDS = {s.name: s for s in _records()}


def attacks():
    yield from RECORDS.values()
