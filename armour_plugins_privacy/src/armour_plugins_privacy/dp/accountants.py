"""Privacy accountants on Google's ``dp-accounting``: RDP, PLD, and truncated zCDP.

Each DP-SGD step is the Gaussian mechanism on the clipped gradient sum (sensitivity = clip norm), so a run
is a composition of ``PoissonSampledDpEvent(q, GaussianDpEvent(σ))``. Shuffled fixed-size batches get no
amplification: each pass over the data uses an example at most once, so a pass costs one Gaussian
mechanism; under the replace-one relation that fixed-size batching calls for, swapping an example moves
the clipped sum by up to 2C, i.e. multiplier σ/2 (Chua et al. 2024 show that charging shuffling as if it
were Poisson sampling under-reports ε).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator

import attrs
import dp_accounting
import numpy as np
from dp_accounting import pld as dp_pld
from dp_accounting import rdp as dp_rdp
from dp_accounting.rdp import rdp_privacy_accountant as rdp_math

from armour_core.api.accountant import Accountant, AccountantEvent
from armour_core.api.validators import positive_field

log = logging.getLogger(__name__)


class _ToDebug(logging.Filter):
    """Re-logs dp-accounting's (absl) warnings on armour's logger at debug level and drops the original."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        log.debug("dp-accounting: %s", record.getMessage())
        return False


@contextlib.contextmanager
def quiet_dp_accounting() -> Iterator[None]:
    """Around dp-accounting calls only: its RDP code warns once per fractional order whose series does not
    converge (q = 0.1, σ = 1.1: ~90 lines in a ``train-dp`` run). Those orders are excluded from ε, which
    stays sound, so the warning is routine: it goes to ``logging`` at debug level."""
    absl = logging.getLogger("absl")
    quiet = _ToDebug()
    absl.addFilter(quiet)
    try:
        yield
    finally:
        absl.removeFilter(quiet)


def _passes(event: AccountantEvent) -> int:
    """Passes over the data a shuffled event touches (each costs one Gaussian mechanism)."""
    return max(1, math.ceil(event.steps * event.sampling_rate - 1e-9))


def dp_event(event: AccountantEvent) -> dp_accounting.DpEvent:
    """The ``dp-accounting`` event for ``event`` (all its steps)."""
    if event.sampling == "shuffle":
        return dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(event.noise_multiplier / 2.0),
                                                 _passes(event))
    single: dp_accounting.DpEvent = dp_accounting.GaussianDpEvent(event.noise_multiplier)
    if event.sampling_rate < 1.0:
        single = dp_accounting.PoissonSampledDpEvent(event.sampling_rate, single)
    return dp_accounting.SelfComposedDpEvent(single, event.steps)


