"""Noise calibration: the smallest noise multiplier that meets a target (ε, δ)."""

from __future__ import annotations

import math
from typing import Any

from ..api.accountant import Accountant, check_delta
from ..errors import InvalidInputError


def resolve_accountant(accountant: Any) -> Accountant:
    """An accountant instance from an instance (a fresh copy is used), a registry name or ``(name, config)``."""
    from .. import registry

    if isinstance(accountant, Accountant):
        return accountant.fresh()
    if isinstance(accountant, str):
        return registry.create("accountant", accountant)
    if isinstance(accountant, tuple) and len(accountant) == 2 and isinstance(accountant[0], str):
        return registry.create("accountant", accountant[0], **dict(accountant[1]))
    raise InvalidInputError(f"accountant: expected a name, (name, config) or an Accountant, got {accountant!r}")


def epsilon_for(noise_multiplier: float, *, delta: float, sampling_rate: float, steps: int,
                accountant: Any = "pld", sampling: str = "poisson") -> float:
    """ε of ``steps`` DP-SGD steps with ``noise_multiplier`` and ``sampling_rate``."""
    acc = resolve_accountant(accountant)
    acc.step(noise_multiplier=noise_multiplier, sampling_rate=sampling_rate, steps=steps, sampling=sampling)
    return acc.epsilon(delta)


def calibrate_noise(target_epsilon: float, delta: float, sampling_rate: float, steps: int, *,
                    accountant: Any = "pld", sampling: str = "poisson", rtol: float = 1e-3,
                    bounds: tuple[float, float] = (1e-2, 1e4)) -> float:
    """The smallest noise multiplier σ (to relative precision ``rtol``) whose ε after ``steps`` steps at
    ``sampling_rate`` is at most ``target_epsilon`` at ``delta``.

    A bracket is found by doubling/halving from σ = 1 (extreme σ are costly for PLD), then bisection on
    log σ. ε is decreasing in σ, so the returned σ always meets the target (the upper end of the final
    bracket), never a σ that overshoots the budget.
    """
    if not isinstance(target_epsilon, (int, float)) or not math.isfinite(target_epsilon) or target_epsilon <= 0:
        raise InvalidInputError(f"target_epsilon must be a finite number > 0, got {target_epsilon!r}")
    delta = check_delta(delta)
    if not 0.0 < sampling_rate <= 1.0:
        raise InvalidInputError(f"sampling_rate must lie in (0, 1], got {sampling_rate!r}")
    if not isinstance(steps, int) or steps < 1:
        raise InvalidInputError(f"steps must be a positive int, got {steps!r}")
    if not 0 < rtol < 1:
        raise InvalidInputError(f"rtol must lie in (0, 1), got {rtol!r}")
    floor, ceiling = (float(b) for b in bounds)

    def fits(sigma: float) -> bool:
        return epsilon_for(sigma, delta=delta, sampling_rate=sampling_rate, steps=steps, accountant=accountant,
                           sampling=sampling) <= target_epsilon

    sigma = 1.0
    if fits(sigma):
        hi = sigma
        lo = sigma / 2
        while fits(lo):
            hi, lo = lo, lo / 2
            if lo < floor:
                return hi
    else:
        lo = sigma
        hi = sigma * 2
        while not fits(hi):
            lo, hi = hi, hi * 2
            if hi > ceiling:
                raise InvalidInputError(
                    f"target_epsilon={target_epsilon} is unreachable even with noise multiplier {ceiling:g} for "
                    f"{steps} steps at sampling rate {sampling_rate}")
    while hi / lo > 1.0 + rtol:
        mid = math.sqrt(lo * hi)
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi
