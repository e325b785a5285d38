"""Privacy accountants: compose DP-SGD steps and report epsilon."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs

from ..errors import InvalidInputError
from .base import Algorithm
from .validators import check_int, check_positive, check_probability

def check_delta(delta: float) -> float:
    """δ in (0, 1), as a float (numpy scalars accepted, strings refused)."""
    return check_probability(delta, "delta")


@attrs.frozen(kw_only=True)
class AccountantEvent:
    """``steps`` DP-SGD steps with one noise multiplier and sampling rate.

    ``sampling="poisson"``: each example joins each batch independently with probability ``sampling_rate``
    (amplification by subsampling applies). ``sampling="shuffle"``: fixed-size batches from a shuffled
    pass; the event covers ``steps`` consecutive steps of one pass, in which every example is used at most
    once, and is charged without amplification (one Gaussian mechanism per pass touched).
    """

    noise_multiplier: float
    sampling_rate: float
    steps: int
    sampling: str = "poisson"  #: or "shuffle" (fixed-size batches without replacement)


@attrs.frozen(kw_only=True)
class AccountantConfig:
    pass


class Accountant(Algorithm, abc.ABC):
    """Composes DP-SGD steps; ``epsilon(delta)`` reads the budget spent."""

    Config: ClassVar[type] = AccountantConfig

    def __init__(self, **config: Any):
        super().__init__(**config)
        self.events: list[AccountantEvent] = []

    def step(self, *, noise_multiplier: float, sampling_rate: float, steps: int = 1,
             sampling: str = "poisson") -> "Accountant":
        noise_multiplier = check_positive(noise_multiplier, "noise_multiplier")
        sampling_rate = check_probability(sampling_rate, "sampling_rate", high_closed=True)
        steps = check_int(steps, "steps", low=1)
        if sampling not in ("poisson", "shuffle"):
            raise InvalidInputError(f"sampling must be 'poisson' or 'shuffle', got {sampling!r}")
        event = AccountantEvent(noise_multiplier=noise_multiplier, sampling_rate=sampling_rate, steps=steps,
                                sampling=sampling)
        self._compose(event)
        self.events.append(event)
        return self

    def epsilon(self, delta: float) -> float:
        """ε spent so far at ``delta`` (0 before any step)."""
        delta = check_delta(delta)
        if not self.events:
            return 0.0
        return float(self._epsilon(delta))

    def fresh(self) -> "Accountant":
        """A new, empty accountant of the same kind and configuration."""
        return type(self)(**attrs.asdict(self.config, recurse=False))

    def calibration_stages(self) -> list[tuple["Accountant", float]]:
        """Fresh accountants that :func:`~armour_plugins_privacy.dp.calibration.calibrate_noise` bisects with in
        turn, the last one like this one, each with the relative gap expected between its σ and the previous
        stage's (0.0 for the first). An accountant that is slow at small σ (PLD) starts from a cheaper, looser
        one: the looser σ is the upper end of the next bracket (checked, and widened when it is not)."""
        return [(self.fresh(), 0.0)]

    @property
    def steps(self) -> int:
        """Number of DP-SGD steps composed so far."""
        return sum(e.steps for e in self.events)

    @abc.abstractmethod
    def _compose(self, event: AccountantEvent) -> None:
        """Add ``event`` to the accounting state."""

    @abc.abstractmethod
    def _epsilon(self, delta: float) -> float:
        """ε spent at ``delta``."""
