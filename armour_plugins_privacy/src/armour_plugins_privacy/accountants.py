"""Privacy accountants on Google's ``dp-accounting``: RDP, PLD, and truncated zCDP.

Each DP-SGD step is the Gaussian mechanism on the clipped gradient sum (sensitivity = clip norm), so a run
is a composition of ``PoissonSampledDpEvent(q, GaussianDpEvent(σ))``. Shuffled fixed-size batches get no
amplification: each pass over the data uses an example at most once, so a pass costs one Gaussian
mechanism; under the replace-one relation that fixed-size batching calls for, swapping an example moves
the clipped sum by up to 2C, i.e. multiplier σ/2 (Chua et al. 2024 show that charging shuffling as if it
were Poisson sampling under-reports ε).
"""

from __future__ import annotations

import math

import attrs
import dp_accounting
import numpy as np
from dp_accounting import pld as dp_pld
from dp_accounting import rdp as dp_rdp
from dp_accounting.rdp import rdp_privacy_accountant as rdp_math

from armour_core.api.accountant import Accountant, AccountantEvent


def dp_event(event: AccountantEvent) -> dp_accounting.DpEvent:
    """The ``dp-accounting`` event for ``event`` (all its steps)."""
    if event.sampling == "shuffle":
        passes = max(1, math.ceil(event.steps * event.sampling_rate - 1e-9))
        return dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(event.noise_multiplier / 2.0), passes)
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
        self._acc.compose(dp_event(event))

    def _epsilon(self, delta: float) -> float:
        return self._acc.get_epsilon(delta)


@attrs.frozen(kw_only=True)
class PldConfig:
    value_discretization_interval: float = attrs.field(default=1e-4, validator=attrs.validators.gt(0.0))


class PldAccountant(Accountant):
    """Privacy-loss-distribution accounting (Koskela et al.; Google's PLD library): the tightest of the
    three, ``value_discretization_interval`` trades speed for tightness (ε is always an upper bound)."""

    Config = PldConfig

    def __init__(self, **config):
        super().__init__(**config)
        self._acc = dp_pld.PLDAccountant(value_discretization_interval=self.config.value_discretization_interval)

    def _compose(self, event: AccountantEvent) -> None:
        self._acc.compose(dp_event(event))

    def _epsilon(self, delta: float) -> float:
        return self._acc.get_epsilon(delta)


class ZcdpAccountant(Accountant):
    """Concentrated DP with subsampling, as truncated CDP (Bun, Dwork, Rothblum & Steinke 2018).

    A subsampled Gaussian is not ρ-zCDP with any useful ρ (its Rényi divergence grows faster than linearly
    at large orders), so ignoring sampling or using plain zCDP wastes the amplification (MindArmour's
    zCDP monitor ignores sampling and reports ε ≈ 250 where RDP says ≈ 2). Here every step is
    (ρ_t(ω), ω)-tCDP with ρ_t(ω) = max_{α ≤ ω} RDP_t(α)/α from dp-accounting's subsampled-Gaussian RDP;
    the ρ's add up under composition for each truncation order ω, and ε(δ) is the best over ω of
    dp-accounting's RDP-to-(ε, δ) conversion of the linear curve ρ(ω)·α on orders ≤ ω. Without
    subsampling (q = 1) this is exactly ρ = T/(2σ²)-zCDP. It is never tighter than ``rdp``.
    """

    Config = RdpConfig

    def __init__(self, **config):
        super().__init__(**config)
        self._orders = np.asarray(sorted(self.config.orders), dtype=np.float64)
        self._rho = np.zeros_like(self._orders)  # ρ(ω) for each truncation order ω

    def _compose(self, event: AccountantEvent) -> None:
        ev = dp_event(event)
        acc = dp_rdp.RdpAccountant(list(self._orders))
        acc.compose(ev)
        rdp = np.asarray(acc._rdp, dtype=np.float64)  # the composed event's RDP curve on our orders
        self._rho += np.maximum.accumulate(rdp / self._orders)

    def _epsilon(self, delta: float) -> float:
        best = math.inf
        for i, omega_rho in enumerate(self._rho):
            orders = self._orders[: i + 1]
            eps, _ = rdp_math.compute_epsilon(orders, omega_rho * orders, delta)
            best = min(best, eps)
        return float(best)
