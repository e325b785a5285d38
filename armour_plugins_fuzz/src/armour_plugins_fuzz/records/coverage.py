"""Records of the coverage criteria."""

from __future__ import annotations

from armour_core.specs import CoverageSpec, PluginSpec

_PKG = "armour_plugins_fuzz"


def coverage_metrics():
    yield PluginSpec(
        name="neuron", kind="coverage", target=f"{_PKG}.coverage:NeuronCoverage",
        config=f"{_PKG}.configs:NeuronCoverageConfig", aliases=("nc", "neuron_coverage"),
        capabilities={"activations"}, facet=CoverageSpec(needs_profile=False),
        summary="Neuron coverage (DeepXplore/DeepGauge): fraction of neurons whose output exceeded a threshold")
