"""Registration hooks (light: records only; implementations are imported on use)."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import NoiseSpec, PluginSpec

_PKG = "armour_plugins_privacy"


@hookimpl
def armour_noise_mechanisms():
    yield PluginSpec(
        name="gaussian", kind="noise", target=f"{_PKG}.noise:Gaussian", config="armour_core.api.noise:NoiseConfig",
        facet=NoiseSpec(adaptive=False),
        summary="Gaussian mechanism: N(0, (noise_multiplier * clip_norm)^2) per coordinate")
