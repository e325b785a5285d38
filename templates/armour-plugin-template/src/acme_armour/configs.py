"""Hyperparameters: frozen attrs classes (light to import, validated, keyword-only)."""

import attrs

from armour_core.api.attack import AttackConfig
from armour_core.api.mutator import MutatorConfig, range_field
from armour_core.api.validators import int_field, unit_field


@attrs.frozen(kw_only=True)
class InvertConfig(MutatorConfig):
    strength: tuple[float, float] = range_field((0.1, 0.5), low=0.0, high=1.0)


@attrs.frozen(kw_only=True)
class SignedGradientConfig(AttackConfig):
    """``steps`` signed-gradient steps of ``step_size`` (a fraction of eps) from a uniform random start in
    the ε-ball (``random_start=False``: from the input itself)."""

    steps: int = int_field(10)
    step_size: float = unit_field(0.25, low_closed=False)
    random_start: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