def _check_orders(inst, attribute, value):
    if len(value) == 0 or min(value) <= 1.0:
        raise ValueError(f"{attribute.name}: expected orders > 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RdpConfig:
    orders: tuple[float, ...] = attrs.field(default=tuple(rdp_math.DEFAULT_RDP_ORDERS),
                                            converter=lambda v: tuple(float(o) for o in v), validator=_check_orders)


class RdpAccountant(Accountant):
    """Rényi DP (Mironov 2017) with dp-accounting's tight subsampled-Gaussian bounds and conversion."""

    Config = RdpConfig

    def __init__(self, **config):
        super().__init__(**config)
        self._acc = dp_rdp.RdpAccountant(list(self.config.orders))

    def _compose(self, event: AccountantEvent) -> None:
        with quiet_dp_accounting():
            self._acc.compose(dp_event(event))

    def _epsilon(self, delta: float) -> float:
        with quiet_dp_accounting():
            return self._acc.get_epsilon(delta)


#: most grid points dp-accounting may build one event's privacy-loss distribution on: it evaluates the loss
#: point by point in Python (6 µs a point for a Gaussian, ~50 µs subsampled), so this bounds an event's
#: construction to a few seconds
MAX_BUILD_POINTS = 2 ** 16
#: most grid points of the composed distribution (its ε search is a Python loop too; memory stays ~0.1 GiB)
MAX_PLD_POINTS = 2 ** 20
#: dp-accounting truncates Gaussian tails where their log-mass falls below -50: ±√(2·50) standard deviations
_TAIL = math.sqrt(2 * 50.0)


def pld_loss_width(event: AccountantEvent) -> tuple[float, float]:
    """Upper estimates of the privacy-loss ranges dp-accounting discretises for ``event``: the range one
    step's distribution is built on, and the range of the event's composed distribution.

    A Gaussian with multiplier σ has losses spread over about 1/σ² + 2·tail/σ (its construction covers the
    whole range before truncating), and ``T`` self-composed Gaussians are one Gaussian with σ/√T. A Poisson
    subsampled Gaussian's losses span about 1/(2σ²) + tail/σ (σ = 1e-3: 5.1e5, measured); composing ``T``
    of them widens the support by about √T·min(1, 2√q) (measured for T = 1000: 4.6x at q = 0.01, 11x at
    q = 0.1, 36x at q = 0.5).
    """
    if event.sampling == "shuffle":
        sigma, count, subsampled = event.noise_multiplier / 2.0, _passes(event), False
    else:
        sigma, count, subsampled = event.noise_multiplier, event.steps, event.sampling_rate < 1.0
    if not subsampled:
        sigma /= math.sqrt(count)
        width = 1.0 / sigma ** 2 + 2.0 * _TAIL / sigma
        return width, width
    width = 0.5 / sigma ** 2 + _TAIL / sigma
    return width, width * max(1.0, math.sqrt(count) * min(1.0, 2.0 * math.sqrt(event.sampling_rate)))


@attrs.frozen(kw_only=True)
class PldConfig:
    value_discretization_interval: float = positive_field(1e-4)


class PldAccountant(Accountant):
    """Privacy-loss-distribution accounting (Koskela et al.; Google's PLD library): the tightest of the
    three, ``value_discretization_interval`` trades speed for tightness (ε is always an upper bound).

    Time and memory are capped: when an event would be built on more than :data:`MAX_BUILD_POINTS` grid
    points, or the composition would hold more than :data:`MAX_PLD_POINTS` (small σ: the loss range grows as
    1/σ²; σ = 1e-3 asked numpy for tens of GiB), the grid is coarsened to fit (at least 2x at a time) and
    the composition redone. dp-accounting's pessimistic discretisation keeps ε an upper bound on any grid
    (only a little looser: σ = 0.4, q = 0.01, 1000 steps gives ε = 27.7186 on 1e-4 and 27.7247 on 1e-2);
    ``interval`` tells which grid is in use.
    """

    Config = PldConfig

    def __init__(self, **config):
        super().__init__(**config)
        self.interval = self.config.value_discretization_interval  #: the grid in use (≥ the configured one)
        self._build = 0.0  # widest single-step loss range composed so far
        self._spread2 = 0.0  # squared width of the composition (widths add in quadrature)
        self._acc = dp_pld.PLDAccountant(value_discretization_interval=self.interval)

    def _compose(self, event: AccountantEvent) -> None:
        build, composed = pld_loss_width(event)
        build = max(self._build, build)
        spread2 = self._spread2 + composed ** 2
        interval = max(self.config.value_discretization_interval, build / MAX_BUILD_POINTS,
                       math.sqrt(spread2) / MAX_PLD_POINTS)
        acc = self._acc
        with quiet_dp_accounting():
            if interval > self.interval:
                interval = max(interval, 2.0 * self.interval) if self.events else interval
                log.debug("pld: grid coarsened from %g to %g to stay within %d points per event", self.interval,
                          interval, MAX_BUILD_POINTS)
                acc = dp_pld.PLDAccountant(value_discretization_interval=interval)
                for done in self.events:
                    acc.compose(dp_event(done))
            acc.compose(dp_event(event))
        self._acc, self.interval, self._build, self._spread2 = acc, interval, build, spread2

    def _epsilon(self, delta: float) -> float:
        with quiet_dp_accounting():
            return self._acc.get_epsilon(delta)

    def calibration_stages(self) -> list[tuple[Accountant, float]]:
        """RDP first (seconds; its ε is above PLD's, so its σ is an upper end), then PLD on a 10x coarser
        grid (pessimistic rounding: ε a little above the fine grid's), then this accountant."""
        coarse = 10.0 * self.config.value_discretization_interval
        return [(RdpAccountant(), 0.0), (PldAccountant(value_discretization_interval=coarse), 0.25),
                (self.fresh(), 2e-3)]


class ZcdpAccountant(Accountant):
    """Concentrated DP with subsampling, as truncated CDP (Bun, Dwork, Rothblum & Steinke 2018).

    A subsampled Gaussian is not ρ-zCDP with any useful ρ (its Rényi divergence grows faster than linearly
    at large orders), so ignoring sampling or using plain zCDP wastes the amplification (MindArmour's
    zCDP monitor ignores sampling and reports ε ≈ 250 where RDP says ≈ 2). Here every step is
    (ρ_t(ω), ω)-tCDP with ρ_t(ω) = max_{α ≤ ω} RDP_t(α)/α from dp-accounting's subsampled-Gaussian RDP;
    the ρ's add up under composition for each truncation order ω, and ε(δ) is the best over ω of
    dp-accounting's RDP-to-(ε, δ) conversion of the linear curve ρ(ω)·α on orders ≤ ω. Without
    subsampling (q = 1) this is exactly ρ = T/(2σ²)-zCDP.

    Orders where dp-accounting cannot bound RDP (its series for small fractional orders may not converge:
    q = 0.1, σ = 1.1 gives ∞ at α ≤ 1.4) are left out of every ρ and of the conversion, as RDP leaves them
    out of its own; carrying their ∞ into the running maximum made every ε infinite. Sound and never
    tighter than ``rdp``: on every order kept, ρ(ω)·α ≥ Σ_t RDP_t(α), and the conversion is increasing
    in the curve.
    """

    Config = RdpConfig

    def __init__(self, **config):
        super().__init__(**config)
        self._orders = np.asarray(sorted(self.config.orders), dtype=np.float64)
        self._rho = np.zeros_like(self._orders)  # ρ(ω) for each truncation order ω (∞: no usable order ≤ ω)
        self._usable = np.ones(self._orders.shape, dtype=bool)  # every event's RDP is finite at this order

    def _compose(self, event: AccountantEvent) -> None:
        acc = dp_rdp.RdpAccountant(list(self._orders))
        with quiet_dp_accounting():
            acc.compose(dp_event(event))
        rdp = np.asarray(acc._rdp, dtype=np.float64)  # the composed event's RDP curve on our orders
        finite = np.isfinite(rdp)
        ratio = np.where(finite, rdp / self._orders, np.nan)
        rho = np.fmax.accumulate(ratio)  # running max over the finite orders only (NaN until the first)
        self._rho += np.where(np.isnan(rho), np.inf, rho)
        self._usable &= finite

    def _epsilon(self, delta: float) -> float:
        best = math.inf
        for i, omega_rho in enumerate(self._rho):
            keep = self._usable[: i + 1]
            if not math.isfinite(omega_rho) or not keep.any():
                continue
            orders = self._orders[: i + 1][keep]
            with quiet_dp_accounting():
                eps, _ = rdp_math.compute_epsilon(orders, omega_rho * orders, delta)
            best = min(best, eps)
        return float(best)
