"""Records of the adversarial-example detectors."""

from __future__ import annotations

from armour_core.specs import DetectorSpec, PluginSpec

_PKG = "armour_plugins_attacks.detectors"
_CFG = f"{_PKG}.configs"


def _records():
    yield PluginSpec(
        name="magnet_error", kind="detector", target=f"{_PKG}.magnet:MagNetError", config=f"{_CFG}:MagNetErrorConfig",
        aliases=("magnet", "magnet_reconstruction"), capabilities=set(),
        facet=DetectorSpec(needs_training=True),
        summary="MagNet detector I (Meng & Chen 2017): reconstruction error of a denoising auto-encoder "
                "trained on clean data; transform = the auto-encoder reformer")
    yield PluginSpec(
        name="magnet_divergence", kind="detector", target=f"{_PKG}.magnet:MagNetDivergence",
        config=f"{_CFG}:MagNetDivergenceConfig", aliases=("magnet_jsd",), capabilities={"forward"},
        facet=DetectorSpec(needs_training=True),
        summary="MagNet detector II: Jensen-Shannon divergence between softened predictions on x and on "
                "its auto-encoder reconstruction; transform = the reformer")
    yield PluginSpec(
        name="region_based", kind="detector", target=f"{_PKG}.region:RegionBased",
        config=f"{_CFG}:RegionBasedConfig", aliases=("region",), capabilities={"forward"},
        facet=DetectorSpec(needs_training=True),
        summary="Region-based detection (Cao & Gong 2017): disagreement of the labels over a hyper-cube "
                "around each input with its point prediction")
    yield PluginSpec(
        name="spatial_smoothing", kind="detector", target=f"{_PKG}.smoothing:SpatialSmoothing",
        config=f"{_CFG}:SpatialSmoothingConfig", aliases=("median_smoothing",), capabilities={"forward"},
        facet=DetectorSpec(needs_training=False),
        summary="Change of the predicted probabilities under a per-sample median filter; transform = the "
                "smoothed input")
    yield PluginSpec(
        name="feature_squeezing", kind="detector", target=f"{_PKG}.squeezing:FeatureSqueezing",
        config=f"{_CFG}:FeatureSqueezingConfig", aliases=("squeezing",), capabilities={"forward"},
        facet=DetectorSpec(needs_training=False),
        summary="Feature squeezing (Xu et al. 2018): max L1 change of the prediction under bit-depth "
                "reduction and median smoothing")
    yield PluginSpec(
        name="similarity", kind="detector", target=f"{_PKG}.similarity:Similarity",
        config=f"{_CFG}:SimilarityConfig", aliases=("stateful_similarity", "query_detection"), capabilities=set(),
        facet=DetectorSpec(needs_training=True, stateful=True),
        summary="Stateful black-box query detection (Chen et al. 2019): k-NN distance of each query to the "
                "history of recent queries in an encoder's feature space")
    yield PluginSpec(
        name="ensemble", kind="detector", target=f"{_PKG}.ensemble:Ensemble", config=f"{_CFG}:EnsembleConfig",
        aliases=("detector_ensemble",), capabilities=set(),
        facet=DetectorSpec(needs_training=True),
        summary="Combines member detectors' per-sample decisions with any / all / majority vote")


#: the family's records by name: the one declaration of each algorithm's facts (norms, targeting, needed
#: capabilities); implementation classes name theirs in ``record`` and configs read their norms from it
RECORDS = {s.name: s for s in _records()}


def detectors():
    yield from RECORDS.values()
