"""Records of the coverage criteria (DeepGauge family and surprise adequacy). Every criterion reads layer
activations from the model; ``profile``: it needs a training-set profile (``fit``) first."""

from __future__ import annotations

from armour_core.specs import CoverageSpec, requirement

from ..records import family_spec

#: name, "module:Class", config class, profile, aliases, summary
_CRITERIA = (
    ("neuron", "deepgauge:NeuronCoverage", "NeuronCoverageConfig", False, ("nc", "neuron_coverage"),
     "Neuron coverage (DeepXplore/DeepGauge): fraction of neurons whose output exceeded a threshold"),
    ("top_k", "deepgauge:TopKNeuronCoverage", "TopKConfig", False, ("tknc", "top_k_neuron"),
     "Top-k neuron coverage (DeepGauge): fraction of neurons among their layer's k most active for some input"),
    ("top_k_pattern", "deepgauge:TopKPatternCoverage", "TopKPatternConfig", False, ("tknp",),
     "Top-k neuron patterns (DeepGauge): distinct tuples of every layer's top-k set, over the number possible"),
    ("k_multisection", "deepgauge:MultisectionCoverage", "MultisectionConfig", True, ("kmnc",),
     "k-multisection neuron coverage (DeepGauge): sections of each neuron's training range hit"),
    ("neuron_boundary", "deepgauge:NeuronBoundaryCoverage", "BoundaryConfig", True, ("nbc",),
     "Neuron boundary coverage (DeepGauge): neurons driven above or below their training range"),
    ("strong_neuron_activation", "deepgauge:StrongNeuronActivationCoverage", "BoundaryConfig", True, ("snac",),
     "Strong neuron activation coverage (DeepGauge): neurons driven above their training maximum"),
    ("lsa", "surprise:LikelihoodSurprise", "LSAConfig", True, ("likelihood_surprise",),
     "Likelihood-based surprise coverage (Kim et al. 2019): buckets of KDE surprise adequacy hit"),
    ("dsa", "surprise:DistanceSurprise", "DSAConfig", True, ("distance_surprise",),
     "Distance-based surprise coverage (Kim et al. 2019): buckets of nearest-neighbour surprise adequacy hit"),
)

#: optional dependencies per criterion (the KDE of LSA uses scipy)
_REQUIRES = {"lsa": (requirement("armour-plugins-fuzz", "scipy"),)}  # the pyproject states the version


def coverage_metrics():
    for name, target, config, profile, aliases, summary in _CRITERIA:
        yield family_spec("coverage", "coverage", name, target, summary, config=config, aliases=aliases,
                          capabilities={"activations"}, facet=CoverageSpec(needs_profile=profile),
                          requires=_REQUIRES.get(name, ()))
