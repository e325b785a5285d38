"""Records of the differential-privacy mechanisms: noise, clipping, accountants."""

from __future__ import annotations

from armour_core.specs import NoiseSpec, PluginSpec

_PKG = "armour_plugins_privacy"


def noise_mechanisms():
    yield PluginSpec(
        name="gaussian", kind="noise", target=f"{_PKG}.noise:Gaussian", config="armour_core.api.noise:NoiseConfig",
        facet=NoiseSpec(adaptive=False),
        summary="Gaussian mechanism: N(0, (noise_multiplier * clip_norm)^2) per coordinate")


def clip_mechanisms():
    return ()


def accountants():
    return ()


def commands():
    """CLI subcommands (CommandSpec records)."""
    return ()
