"""Registration hooks (light: records only; implementations are imported on use)."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import CoverageSpec, MutatorSpec, PluginSpec

_PKG = "armour_plugins_fuzz"


@hookimpl
def armour_mutators():
    yield PluginSpec(
        name="gaussian_blur", kind="mutator", target=f"{_PKG}.pixel:GaussianBlur",
        config=f"{_PKG}.configs:GaussianBlurConfig", aliases=("blur",), facet=MutatorSpec(category="pixel"),
        summary="Gaussian blur with a per-sample standard deviation drawn from a range")


@hookimpl
def armour_coverage_metrics():
    yield PluginSpec(
        name="neuron", kind="coverage", target=f"{_PKG}.coverage:NeuronCoverage",
        config=f"{_PKG}.configs:NeuronCoverageConfig", aliases=("nc", "neuron_coverage"),
        capabilities={"activations"}, facet=CoverageSpec(needs_profile=False),
        summary="Neuron coverage (DeepXplore/DeepGauge): fraction of neurons whose output exceeded a threshold")
