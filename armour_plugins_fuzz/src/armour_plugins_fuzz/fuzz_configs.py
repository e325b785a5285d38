"""Seed-scheduler hyperparameters (frozen attrs classes; light to import)."""

from __future__ import annotations

import attrs

from armour_core.api.scheduler import SchedulerConfig


def _positive(inst, attribute, value):
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen(kw_only=True)
class UniformConfig(SchedulerConfig):
    """No hyperparameters: every corpus entry is equally likely."""


@attrs.frozen(kw_only=True)
class CoverageGainConfig(SchedulerConfig):
    """``floor``: once every entry has been fuzzed, entries are drawn with weight ``gain + floor * max(gain)``
    (a positive floor keeps zero-gain entries, such as initial seeds, reachable)."""

    floor: float = attrs.field(default=0.05, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)])


@attrs.frozen(kw_only=True)
class RecencyConfig(SchedulerConfig):
    """``window``: how many of the newest entries form the reservoir (TensorFuzz uses 5)."""

    window: int = attrs.field(default=5, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)])


@attrs.frozen(kw_only=True)
class DeepHunterConfig(SchedulerConfig):
    """DeepHunter's Eq. 3: an entry fuzzed ``f`` times is accepted with probability ``1 - f / gamma`` while
    ``f < (1 - p_min) * gamma``, and ``p_min`` afterwards (Xie et al. 2019 use gamma=5, p_min=0.3)."""

    gamma: float = attrs.field(default=5.0, validator=_positive)
    p_min: float = attrs.field(default=0.3)

    @p_min.validator
    def _p_min(self, attribute, value):
        if not 0.0 < value <= 1.0:
            raise ValueError(f"p_min must lie in (0, 1], got {value}")
