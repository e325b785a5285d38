"""Hyperparameters of the gradient attacks (frozen attrs classes; light to import: no MindSpore).

Every field is keyword-only and validated when the attack is built, so a bad value fails at
``registry.create`` with a message naming the field rather than deep inside a compiled graph.
``eps`` and ``norm`` come from :class:`~armour_core.api.attack.AttackConfig`; ``norm`` defaults to the
attack's first supported norm.
"""

from __future__ import annotations

import attrs

from armour_core.api.attack import AttackConfig, record_norm_field
from armour_core.api.model import LOSSES
from armour_core.api.validators import (
    eps_field,
    int_field,
    nonnegative_field,
    positive,
    positive_field,
    required,
    unit_field,
)
from .records import RECORDS

#: how an iterative attack runs its loop (see armour_plugins_attacks.gradient.loop)
COMPILE_MODES = ("auto", "loop", "unroll", "step", "eager")


# ------------------------------------------------------------------------------------------ single step
@attrs.frozen(kw_only=True)
class FGSMConfig(AttackConfig):
    """``eps``: L∞ step size (the whole budget is spent in one signed-gradient step)."""

    norm: str = record_norm_field(RECORDS["fgsm"])
    eps: float = eps_field(0.1)


@attrs.frozen(kw_only=True)
class FGMConfig(AttackConfig):
    """``eps``: length of the one gradient step in ``norm`` (L2: along the normalised gradient; L1: the budget
    goes to the largest gradient coordinates, each up to its bound)."""

    eps: float = eps_field(1.0)
    norm: str = record_norm_field(RECORDS["fgm"])


def _alpha_within_eps(self) -> None:
    if self.alpha is not None and self.alpha > self.eps:
        raise ValueError(f"alpha={self.alpha} must not exceed eps={self.eps} (the random step is part "
                         "of the budget)")


@attrs.frozen(kw_only=True)
class RFGSMConfig(AttackConfig):
    """R+FGSM (Tramèr et al. 2018): a random signed step of ``alpha`` (default ``eps / 2``), then a gradient
    sign step of ``eps - alpha`` from the random point."""

    norm: str = record_norm_field(RECORDS["rfgsm"])
    eps: float = eps_field(0.1)
    alpha: float | None = nonnegative_field(None, optional=True)

    def __attrs_post_init__(self):
        _alpha_within_eps(self)


@attrs.frozen(kw_only=True)
class RFGMConfig(AttackConfig):
    """The L2 analogue of R+FGSM: a random step of L2 length ``alpha`` (default ``eps / 2``) in a uniformly
    random direction, then a normalised-gradient step of ``eps - alpha``."""

    eps: float = eps_field(1.0)
    norm: str = record_norm_field(RECORDS["rfgm"])
    alpha: float | None = nonnegative_field(None, optional=True)

    def __attrs_post_init__(self):
        _alpha_within_eps(self)


@attrs.frozen(kw_only=True)
class LLCConfig(AttackConfig):
    """Least-likely class method: one step of ``eps`` towards the class the model finds least likely."""

    norm: str = record_norm_field(RECORDS["llc"])
    eps: float = eps_field(0.1)


@attrs.frozen(kw_only=True)
class RLLCConfig(LLCConfig):
    """Random-start least-likely class (Tramèr et al.'s R+Step-LL): random signed step ``alpha`` (default
    ``eps / 2``), then ``eps - alpha`` towards the least-likely class."""

    norm: str = record_norm_field(RECORDS["rllc"])
    alpha: float | None = nonnegative_field(None, optional=True)

    def __attrs_post_init__(self):
        _alpha_within_eps(self)


