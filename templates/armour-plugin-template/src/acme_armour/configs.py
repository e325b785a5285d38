"""Hyperparameters: a frozen attrs class (light to import, validated, keyword-only)."""

import attrs

from armour_core.api.mutator import MutatorConfig, range_field


@attrs.frozen(kw_only=True)
class InvertConfig(MutatorConfig):
    strength: tuple[float, float] = range_field((0.1, 0.5), low=0.0, high=1.0)
