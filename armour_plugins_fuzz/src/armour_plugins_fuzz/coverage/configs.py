"""Coverage-criterion hyperparameters (frozen attrs classes; light to import)."""

from __future__ import annotations

import attrs

from armour_core.api.coverage import CoverageConfig
from armour_core.api.validators import int_field, nonnegative_field, positive_field


@attrs.frozen(kw_only=True)
class NeuronCoverageConfig(CoverageConfig):
    """``threshold``: a neuron is covered once its output exceeds it; ``scaled``: compare after min-max
    scaling each layer's outputs per input (DeepXplore) instead of on raw outputs (DeepGauge)."""

    threshold: float = attrs.field(default=0.1, converter=float)
    scaled: bool = False

    @threshold.validator
    def _check(self, attribute, value):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"threshold must be finite, got {value}")
        if self.scaled and not 0.0 <= value < 1.0:
            raise ValueError(f"threshold must lie in [0, 1) when scaled=True, got {value}")


@attrs.frozen(kw_only=True)
class TopKConfig(CoverageConfig):
    """``k``: how many of each layer's most active neurons count for an input (DeepGauge's TKNC/TKNP)."""

    k: int = int_field(3)


@attrs.frozen(kw_only=True)
class TopKPatternConfig(TopKConfig):
    """``capacity``: the number of patterns that means full coverage (None: every possible pattern, the
    product over layers of C(units, k)); the raw count is ``patterns``."""

    capacity: int | None = int_field(None, optional=True)


@attrs.frozen(kw_only=True)
class MultisectionConfig(CoverageConfig):
    """``k``: sections each neuron's training range [low, high] is cut into (DeepGauge's KMNC)."""

    k: int = int_field(10)


@attrs.frozen(kw_only=True)
class BoundaryConfig(CoverageConfig):
    """``std_scale``: widen the training range to [low - s·std, high + s·std] before counting corner-case
    outputs (0 is DeepGauge's definition)."""

    std_scale: float = nonnegative_field(0.0)


@attrs.frozen(kw_only=True)
class SurpriseConfig(CoverageConfig):
    """Surprise coverage (Kim et al. 2019): the fraction of ``buckets`` equal parts of [``lower``, ``upper``]
    hit by the inputs' surprise adequacy (the paper uses [0, U]). ``lower``: None means 0, or the smallest
    training surprise when that is negative (LSA is a negative log-density and can be below 0). ``upper``:
    None sets U to the largest leave-one-out surprise of the training inputs; set it higher to reward inputs
    more surprising than any training input. ``max_train``: at most this many training traces are kept (a
    seeded uniform subsample, ``seed``) to bound the cost."""

    buckets: int = int_field(1000)
    lower: float | None = attrs.field(default=None, converter=attrs.converters.optional(float))
    upper: float | None = attrs.field(default=None, converter=attrs.converters.optional(float))
    max_train: int | None = int_field(5000, optional=True)
    seed: int = int_field(0, low=0)

    @lower.validator
    def _check_lower(self, attribute, value):
        if value is not None and not abs(value) < float("inf"):
            raise ValueError(f"lower must be finite, got {value}")

    @upper.validator
    def _check_upper(self, attribute, value):
        if value is None:
            return
        if not abs(value) < float("inf"):
            raise ValueError(f"upper must be finite, got {value}")
        if self.lower is not None and not value > self.lower:
            raise ValueError(f"upper={value} must exceed lower={self.lower}")


@attrs.frozen(kw_only=True)
class LSAConfig(SurpriseConfig):
    """``var_threshold``: neurons whose training variance is below it are dropped before the KDE (as in the
    paper's code); ``bandwidth``: KDE bandwidth factor (None: Scott's rule, as scipy's gaussian_kde);
    ``class_conditional``: one KDE per class, evaluated for each input under its predicted class (the paper's
    setting for classifiers)."""

    var_threshold: float = nonnegative_field(1e-5)
    bandwidth: float | None = positive_field(None, optional=True)
    class_conditional: bool = True


@attrs.frozen(kw_only=True)
class DSAConfig(SurpriseConfig):
    """Distance-based surprise adequacy; no further hyperparameters."""
