"""Hyperparameters of the minimum-norm / optimisation attacks (light to import).

Minimum-norm attacks (DeepFool, C&W, FAB, JSMA, L-BFGS) default to ``eps=None``: the perturbation is as
small as the method finds, unbounded; give ``eps`` to cap it (the result is then projected onto the ball).
"""

from __future__ import annotations

import attrs

from armour_core.api.attack import AttackConfig, record_norm_field
from armour_core.api.validators import (
    eps_field,
    finite,
    int_field,
    nonnegative_field,
    positive_field,
    unit_field,
)
from .records import RECORDS

_v = attrs.validators


# --------------------------------------------------------------------------- minimum norm
@attrs.frozen(kw_only=True)
class DeepFoolConfig(AttackConfig):
    """DeepFool (Moosavi-Dezfooli et al. 2016).

    ``steps``: maximum linearise-and-step iterations; ``overshoot``: the accumulated step is scaled by
    ``1 + overshoot`` to cross the boundary; ``candidates``: how many of the most likely classes (at the
    clean input, true class excluded) are tried as the nearest boundary (the paper's top-k, 9 = all for
    10 classes).
    """

    eps: float | None = eps_field(None, optional=True)
    norm: str = record_norm_field(RECORDS["deepfool"])
    steps: int = int_field(50)
    overshoot: float = nonnegative_field(0.02)
    candidates: int = int_field(9)


@attrs.frozen(kw_only=True)
class CWConfig(AttackConfig):
    """Carlini–Wagner L2 (2017).

    Minimises ``||x' - x||² + c · max(z_y - max_{j≠y} z_j + κ, 0)`` over ``x' = box(tanh(w))`` with Adam.
    ``binary_search_steps`` rounds of a per-sample binary search on ``c`` starting at ``initial_const``;
    ``steps`` Adam iterations per round (compiled ``chunk`` at a time); ``abort_early`` stops a round when
    the loss has not fallen by 0.01 % over the last tenth of ``steps``.
    """

    eps: float | None = eps_field(None, optional=True)
    norm: str = record_norm_field(RECORDS["cw"])
    confidence: float = nonnegative_field(0.0)
    learning_rate: float = positive_field(0.01)
    initial_const: float = positive_field(0.01)
    binary_search_steps: int = int_field(9)
    steps: int = int_field(100)
    abort_early: bool = True
    chunk: int = int_field(10)


@attrs.frozen(kw_only=True)
class FABConfig(AttackConfig):
    """FAB (Croce & Hein 2020): fast adaptive boundary attack.

    ``steps`` iterations per restart; ``restarts`` (the first starts at x, later ones at a random point at
    distance ``min(best, eps or init_radius)``); ``alpha_max`` caps the bias towards the original point;
    ``eta`` the extrapolation of the projection step; ``beta`` the backward step after success.
    ``target_classes > 0`` makes it FAB-T: the boundary towards each of the ``target_classes`` most
    likely other classes is attacked in turn (success stays misclassification).
    """

    eps: float | None = eps_field(None, optional=True)
    norm: str = record_norm_field(RECORDS["fab"])
    steps: int = int_field(50)
    restarts: int = int_field(1)
    alpha_max: float = unit_field(0.1)
    eta: float = attrs.field(default=1.05, validator=[finite, _v.ge(1.0)])
    beta: float = unit_field(0.9, low_closed=False)
    init_radius: float = positive_field(0.1)
    target_classes: int = int_field(0, low=0)


@attrs.frozen(kw_only=True)
class FABTConfig(FABConfig):
    """FAB-T as AutoAttack runs it: targeted boundaries towards the 9 most likely other classes."""

    norm: str = record_norm_field(RECORDS["fab_t"])
    target_classes: int = int_field(9, low=0)


@attrs.frozen(kw_only=True)
class JSMAConfig(AttackConfig):
    """JSMA (Papernot et al. 2016): saliency-map L0 attack.

    ``theta``: change applied to each chosen feature (a fraction of the bounds' range, sign gives the
    direction); ``gamma``: maximum fraction of features that may be changed. ``eps`` (optional) caps the
    number of changed features.
    """

    eps: float | None = eps_field(None, optional=True)
    norm: str = record_norm_field(RECORDS["jsma"])
    theta: float = attrs.field(default=1.0, validator=[_v.ge(-1.0), _v.le(1.0)])
    gamma: float = unit_field(0.1, low_closed=False)

    @theta.validator
    def _theta_nonzero(self, attribute, value):
        if value == 0:
            raise ValueError("theta must be non-zero")


@attrs.frozen(kw_only=True)
class LBFGSConfig(AttackConfig):
    """Box-constrained L-BFGS (Szegedy et al. 2014).

    Minimises ``c · CE(x', target) + ||x' - x||²`` with scipy's L-BFGS-B inside the bounds; a per-sample
    binary search (``search_steps`` rounds from ``initial_const``) finds the smallest ``c`` whose minimiser
    is adversarial. Untargeted calls aim at the most likely wrong class.
    """

    eps: float | None = eps_field(None, optional=True)
    norm: str = record_norm_field(RECORDS["lbfgs"])
    initial_const: float = positive_field(0.1)
    search_steps: int = int_field(6)
    max_iterations: int = int_field(100)
