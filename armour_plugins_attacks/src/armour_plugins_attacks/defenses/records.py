"""Records of the adversarial-training defenses."""

from __future__ import annotations

from armour_core.specs import PluginSpec, requirement

_PKG = "armour_plugins_attacks.defenses"
#: every defense trains through compiled MindSpore graphs built on the model (capability ``graphs``)
_CAPS = {"forward", "gradients", "parameters", "graphs"}
_MS = (requirement("armour-plugins-attacks", "mindspore"),)  # the pyproject's pin


def _records():
    yield PluginSpec(
        name="adversarial_training", kind="defense", target=f"{_PKG}.augmented:AdversarialTraining",
        config=f"{_PKG}.configs:GivenExamplesConfig", aliases=("adversarial_defense",), capabilities=_CAPS,
        requires=_MS,
        summary="Train on given adversarial examples (fit(x, y, x_adv=...)); replace_ratio of each batch")
    yield PluginSpec(
        name="adversarial_training_with_attacks", kind="defense",
        target=f"{_PKG}.augmented:AdversarialTrainingWithAttacks", config=f"{_PKG}.configs:WithAttacksConfig",
        aliases=("adversarial_defense_with_attacks",), capabilities=_CAPS, requires=_MS,
        summary="Adversarial training with registry attacks regenerated per batch; replace_ratio in [0, 1]")
    yield PluginSpec(
        name="nad", kind="defense", target=f"{_PKG}.augmented:NaturalAdversarialDefense",
        config=f"{_PKG}.configs:NADConfig", aliases=("natural_adversarial_defense",), capabilities=_CAPS,
        requires=_MS, summary="Natural adversarial defense: FGSM adversarial training (Kurakin et al. 2017)")
    yield PluginSpec(
        name="pad", kind="defense", target=f"{_PKG}.inner:ProjectedAdversarialDefense",
        config=f"{_PKG}.configs:PADConfig", aliases=("projected_adversarial_defense", "pgd_at", "madry"),
        capabilities=_CAPS, requires=_MS,
        summary="Projected adversarial defense: Madry et al. 2018 PGD adversarial training, one compiled graph "
                "per batch")
    yield PluginSpec(
        name="ensemble_adversarial_training", kind="defense", target=f"{_PKG}.augmented:EnsembleAdversarialTraining",
        config=f"{_PKG}.configs:EnsembleConfig", aliases=("ensemble_at",), capabilities=_CAPS, requires=_MS,
        summary="Ensemble adversarial training (Tramer et al. 2018): examples from static pre-trained models "
                "and the current one")
    yield PluginSpec(
        name="trades", kind="defense", target=f"{_PKG}.inner:TRADES", config=f"{_PKG}.configs:TRADESConfig",
        capabilities=_CAPS, requires=_MS,
        summary="TRADES (Zhang et al. 2019): CE + beta * KL(f(x) || f(x')), x' maximising the KL")
    yield PluginSpec(
        name="mart", kind="defense", target=f"{_PKG}.inner:MART", config=f"{_PKG}.configs:MARTConfig",
        capabilities=_CAPS, requires=_MS,
        summary="MART (Wang et al. 2020): boosted CE on x' + (1 - p_y)-weighted KL(f(x) || f(x'))")


#: the family's records by name: the one declaration of each algorithm's facts (norms, targeting, needed
#: capabilities); implementation classes name theirs in ``record`` and configs read their norms from it
RECORDS = {s.name: s for s in _records()}


def defenses():
    yield from RECORDS.values()
