"""Records of the fuzzer's seed schedulers."""

from __future__ import annotations

from armour_core.specs import PluginSpec

_PKG = "armour_plugins_fuzz"


def schedulers():
    yield PluginSpec(
        name="coverage_gain", kind="scheduler", target=f"{_PKG}.schedulers:CoverageGain",
        config=f"{_PKG}.fuzz_configs:CoverageGainConfig", aliases=("mindarmour",),
        summary="MindArmour's rule: unfuzzed entries first (uniformly), then weighted by their coverage gain")
    yield PluginSpec(
        name="uniform", kind="scheduler", target=f"{_PKG}.schedulers:Uniform",
        config=f"{_PKG}.fuzz_configs:UniformConfig", aliases=("random",),
        summary="Every corpus entry equally likely")
    yield PluginSpec(
        name="recency", kind="scheduler", target=f"{_PKG}.schedulers:Recency",
        config=f"{_PKG}.fuzz_configs:RecencyConfig", aliases=("tensorfuzz",),
        summary="TensorFuzz's reservoir: uniform over the newest entries plus one random entry")
    yield PluginSpec(
        name="deephunter", kind="scheduler", target=f"{_PKG}.schedulers:DeepHunter",
        config=f"{_PKG}.fuzz_configs:DeepHunterConfig", aliases=("prob",),
        summary="DeepHunter's probabilistic selection favouring rarely fuzzed and new entries (Xie et al. 2019)")
