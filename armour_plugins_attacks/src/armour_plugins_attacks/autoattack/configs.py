"""Hyperparameters of the AutoAttack family: APGD, APGD-T and the AutoAttack ensemble (light to import)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from armour_core.api.attack import AttackConfig, record_norm_field
from armour_core.api.validators import eps_field, int_field, unit_field
from .records import RECORDS

_v = attrs.validators


@attrs.frozen(kw_only=True)
class APGDConfig(AttackConfig):
    """Auto-PGD (Croce & Hein 2020).

    ``steps`` iterations per restart; the step size starts at ``2·eps`` and halves at checkpoints where
    fewer than ``rho`` of the steps since the last one improved the loss (or nothing changed), restarting
    from the best point; momentum ``momentum``. ``loss``: ``ce`` or ``dlr`` (targeted runs use the
    targeted CE / DLR). ``target_classes > 0`` makes it APGD-T: the targeted DLR loss against each of the
    ``target_classes`` most likely other classes in turn (success stays misclassification).
    """

    eps: float = eps_field(0.1)
    norm: str = record_norm_field(RECORDS["apgd"])
    steps: int = int_field(100)
    restarts: int = int_field(1)
    loss: str = attrs.field(default="ce", validator=_v.in_(("ce", "dlr")))
    rho: float = unit_field(0.75, low_closed=False)
    momentum: float = unit_field(0.75)
    random_start: bool = True
    target_classes: int = int_field(0, low=0)
    eot_samples: int = int_field(1)


@attrs.frozen(kw_only=True)
class APGDTConfig(APGDConfig):
    """APGD-T as AutoAttack runs it: targeted DLR against the 9 most likely other classes."""

    norm: str = record_norm_field(RECORDS["apgd_t"])
    loss: str = attrs.field(default="dlr", validator=_v.in_(("ce", "dlr")))
    target_classes: int = int_field(9, low=0)


@attrs.frozen(kw_only=True)
class AutoAttackConfig(AttackConfig):
    """AutoAttack (Croce & Hein 2020): a parameter-free ensemble reporting the point-wise worst case.

    ``version``: ``standard`` (APGD-CE, APGD-T, FAB-T, Square), ``plus`` (APGD-CE and APGD-DLR with 5
    restarts, FAB and FAB-T, Square with 5 restarts), ``rand`` (APGD-CE and APGD-DLR with ``eot_samples``
    gradient samples per step, for randomised models). ``steps`` per gradient attack, ``square_max_queries``
    for the Square member (``queries=`` is its deprecated old name), ``target_classes`` for the targeted members.
    """

    RENAMED: ClassVar[dict[str, str]] = {"queries": "square_max_queries"}

    eps: float = eps_field(0.1)
    norm: str = record_norm_field(RECORDS["autoattack"])
    version: str = attrs.field(default="standard", validator=_v.in_(("standard", "plus", "rand")))
    steps: int = int_field(100)
    square_max_queries: int = int_field(5000)
    target_classes: int = int_field(9)
    eot_samples: int = int_field(20)