# ------------------------------------------------------------------------------------------ iterative
@attrs.frozen(kw_only=True)
class IterativeConfig(AttackConfig):
    """Shared by the iterative attacks.

    ``steps``: gradient iterations. ``step_size``: length of each step in ``norm`` (None: the attack's
    default, a fraction of ``eps``). ``loss``: per-sample objective (``ce`` cross-entropy, ``margin``
    Carlini–Wagner margin, ``dlr`` difference of logits ratio); targeted attacks descend it towards the
    target. ``sparsity`` (L1 only): each step is split over the coordinates above this percentile of
    |gradient| (Tramèr & Boneh's SLIDE step; 99 moves the top 1 %, at least one coordinate); budget that
    does not fit next to a bound flows to the next-largest coordinates. ``compile``: ``auto`` (= ``loop``,
    the whole loop in one MindSpore graph), ``unroll`` (the loop unrolled at compile time), ``step`` (one
    compiled graph per step) or ``eager`` (no graph; always used for models that are not MindSpore models).
    """

    eps: float = eps_field(0.1)
    steps: int = int_field(10)
    step_size: float | None = positive_field(None, optional=True)
    loss: str = attrs.field(default="ce", validator=attrs.validators.in_(LOSSES))
    sparsity: float = attrs.field(default=99.0, validator=[attrs.validators.ge(0.0), attrs.validators.lt(100.0)])
    compile: str = attrs.field(default="auto", validator=attrs.validators.in_(COMPILE_MODES))


@attrs.frozen(kw_only=True)
class BIMConfig(IterativeConfig):
    """Basic iterative method (Kurakin et al. 2017): ``steps`` projected gradient steps from ``x`` itself.
    Default ``step_size``: ``eps / steps``."""

    norm: str = record_norm_field(RECORDS["bim"])


@attrs.frozen(kw_only=True)
class PGDConfig(IterativeConfig):
    """Projected gradient descent (Madry et al. 2018) from a uniformly random point of the ε-ball.

    Defaults follow Madry et al.'s MNIST setting: 40 steps of ``2.5 * eps / steps`` (the step-size rule of
    their ``robustness`` library). ``restarts``: independent random starts; each sample keeps the first
    start that fools the model (else the last). ``random_start=False`` turns it into BIM.
    """

    norm: str = record_norm_field(RECORDS["pgd"])
    steps: int = int_field(40)
    restarts: int = int_field(1)
    random_start: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))


@attrs.frozen(kw_only=True)
class MIMConfig(IterativeConfig):
    """Momentum iterative method (Dong et al. 2018): ``decay`` μ accumulates L1-normalised gradients.
    Defaults from the paper: 10 steps of ``eps / steps``, μ = 1."""

    norm: str = record_norm_field(RECORDS["mim"])
    decay: float = nonnegative_field(1.0)


@attrs.frozen(kw_only=True)
class DIFGSMConfig(MIMConfig):
    """Diverse-inputs iterative FGSM (Xie et al. 2019): each gradient is taken at a random resize-and-pad of
    the current point, applied with probability ``diversity_prob``.

    ``resize_rate`` < 1 shrinks the image to a random size in ``[resize_rate * H, H]`` and zero-pads it back
    to ``H x W`` at a random offset; ``resize_rate`` > 1 enlarges it to a random size in ``[H, resize_rate *
    H)``, pads it to a ``resize_rate * H`` canvas (the paper's scheme) and resamples the canvas to ``H x W``
    so fixed-size networks accept it. ``decay`` = 0 gives DI²-FGSM; ``mdifgsm`` sets it to 1 (M-DI²-FGSM).
    """

    norm: str = record_norm_field(RECORDS["difgsm"])
    decay: float = nonnegative_field(0.0)
    diversity_prob: float = unit_field(0.5)
    resize_rate: float = attrs.field(default=0.9, validator=[required, positive, attrs.validators.le(4.0)])

    @resize_rate.validator
    def _not_one(self, attribute, value):
        if value == 1.0:
            raise ValueError("resize_rate=1.0 leaves nothing to randomise: use < 1 (shrink and pad) or > 1 "
                             "(enlarge, pad and resample)")


@attrs.frozen(kw_only=True)
class MDIFGSMConfig(DIFGSMConfig):
    """M-DI²-FGSM: diverse inputs plus momentum (``decay`` = 1 by default)."""

    norm: str = record_norm_field(RECORDS["mdifgsm"])
    decay: float = nonnegative_field(1.0)


@attrs.frozen(kw_only=True)
class VMIFGSMConfig(MIMConfig):
    """Variance-tuning MI-FGSM (Wang & He 2021): each momentum update adds the variance term
    ``mean_i ∇J(x + r_i) - ∇J(x)`` from the previous step, ``r_i ~ U[-beta * eps, beta * eps]^d``.
    Paper defaults: ``neighbours`` N = 20, ``beta`` = 1.5, μ = 1, 10 steps of ``eps / steps``."""

    norm: str = record_norm_field(RECORDS["vmifgsm"])
    neighbours: int = int_field(20)
    beta: float = positive_field(1.5)
