"""Records of the coverage criteria (DeepGauge family and surprise adequacy)."""

from __future__ import annotations

from armour_core.specs import CoverageSpec, PluginSpec, requirement

_PKG = "armour_plugins_fuzz"


def _criterion(name, cls, config, summary, *, profile, aliases=(), module="coverage", requires=()):
    return PluginSpec(
        name=name, kind="coverage", target=f"{_PKG}.{module}:{cls}", config=f"{_PKG}.configs:{config}",
        aliases=aliases, capabilities={"activations"}, facet=CoverageSpec(needs_profile=profile),
        summary=summary, requires=requires)


def coverage_metrics():
    yield _criterion("neuron", "NeuronCoverage", "NeuronCoverageConfig", aliases=("nc", "neuron_coverage"),
                     profile=False,
                     summary="Neuron coverage (DeepXplore/DeepGauge): fraction of neurons whose output exceeded "
                             "a threshold")
    yield _criterion("top_k", "TopKNeuronCoverage", "TopKConfig", aliases=("tknc", "top_k_neuron"),
                     profile=False,
                     summary="Top-k neuron coverage (DeepGauge): fraction of neurons among their layer's k most "
                             "active for some input")
    yield _criterion("top_k_pattern", "TopKPatternCoverage", "TopKPatternConfig", aliases=("tknp",),
                     profile=False,
                     summary="Top-k neuron patterns (DeepGauge): distinct tuples of every layer's top-k set, "
                             "over the number possible")
    yield _criterion("k_multisection", "MultisectionCoverage", "MultisectionConfig", aliases=("kmnc",),
                     profile=True,
                     summary="k-multisection neuron coverage (DeepGauge): sections of each neuron's training "
                             "range hit")
    yield _criterion("neuron_boundary", "NeuronBoundaryCoverage", "BoundaryConfig", aliases=("nbc",),
                     profile=True,
                     summary="Neuron boundary coverage (DeepGauge): neurons driven above or below their "
                             "training range")
    yield _criterion("strong_neuron_activation", "StrongNeuronActivationCoverage", "BoundaryConfig",
                     aliases=("snac",), profile=True,
                     summary="Strong neuron activation coverage (DeepGauge): neurons driven above their "
                             "training maximum")
    yield _criterion("lsa", "LikelihoodSurprise", "LSAConfig", module="surprise",
                     aliases=("likelihood_surprise",), profile=True,
                     requires=(requirement("armour-plugins-fuzz", "scipy"),),
                     summary="Likelihood-based surprise coverage (Kim et al. 2019): buckets of KDE surprise "
                             "adequacy hit")
    yield _criterion("dsa", "DistanceSurprise", "DSAConfig", module="surprise",
                     aliases=("distance_surprise",), profile=True,
                     summary="Distance-based surprise coverage (Kim et al. 2019): buckets of nearest-neighbour "
                             "surprise adequacy hit")
