"""Records of the suppress-privacy policies and of ``armour suppress``."""

from __future__ import annotations

from armour_core.specs import CommandSpec, PluginSpec

_MOD = "armour_plugins_privacy.suppress"
_CONFIG = "armour_core.api.suppressor:SuppressorConfig"


def suppressors():
    yield PluginSpec(
        name="magnitude", kind="suppressor", target=f"{_MOD}.suppressors:MagnitudeSuppressor",
        config=_CONFIG, capabilities={"parameters"},
        summary="MindArmour's policy: suppress the smallest-magnitude weights of each layer")
    yield PluginSpec(
        name="random", kind="suppressor", target=f"{_MOD}.suppressors:RandomSuppressor",
        config=_CONFIG, capabilities={"parameters"},
        summary="suppress a random (seeded, nested across steps) subset of each layer's weights")
    yield PluginSpec(
        name="layerwise", kind="suppressor", target=f"{_MOD}.suppressors:LayerwiseSuppressor",
        config=_CONFIG, aliases=("lamp",), capabilities={"parameters"},
        summary="layer-adaptive magnitude suppression (LAMP, Lee et al. 2021): one global budget, "
                "per-layer sparsity allocated by LAMP scores")


def commands():
    """CLI subcommands (CommandSpec records)."""
    yield CommandSpec(name="suppress", target=f"{_MOD}.cli:register",
                      summary="suppress-privacy training with a sparsity schedule")
