"""Detector hyperparameters (frozen attrs classes; light to import)."""

from __future__ import annotations

import attrs
from attrs import validators as v

from armour_core.api.detector import DetectorConfig
from armour_core.api.validators import int_field, nonnegative_field, positive_field, unit_field


@attrs.frozen(kw_only=True)
class MagNetConfig(DetectorConfig):
    """The auto-encoder MagNet trains on clean data (Meng & Chen, 2017).

    ``architecture``: ``conv`` (3x3 sigmoid convolutions, for (C, H, W) images), ``dense`` (one sigmoid
    hidden layer, for flat vectors) or ``auto`` (conv for images, dense otherwise); ``hidden``: conv
    channels (default 3, the paper's) or dense units (default D/2); ``noise``: std of the Gaussian noise
    added to the training inputs (the paper's noise volume, as a fraction of the data range);
    ``epochs``, ``batch_size``, ``learning_rate``, ``weight_decay``: Adam training of the MSE loss.
    """

    architecture: str = attrs.field(default="auto", validator=v.in_(("auto", "conv", "dense")))
    hidden: int | None = int_field(None, optional=True)
    noise: float = nonnegative_field(0.1)
    epochs: int = int_field(50)
    batch_size: int = int_field(64)
    learning_rate: float = positive_field(1e-2)
    weight_decay: float = nonnegative_field(1e-9)


@attrs.frozen(kw_only=True)
class MagNetErrorConfig(MagNetConfig):
    """Detector I: ``p``-norm reconstruction error, mean of ``|x - AE(x)|^p`` over the input (1 or 2)."""

    p: int = attrs.field(default=1, validator=v.in_((1, 2)))


@attrs.frozen(kw_only=True)
class MagNetDivergenceConfig(MagNetConfig):
    """Detector II: Jensen–Shannon divergence between the classifier's softmax at ``temperature`` on x
    and on AE(x) (the paper uses T = 10 and 40)."""

    temperature: float = positive_field(10.0)


@attrs.frozen(kw_only=True)
class RegionBasedConfig(DetectorConfig):
    """Region-based detection (Cao & Gong, 2017): ``samples`` points drawn uniformly from the hyper-cube of
    half-width ``radius`` around each input (``None``: the largest radius in ``(0, max_radius]`` whose
    region classifier is as accurate as the point classifier on the fitting data, found by
    ``search_steps`` bisection steps on at most ``search_inputs`` of the fitting inputs; ``tolerance``
    allows that much accuracy loss)."""

    radius: float | None = positive_field(None, optional=True)
    samples: int = int_field(100)
    max_radius: float = positive_field(0.5)
    search_steps: int = int_field(8)
    search_inputs: int = int_field(256)
    tolerance: float = unit_field(0.0, high_closed=False)


@attrs.frozen(kw_only=True)
class SpatialSmoothingConfig(DetectorConfig):
    """``window``: median-filter size over the spatial axes of each sample (each channel separately)."""

    window: int = int_field(3, low=2)


@attrs.frozen(kw_only=True)
class FeatureSqueezingConfig(DetectorConfig):
    """Squeezers of Xu, Evans & Qi (2018): ``bit_depth`` reduction (bits kept; None: off) and a median
    filter of size ``median_size`` (None: off). The score is the largest L1 distance between the
    prediction on x and on a squeezed x. Defaults: the paper's MNIST setting (1 bit, 2x2 median); the
    paper uses 5 bits for colour images."""

    bit_depth: int | None = attrs.field(default=1, validator=v.optional([v.instance_of(int), v.ge(1), v.le(16)]))
    median_size: int | None = attrs.field(default=2, validator=v.optional([v.instance_of(int), v.ge(2)]))

    @median_size.validator
    def _one_squeezer(self, attribute, value):
        if value is None and self.bit_depth is None:
            raise ValueError("feature squeezing needs at least one squeezer (bit_depth or median_size)")


@attrs.frozen(kw_only=True)
class SimilarityConfig(DetectorConfig):
    """Stateful query detection (Chen, Carlini & Wagner, 2019): a query is flagged when the mean distance
    from its encoding to its ``k`` nearest neighbours among the last ``buffer_size`` queries is below the
    threshold (set so that ``fpr`` of benign inputs would be flagged against the benign set).
    ``clear_on_detection``: empty the history after each detection (the paper's accounting, which counts
    how many detections an attack triggers)."""

    fpr: float = unit_field(0.001, low_closed=False, high_closed=False)
    k: int = int_field(50)
    buffer_size: int = int_field(1000)
    clear_on_detection: bool = True

    @buffer_size.validator
    def _room_for_k(self, attribute, value):
        if value < self.k:
            raise ValueError(f"buffer_size ({value}) must be at least k ({self.k})")


@attrs.frozen(kw_only=True)
class EnsembleConfig(DetectorConfig):
    """``rule``: flag a sample when ``any`` member flags it, when ``all`` do, or on a strict majority
    ``vote``. ``calibrate_members``: re-set every member's threshold so that the ensemble's clean
    false-positive rate on the calibration data is at most ``fpr`` (any: ``fpr / M`` per member, a union
    bound; vote: ``fpr * (M // 2 + 1) / M``; all: ``fpr``); when False, members keep their own thresholds."""

    rule: str = attrs.field(default="any", validator=v.in_(("any", "all", "vote")))
    calibrate_members: bool = True
