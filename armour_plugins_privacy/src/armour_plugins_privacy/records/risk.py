"""Records of suppress-privacy policies and membership-inference attacks."""

from __future__ import annotations

from armour_core.specs import CommandSpec, PluginSpec

_PKG = "armour_plugins_privacy"
_CFG = f"{_PKG}.risk_configs"


def suppressors():
    yield PluginSpec(
        name="magnitude", kind="suppressor", target=f"{_PKG}.suppressors:MagnitudeSuppressor",
        config="armour_core.api.suppressor:SuppressorConfig", capabilities={"parameters"},
        summary="MindArmour's policy: suppress the smallest-magnitude weights of each layer")
    yield PluginSpec(
        name="random", kind="suppressor", target=f"{_PKG}.suppressors:RandomSuppressor",
        config="armour_core.api.suppressor:SuppressorConfig", capabilities={"parameters"},
        summary="suppress a random (seeded, nested across steps) subset of each layer's weights")
    yield PluginSpec(
        name="layerwise", kind="suppressor", target=f"{_PKG}.suppressors:LayerwiseSuppressor",
        config="armour_core.api.suppressor:SuppressorConfig", aliases=("lamp",), capabilities={"parameters"},
        summary="layer-adaptive magnitude suppression (LAMP, Lee et al. 2021): one global budget, "
                "per-layer sparsity allocated by LAMP scores")


def inference_attacks():
    yield PluginSpec(
        name="loss_threshold", kind="inference", target=f"{_PKG}.inference.threshold:LossThreshold",
        config=f"{_CFG}:LossThresholdConfig", aliases=("loss",), capabilities={"forward"},
        summary="Yeom et al. 2018: member if the per-example loss is low (the one-line baseline)")
    yield PluginSpec(
        name="entropy", kind="inference", target=f"{_PKG}.inference.threshold:Entropy",
        config=f"{_CFG}:EntropyConfig", aliases=("modified_entropy",), capabilities={"forward"},
        summary="Song & Mittal 2021: modified prediction entropy with per-class thresholds")
    yield PluginSpec(
        name="classifier", kind="inference", target=f"{_PKG}.inference.classifier:AttackClassifier",
        config=f"{_CFG}:ClassifierConfig", aliases=("attack_model",), capabilities={"forward"},
        requires=("scikit-learn>=1.3",),
        summary="MindArmour's method: lr/knn/mlp/rf attack classifier (grid search) on the target's outputs")
    yield PluginSpec(
        name="lira", kind="inference", target=f"{_PKG}.inference.lira:LiRA", config=f"{_CFG}:LiRAConfig",
        aliases=("likelihood_ratio",), capabilities={"forward"}, requires=("mindspore==2.10.0", "scipy>=1.10"),
        summary="Carlini et al. 2022 likelihood-ratio attack, online/offline, cached MindSpore shadow models")


def commands():
    """CLI subcommands (CommandSpec records)."""
    yield CommandSpec(name="membership", target=f"{_PKG}.cli_risk:register_membership",
                      summary="membership-inference risk of a model (loss, entropy, classifier, LiRA)")
    yield CommandSpec(name="suppress", target=f"{_PKG}.cli_risk:register_suppress",
                      summary="suppress-privacy training with a sparsity schedule")
    yield CommandSpec(name="dp-audit", target=f"{_PKG}.cli_risk:register_audit",
                      summary="empirical DP audit: canaries, membership scores, lower bound on epsilon")
