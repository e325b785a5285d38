"""Defense hyperparameters (frozen attrs classes; light to import — the records point here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from armour_core.api.defense import DefenseConfig, ratio_field
from armour_core.api.validators import eps_field, int_field, norm_field



def _check_attacks(inst, attribute, value):
    if not value:
        raise ValueError(f"{attribute.name}: give at least one attack (a registry name, a (name, config) pair "
                         "or an Attack instance)")
    for item in value:
        if isinstance(item, str) or hasattr(item, "generate"):
            continue
        if (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], Mapping)):
            continue
        raise ValueError(f"{attribute.name}: {item!r} is not an attack name, a (name, config) pair or an "
                         "Attack instance")


def _attacks_tuple(value: Any) -> tuple:
    if isinstance(value, str) or hasattr(value, "generate"):
        return (value,)
    out = []
    for item in value:
        if isinstance(item, list):
            item = tuple(item)
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping):
            item = (item[0], dict(item[1]))
        out.append(item)
    return tuple(out)


@attrs.frozen(kw_only=True)
class GivenExamplesConfig(DefenseConfig):
    """``replace_ratio``: share of each batch taken from the given adversarial examples (1.0: all)."""

    replace_ratio: float = ratio_field(1.0)


@attrs.frozen(kw_only=True)
class WithAttacksConfig(DefenseConfig):
    """``attacks``: registry names, ``(name, config)`` pairs or Attack instances; each batch's adversarial
    share is split evenly between them. ``eps`` (optional) is passed to every attack whose own config does
    not set it."""

    attacks: tuple = attrs.field(default=("fgsm",), converter=_attacks_tuple, validator=_check_attacks)
    replace_ratio: float = ratio_field(0.5)
    eps: float | None = eps_field(None, optional=True)


@attrs.frozen(kw_only=True)
class NADConfig(DefenseConfig):
    """Natural adversarial defense: FGSM examples of L∞ size ``eps`` replace ``replace_ratio`` of each batch."""

    eps: float = eps_field(0.1)
    replace_ratio: float = ratio_field(0.5)


#: norms of the compiled inner maximisation (PAD, TRADES, MART and the private PGD probe)
INNER_NORMS = ("linf", "l2")


@attrs.frozen(kw_only=True)
class InnerMaxConfig(DefenseConfig):
    """The compiled inner maximisation: ``steps`` ascent steps of ``step_size`` (default 2.5·eps/steps,
    Madry et al.) inside the ``norm`` ball of radius ``eps``."""

    eps: float = eps_field(0.3)
    norm: str = norm_field("linf", INNER_NORMS)
    steps: int = int_field(10)
    step_size: float | None = attrs.field(default=None, validator=attrs.validators.optional(
        attrs.validators.gt(0.0)))

    @property
    def alpha(self) -> float:
        return self.step_size if self.step_size is not None else 2.5 * self.eps / self.steps


@attrs.frozen(kw_only=True)
class PADConfig(InnerMaxConfig):
    """Madry PGD adversarial training: ``random_start`` uniform in the ball; ``replace_ratio`` 1.0 is Madry's
    pure adversarial training (MindArmour's PAD mixes 0.5)."""

    random_start: bool = True
    replace_ratio: float = ratio_field(1.0)


@attrs.frozen(kw_only=True)
class TRADESConfig(InnerMaxConfig):
    """TRADES (Zhang et al. 2019): CE(f(x), y) + ``beta``·KL(f(x) ‖ f(x')); the inner maximisation of the KL
    starts at x + 0.001·N(0, 1) as in the paper's code."""

    beta: float = attrs.field(default=6.0, validator=attrs.validators.ge(0.0))


@attrs.frozen(kw_only=True)
class MARTConfig(InnerMaxConfig):
    """MART (Wang et al. 2020): boosted CE on x' plus ``beta``·KL(f(x) ‖ f(x'))·(1 − p_y(x)); x' maximises CE
    from x + 0.001·N(0, 1)."""

    beta: float = attrs.field(default=6.0, validator=attrs.validators.ge(0.0))


@attrs.frozen(kw_only=True)
class EnsembleConfig(DefenseConfig):
    """Ensemble adversarial training (Tramèr et al. 2018): ``attack`` (a registry name, default FGSM) with
    ``attack_config`` is run on a source model chosen round-robin among the network being trained and the
    static pre-trained models; its examples replace ``replace_ratio`` of each batch."""

    attack: str = attrs.field(default="fgsm", validator=attrs.validators.instance_of(str))
    attack_config: dict = attrs.field(factory=dict, converter=dict)
    eps: float = eps_field(0.1)
    replace_ratio: float = ratio_field(0.5)
