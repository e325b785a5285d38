"""Records of the membership-inference attacks and of ``armour membership``."""

from __future__ import annotations

from armour_core.specs import CommandSpec, PluginSpec, requirement

_MOD = "armour_plugins_privacy.inference"
_CFG = f"{_MOD}.configs"
_DIST = "armour-plugins-privacy"


def inference_attacks():
    yield PluginSpec(
        name="loss_threshold", kind="inference", target=f"{_MOD}.threshold:LossThreshold",
        config=f"{_CFG}:LossThresholdConfig", aliases=("loss",), capabilities={"forward"},
        summary="Yeom et al. 2018: member if the per-example loss is low (the one-line baseline)")
    yield PluginSpec(
        name="entropy", kind="inference", target=f"{_MOD}.threshold:Entropy",
        config=f"{_CFG}:EntropyConfig", aliases=("modified_entropy",), capabilities={"forward"},
        summary="Song & Mittal 2021: modified prediction entropy with per-class thresholds")
    yield PluginSpec(
        name="classifier", kind="inference", target=f"{_MOD}.classifier:AttackClassifier",
        config=f"{_CFG}:ClassifierConfig", aliases=("attack_model",), capabilities={"forward"},
        requires=(requirement(_DIST, "scikit-learn"),),
        summary="MindArmour's method: lr/knn/mlp/rf attack classifier (grid search) on the target's outputs")
    yield PluginSpec(
        name="lira", kind="inference", target=f"{_MOD}.lira:LiRA", config=f"{_CFG}:LiRAConfig",
        aliases=("likelihood_ratio",), capabilities={"forward"},
        requires=(requirement(_DIST, "mindspore"), requirement(_DIST, "scipy")),
        summary="Carlini et al. 2022 likelihood-ratio attack, online/offline, cached MindSpore shadow models")
    yield PluginSpec(
        name="rmia", kind="inference", target=f"{_MOD}.rmia:RMIA", config=f"{_CFG}:RMIAConfig",
        aliases=("relative",), capabilities={"forward"},
        requires=(requirement(_DIST, "mindspore"), requirement(_DIST, "scipy")),
        summary="Zarifzadeh et al. 2024 relative attack: LR against population points, few reference models")


def commands():
    """CLI subcommands (CommandSpec records)."""
    yield CommandSpec(name="membership", target=f"{_MOD}.cli:register",
                      summary="membership-inference risk of a model (loss, entropy, classifier, LiRA, RMIA)")
