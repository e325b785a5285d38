"""Records of the differential-privacy mechanisms: noise, clipping, accountants, ``armour train-dp`` and
``armour dp-audit``."""

from __future__ import annotations

from armour_core.specs import CommandSpec, NoiseSpec, PluginSpec, requirement

_PKG = "armour_plugins_privacy.dp"
_DP_ACCOUNTING = (requirement("armour-plugins-privacy", "dp-accounting"),)  # the pyproject states the version


def noise_mechanisms():
    yield PluginSpec(
        name="gaussian", kind="noise", target=f"{_PKG}.noise:Gaussian", config="armour_core.api.noise:NoiseConfig",
        facet=NoiseSpec(adaptive=False),
        summary="Gaussian mechanism: N(0, (noise_multiplier * clip_norm)^2) per coordinate; secure=True for CSPRNG")
    yield PluginSpec(
        name="ada_gaussian", kind="noise", target=f"{_PKG}.noise:AdaGaussian", config=f"{_PKG}.noise:AdaGaussianConfig",
        facet=NoiseSpec(adaptive=True), aliases=("adaptive_gaussian",),
        summary="Gaussian noise whose multiplier decays by step or time (MindArmour's adaptive mechanism)")


def clip_mechanisms():
    yield PluginSpec(name="fixed", kind="clip", target=f"{_PKG}.clip:FixedClip",
                     config="armour_core.api.clip:ClipConfig",
                     summary="Fixed per-example clip norm")
    yield PluginSpec(name="adaptive", kind="clip", target=f"{_PKG}.clip:AdaptiveClip",
                     config=f"{_PKG}.clip:AdaptiveClipConfig",
                     summary="Quantile-tracking clip norm (Andrew et al. 2021), geometric or linear update, "
                             "count statistic accounted")


def accountants():
    yield PluginSpec(name="rdp", kind="accountant", target=f"{_PKG}.accountants:RdpAccountant",
                     config=f"{_PKG}.accountants:RdpConfig", requires=_DP_ACCOUNTING,
                     summary="Renyi DP accountant (dp-accounting)")
    yield PluginSpec(name="pld", kind="accountant", target=f"{_PKG}.accountants:PldAccountant",
                     config=f"{_PKG}.accountants:PldConfig", requires=_DP_ACCOUNTING,
                     summary="Privacy-loss-distribution accountant (dp-accounting), the tightest")
    yield PluginSpec(name="zcdp", kind="accountant", target=f"{_PKG}.accountants:ZcdpAccountant",
                     config=f"{_PKG}.accountants:RdpConfig", requires=_DP_ACCOUNTING,
                     summary="Concentrated DP with subsampling (truncated CDP over dp-accounting's RDP)")


def commands():
    """CLI subcommands (CommandSpec records)."""
    yield CommandSpec(name="train-dp", target=f"{_PKG}.cli:register",
                      summary="Train the default CNN with DP-SGD; print and plot epsilon over steps")
    yield CommandSpec(name="dp-audit", target=f"{_PKG}.cli:register_audit",
                      summary="empirical DP audit: canaries, membership scores, lower bound on epsilon")
    yield CommandSpec(name="ledger", target=f"{_PKG}.ledger:register_cli",
                      summary="verify a privacy ledger (chain, MAC, checkpoint head) or repair its damaged last line")
