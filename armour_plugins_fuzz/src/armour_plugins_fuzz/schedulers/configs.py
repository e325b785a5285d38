"""Seed-scheduler hyperparameters (frozen attrs classes; light to import)."""

from __future__ import annotations

import attrs

from armour_core.api.scheduler import SchedulerConfig
from armour_core.api.validators import int_field, positive_field, unit_field


@attrs.frozen(kw_only=True)
class UniformConfig(SchedulerConfig):
    """No hyperparameters: every corpus entry is equally likely."""


@attrs.frozen(kw_only=True)
class CoverageGainConfig(SchedulerConfig):
    """``floor``: once every entry has been fuzzed, entries are drawn with weight ``gain + floor * max(gain)``
    (a positive floor keeps zero-gain entries, such as initial seeds, reachable)."""

    floor: float = unit_field(0.05)


@attrs.frozen(kw_only=True)
class RecencyConfig(SchedulerConfig):
    """``window``: how many of the newest entries form the reservoir (TensorFuzz uses 5)."""

    window: int = int_field(5)


@attrs.frozen(kw_only=True)
class DeepHunterConfig(SchedulerConfig):
    """DeepHunter's Eq. 3: an entry fuzzed ``f`` times is accepted with probability ``1 - f / gamma`` while
    ``f < (1 - p_min) * gamma``, and ``p_min`` afterwards (Xie et al. 2019 use gamma=5, p_min=0.3)."""

    gamma: float = positive_field(5.0)
    p_min: float = unit_field(0.3, low_closed=False)
