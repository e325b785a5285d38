"""Hyperparameters of the membership-inference attacks (light: attrs only).

Configs are frozen and keyword-only; invalid values raise when the algorithm is created, naming the field.
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import validators as v

from armour_core.api.base import seed_field
from armour_core.api.validators import int_field, nonnegative_field, positive_field, unit_field

#: attack classifiers of MindArmour's membership inference (scikit-learn estimators)
CLASSIFIER_METHODS = ("lr", "knn", "mlp", "rf")


def _method(inst: Any, attribute: Any, value: Any) -> None:
    if value not in CLASSIFIER_METHODS:
        raise ValueError(f"method={value!r}: unknown attack classifier; expected one of "
                         f"{', '.join(CLASSIFIER_METHODS)}")


def _grid(inst: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not value:
        raise ValueError(f"param_grid: expected a non-empty dict of parameter -> list of values, got {value!r}")
    for k, vals in value.items():
        if not isinstance(k, str) or isinstance(vals, (str, bytes)) or not hasattr(vals, "__len__") or not len(vals):
            raise ValueError(f"param_grid[{k!r}]: expected a non-empty list of candidate values, got {vals!r}")


@attrs.frozen(kw_only=True)
class LossThresholdConfig:
    """Yeom et al. (2018): member if the loss is below the mean training loss (learned by ``fit``)."""

    seed: int | None = seed_field()


@attrs.frozen(kw_only=True)
class EntropyConfig:
    """Song & Mittal (2021). ``modified``: the label-aware modified entropy (else Shannon entropy of the
    prediction); ``class_thresholds``: ``fit`` learns one threshold per class."""

    modified: bool = attrs.field(default=True, validator=v.instance_of(bool))
    class_thresholds: bool = attrs.field(default=True, validator=v.instance_of(bool))
    seed: int | None = seed_field()


@attrs.frozen(kw_only=True)
class ClassifierConfig:
    """MindArmour's method (Shokri et al. 2017 style): a scikit-learn classifier on the target's outputs.

    ``features``: ``loss_logits`` (per-example loss and the logits, as MindArmour) or ``sorted_probs``
    (loss plus the probabilities sorted in decreasing order, which is class-permutation invariant).
    ``param_grid``: candidate hyperparameters for grid search (defaults per method); ``cv`` folds.
    """

    method: str = attrs.field(default="lr", validator=_method)
    param_grid: dict | None = attrs.field(default=None, validator=_grid)
    features: str = attrs.field(default="loss_logits", validator=v.in_(("loss_logits", "sorted_probs")))
    cv: int = int_field(3, low=2)
    n_jobs: int = attrs.field(default=1, validator=v.instance_of(int))
    seed: int | None = seed_field()


@attrs.frozen(kw_only=True)
class ShadowConfig:
    """Shadow (reference) models shared by LiRA and RMIA.

    ``shadows``: number of shadow models; ``online``: shadows trained with and without each target (else
    only without: offline); ``keep_fraction``: share of the pool each shadow trains on (shadows come in
    balanced blocks, see ``ShadowAttack._design``). The training recipe (``epochs``, ``batch_size``,
    ``learning_rate``, ``weight_decay``) should match the target's. ``architecture`` names a registered
    model to build shadows from (or pass ``network_fn=``). Shadows are cached on disk unless ``cache=False``;
    ``progress`` shows the shadow bar (None: only on a terminal).
    """

    shadows: int = int_field(16)
    online: bool = attrs.field(default=True, validator=v.instance_of(bool))
    keep_fraction: float = unit_field(0.5, low_closed=False, high_closed=False)
    architecture: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    epochs: int = int_field(30)
    batch_size: int = int_field(64)
    learning_rate: float = positive_field(1e-3)
    weight_decay: float = nonnegative_field(0.0)
    cache: bool = attrs.field(default=True, validator=v.instance_of(bool))
    progress: bool | None = None
    seed: int | None = seed_field()

    def __attrs_post_init__(self) -> None:
        if self.online and self.shadows < 2:
            raise ValueError(f"shadows={self.shadows}: the online attack needs at least 2 shadows "
                             "(some trained with each target, some without)")


@attrs.frozen(kw_only=True)
class LiRAConfig(ShadowConfig):
    """Carlini et al. (2022) likelihood-ratio attack (shadow settings: :class:`ShadowConfig`).

    ``variance``: per-example Gaussian variances, one global variance, or ``auto`` (global below 64
    shadows, as the paper recommends); ``augment``: also query four one-pixel shifts of each image and
    average the per-view tests (Carlini et al.'s multiple queries; only useful when the target was
    trained with shift augmentation).
    """

    variance: str = attrs.field(default="auto", validator=v.in_(("auto", "per_example", "global")))
    augment: bool = attrs.field(default=False, validator=v.instance_of(bool))


@attrs.frozen(kw_only=True)
class RMIAConfig(ShadowConfig):
    """Zarifzadeh et al. (2024) relative membership inference (shadow settings: :class:`ShadowConfig`;
    the paper calls shadows reference models and needs few: 4 by default).

    ``gamma``: threshold on the pairwise likelihood ratio LR(x, z) (the score counts the population points
    z with LR >= gamma); ``offline_a``: slope of the offline approximation Pr_IN(x) = a Pr_OUT(x) + (1 - a),
    used when the references never trained on the targets; ``temperature`` of the softmax giving
    Pr(x | theta). Defaults are those of the paper's released CIFAR-10 configurations (gamma 2, a 0.33).
    """

    shadows: int = int_field(4)
    gamma: float = positive_field(2.0)
    offline_a: float = unit_field(0.33)
    temperature: float = positive_field(1.0)
