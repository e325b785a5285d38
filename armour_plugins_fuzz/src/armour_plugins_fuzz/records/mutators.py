"""Records of the mutators."""

from __future__ import annotations

from armour_core.specs import MutatorSpec, PluginSpec

_PKG = "armour_plugins_fuzz"


def mutators():
    yield PluginSpec(
        name="gaussian_blur", kind="mutator", target=f"{_PKG}.pixel:GaussianBlur",
        config=f"{_PKG}.configs:GaussianBlurConfig", aliases=("blur",), facet=MutatorSpec(category="pixel"),
        summary="Gaussian blur with a per-sample standard deviation drawn from a range")
