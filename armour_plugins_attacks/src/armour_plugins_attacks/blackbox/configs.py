"""Hyperparameters of the black-box (query) attacks (frozen attrs classes; light to import).

Every black-box config has ``max_queries``: the budget of model evaluations *per sample*. An attack
stops working on a sample once that sample has used its budget, and never exceeds it.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from attrs import validators as v

from armour_core.api.attack import AttackConfig, record_norm_field
from armour_core.api.validators import eps_field, int_field, nonnegative_field, positive_field, unit_field
from .records import RECORDS


@attrs.frozen(kw_only=True)
class BlackBoxConfig(AttackConfig):
    """Shared by every black-box attack. ``max_queries``: model evaluations allowed per sample."""

    max_queries: int = int_field(10_000)


@attrs.frozen(kw_only=True)
class HopSkipJumpConfig(BlackBoxConfig):
    """HopSkipJumpAttack (Chen, Jordan & Wainwright, 2020), decision-based.

    ``eps=None`` (default) minimises the distance; with ``eps`` set a sample stops as soon as its
    adversarial example is within ``eps`` (and the result is projected onto the ball).
    ``max_iter``: gradient-estimation iterations; ``init_evals`` / ``max_evals``: boundary-gradient
    samples at the first iteration (growing as ``init_evals * sqrt(t)``) and their cap;
    ``gamma``: binary-search tolerance factor (theta = gamma / d^1.5 for L2, gamma / d^2 for L∞);
    ``init_tries``: uniform-noise draws tried to find a starting adversarial point.
    """

    eps: float | None = eps_field(None, optional=True)
    norm: str = record_norm_field(RECORDS["hsja"])
    max_iter: int = int_field(64)
    init_evals: int = int_field(100)
    max_evals: int = int_field(10_000)
    gamma: float = positive_field(1.0)
    init_tries: int = int_field(100)
    max_step_halvings: int = int_field(20)


@attrs.frozen(kw_only=True)
class NESConfig(BlackBoxConfig):
    """NES gradient estimation with PGD steps (Ilyas, Engstrom, Athalye & Lin, 2018), score-based.

    ``samples``: antithetic pairs per gradient estimate (2·samples queries, plus one for the iterate);
    ``sigma``: search standard deviation; ``step_size``: PGD step (L∞: per coordinate; L2: Euclidean),
    default ``eps / 10``; ``momentum``: averaging of successive gradient estimates; ``loss``: ``ce``
    (cross-entropy) or ``margin`` (logit margin).
    """

    eps: float = eps_field(0.1)
    norm: str = record_norm_field(RECORDS["nes"])
    samples: int = int_field(50)
    sigma: float = positive_field(0.01)
    step_size: float | None = positive_field(None, optional=True)
    momentum: float = unit_field(0.9, high_closed=False)
    loss: str = attrs.field(default="ce", validator=v.in_(("ce", "margin")))


@attrs.frozen(kw_only=True)
class GeneticConfig(BlackBoxConfig):
    """GenAttack (Alzantot et al., 2019): a genetic search inside the L∞ ball, score-based.

    ``population``: candidates per sample (one is the elite, kept unchanged); ``temperature``:
    selection softmax temperature on the fitness; ``mutation_rate`` / ``mutation_range``: their floors
    (the schedule starts at 0.5 / 0.4 and decays by 0.9 per plateau of ``patience`` generations).
    """

    eps: float = eps_field(0.1)
    norm: str = record_norm_field(RECORDS["genetic"])
    population: int = int_field(6, low=2)
    temperature: float = positive_field(0.1)
    mutation_rate: float = unit_field(0.1)
    mutation_range: float = unit_field(0.15)
    patience: int = int_field(5)


@attrs.frozen(kw_only=True)
class PSOConfig(BlackBoxConfig):
    """Particle swarm optimisation inside the ε-ball (score-based).

    ``particles``: swarm size per sample; ``inertia``: (start, end) of the linearly decreasing inertia
    weight; ``cognitive`` / ``social``: acceleration towards the particle's and the swarm's best;
    ``max_velocity``: per-coordinate velocity cap as a fraction of ``eps``.
    """

    eps: float = eps_field(0.1)
    norm: str = record_norm_field(RECORDS["pso"])
    particles: int = int_field(10, low=2)
    inertia: tuple[float, float] = attrs.field(default=(0.9, 0.4), converter=tuple)
    cognitive: float = nonnegative_field(2.0)
    social: float = nonnegative_field(2.0)
    max_velocity: float = positive_field(0.5)

    @inertia.validator
    def _inertia(self, attribute, value):
        if len(value) != 2 or not all(0.0 <= float(w) <= 1.5 for w in value):
            raise ValueError(f"inertia: expected (start, end) with values in [0, 1.5], got {value!r}")


@attrs.frozen(kw_only=True)
class SaltAndPepperConfig(BlackBoxConfig):
    """Salt-and-pepper noise of increasing density until misclassified (decision-based).

    ``steps``: densities tried per repetition, from ``1/steps`` up to ``1`` (after a success the next
    repetition only goes up to 1.2 times the density that worked); ``repetitions``: independent
    restarts (the smallest perturbation in ``norm`` is kept). ``eps=None``: unbounded.
    """

    eps: float | None = eps_field(None, optional=True)
    norm: str = record_norm_field(RECORDS["salt_and_pepper"])
    max_queries: int = int_field(1_000)
    steps: int = int_field(100)
    repetitions: int = int_field(10)


@attrs.frozen(kw_only=True)
class PointwiseConfig(BlackBoxConfig):
    """Pointwise attack (Schott et al., 2019): L0 minimisation from a salt-and-pepper start.

    ``init_queries``: part of the budget for the salt-and-pepper start; ``search_steps``: binary-search
    steps per coordinate in the refinement phase; ``refine``: run that phase (moves each remaining
    coordinate as close to the original as the decision allows).
    """

    eps: float | None = eps_field(None, optional=True)
    norm: str = record_norm_field(RECORDS["pointwise"])
    init_queries: int = int_field(500)
    search_steps: int = int_field(10)
    refine: bool = True


@attrs.frozen(kw_only=True)
class SquareConfig(BlackBoxConfig):
    """Square Attack (Andriushchenko et al. 2020): score-based random search.

    ``max_queries``: per-sample budget of model evaluations per restart (the initial evaluation included;
    ``queries=`` is its deprecated old name); ``p_init``:
    initial fraction of features changed per step (halved on the paper's schedule, rescaled to the
    budget); ``loss``: ``margin`` (untargeted default) or ``ce``.
    """

    RENAMED: ClassVar[dict[str, str]] = {"queries": "max_queries"}

    eps: float = eps_field(0.1)
    norm: str = record_norm_field(RECORDS["square"])
    max_queries: int = int_field(1000)
    p_init: float = unit_field(0.05, low_closed=False)
    loss: str = attrs.field(default="margin", validator=v.in_(("margin", "ce")))
    restarts: int = int_field(1)
