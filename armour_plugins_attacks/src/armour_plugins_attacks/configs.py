"""Attack hyperparameters (frozen attrs classes; light to import)."""

from __future__ import annotations

import attrs

from armour_core.api.attack import AttackConfig


@attrs.frozen(kw_only=True)
class FGSMConfig(AttackConfig):
    """``eps``: L∞ step size (the whole budget is spent in one step)."""

    eps: float = attrs.field(default=0.1, validator=attrs.validators.ge(0.0))
