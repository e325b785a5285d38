"""Records of the AutoAttack family (light: no implementation import)."""

from __future__ import annotations

from armour_core.specs import AttackSpec, PluginSpec

_PKG = "armour_plugins_attacks.autoattack"


def _attack(name, target, config, summary, *, targeted, aliases=()):
    return PluginSpec(name=name, kind="attack", target=f"{_PKG}.{target}", config=f"{_PKG}.configs:{config}",
                      aliases=aliases, capabilities={"gradients"}, summary=summary,
                      facet=AttackSpec(norms=("linf", "l2"), threat_model="white_box", targeted=targeted))


def _records():
    yield _attack("apgd", "apgd:APGD", "APGDConfig",
                  "Auto-PGD (Croce & Hein 2020): step-size halving at checkpoints, momentum, CE or DLR loss",
                  targeted=True, aliases=("auto_pgd",))
    yield _attack("apgd_t", "apgd:APGDT", "APGDTConfig",
                  "APGD-T (Croce & Hein 2020): targeted DLR towards each of the top-9 other classes",
                  targeted=True)
    yield _attack("autoattack", "suite:AutoAttack", "AutoAttackConfig",
                  "AutoAttack (Croce & Hein 2020): APGD-CE, APGD-T, FAB-T and Square, point-wise worst case",
                  targeted=False, aliases=("auto_attack",))


#: the family's records by name: the one declaration of each algorithm's facts (norms, targeting, needed
#: capabilities); implementation classes name theirs in ``record`` and configs read their norms from it
RECORDS = {s.name: s for s in _records()}


def attacks():
    yield from RECORDS.values()
