"""Noise calibration: the smallest noise multiplier that meets a target (ε, δ)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

from armour_core.api.accountant import Accountant, AccountantEvent, check_delta
from armour_core.api.validators import check_int, check_positive, check_probability
from armour_core.errors import BudgetExceededError, InvalidInputError


def resolve_accountant(accountant: Any) -> Accountant:
    """An accountant instance from an instance (a fresh copy is used), a registry name or ``(name, config)``."""
    from armour_core import registry

    if isinstance(accountant, Accountant):
        return accountant.fresh()
    if isinstance(accountant, str):
        return registry.create("accountant", accountant)
    if isinstance(accountant, tuple) and len(accountant) == 2 and isinstance(accountant[0], str):
        return registry.create("accountant", accountant[0], **dict(accountant[1]))
    raise InvalidInputError(f"accountant: expected a name, (name, config) or an Accountant, got {accountant!r}")


def epsilon_for(noise_multiplier: float, *, delta: float, sampling_rate: float, steps: int,
                accountant: Any = "pld", sampling: str = "poisson", spent: Iterable[AccountantEvent] = ()) -> float:
    """ε of ``steps`` DP-SGD steps with ``noise_multiplier`` and ``sampling_rate``, composed after the events
    already ``spent`` (e.g. a resumed ledger's ``events()``)."""
    acc = _composed(accountant, spent)
    acc.step(noise_multiplier=noise_multiplier, sampling_rate=sampling_rate, steps=steps, sampling=sampling)
    return acc.epsilon(delta)


def _composed(accountant: Any, spent: Iterable[AccountantEvent]) -> Accountant:
    """A fresh accountant that has already composed the events in ``spent``."""
    acc = resolve_accountant(accountant)
    for e in spent:
        acc.step(noise_multiplier=e.noise_multiplier, sampling_rate=e.sampling_rate, steps=e.steps,
                 sampling=e.sampling)
    return acc


def _interpolate(lo: float, hi: float, eps_lo: float, eps_hi: float, target: float, rtol: float) -> float:
    """The next σ to try inside (lo, hi): ε(σ) is close to a power law, so log ε is interpolated linearly in
    log σ, and the guess is nudged by rtol/2.2 towards the farther end so that two good guesses close the
    bracket to ``rtol``. Falls back to the geometric midpoint when ε is not finite and positive at both ends."""
    middle = math.sqrt(lo * hi)
    if not (math.isfinite(eps_lo) and eps_lo > eps_hi > 0 and eps_lo > target):
        return middle
    t = math.log(eps_lo / target) / math.log(eps_lo / eps_hi)
    root = lo * (hi / lo) ** min(max(t, 0.0), 1.0)
    nudge = 1.0 + rtol / 2.2
    guess = root * nudge if hi / root > root / lo else root / nudge
    return guess if lo < guess < hi else middle


def calibrate_noise(target_epsilon: float, delta: float, sampling_rate: float, steps: int, *,
                    accountant: Any = "pld", sampling: str = "poisson", rtol: float = 1e-3,
                    bounds: tuple[float, float] = (1e-2, 1e4), spent: Iterable[AccountantEvent] = ()) -> float:
    """The smallest noise multiplier σ (to relative precision ``rtol``) whose ε after ``steps`` steps at
    ``sampling_rate`` is at most ``target_epsilon`` at ``delta``.

    ``spent``: accountant events already charged (a resumed run's ``ledger.events()``): σ is then calibrated
    against the *remaining* budget — the composition of those events and the new steps meets the target —
    and :class:`~armour_core.errors.BudgetExceededError` is raised when they alone already reach it.

    A bracket is found by doubling/halving from σ = 1, then bisection on log σ. Accountants that are slow
    at small σ (PLD) name cheaper, looser stages to run first (:meth:`Accountant.calibration_stages`): RDP
    in seconds gives the upper end of PLD's bracket, so PLD is evaluated only near the answer. ε is
    decreasing in σ, so the returned σ always meets the target with the requested accountant (the upper
    end of the final bracket), never a σ that overshoots the budget.
    """
    target_epsilon = check_positive(target_epsilon, "target_epsilon")
    delta = check_delta(delta)
    sampling_rate = check_probability(sampling_rate, "sampling_rate", high_closed=True)
    steps = check_int(steps, "steps", low=1)
    if not 0 < rtol < 1:
        raise InvalidInputError(f"rtol must lie in (0, 1), got {rtol!r}")
    floor, ceiling = (float(b) for b in bounds)
    spent = list(spent)
    if spent:
        already = _composed(accountant, spent).epsilon(delta)
        if already >= target_epsilon:
            raise BudgetExceededError(f"target_epsilon={target_epsilon}: the steps already taken spent epsilon "
                                      f"{already:.4f} at delta {delta:g}; no budget remains for {steps} more steps")

    prior: dict[int, Accountant] = {}

    def _after_spent(stage: Accountant) -> Accountant:
        """A copy of ``stage`` that has composed ``spent`` (composed once per stage: a resumed ledger may hold
        thousands of events, e.g. one per step of a decaying noise schedule)."""
        if id(stage) not in prior:
            prior[id(stage)] = _composed(stage, spent)
        return copy.deepcopy(prior[id(stage)])

    def search(stage: Accountant, hint: float | None, gap: float) -> float:
        """Bracket σ from ``hint`` (or σ = 1) with ``stage``, then bisect; the upper end always fits."""

        seen: dict[float, float] = {}

        def fits(sigma: float) -> bool:
            acc = _after_spent(stage)
            acc.step(noise_multiplier=sigma, sampling_rate=sampling_rate, steps=steps, sampling=sampling)
            seen[sigma] = acc.epsilon(delta)
            return seen[sigma] <= target_epsilon

        sigma, factor = (1.0, 2.0) if hint is None else (hint, 1.0 + gap)
        if fits(sigma):
            hi, lo = sigma, sigma / factor
            while fits(lo):
                factor = min(factor * factor, 4.0)  # the hint was off: widen the step
                hi, lo = lo, lo / factor
                if lo < floor:
                    return hi
        else:
            lo, hi = sigma, sigma * factor
            while not fits(hi):
                factor = min(factor * factor, 4.0)
                lo, hi = hi, hi * factor
                if hi > ceiling:
                    raise InvalidInputError(
                        f"target_epsilon={target_epsilon} is unreachable even with noise multiplier {ceiling:g} "
                        f"for {steps} steps at sampling rate {sampling_rate}")
        bisect = False
        while hi / lo > 1.0 + rtol:
            width = math.log(hi / lo)
            mid = math.sqrt(lo * hi) if bisect else _interpolate(lo, hi, seen[lo], seen[hi], target_epsilon, rtol)
            if fits(mid):
                hi = mid
            else:
                lo = mid
            bisect = not bisect and math.log(hi / lo) > 0.5 * width  # a poor guess: bisect once
        return hi

    sigma = None
    for stage, gap in resolve_accountant(accountant).calibration_stages():
        sigma = search(stage, sigma, gap)
    return sigma
