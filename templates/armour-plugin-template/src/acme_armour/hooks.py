"""Registration hooks: light (records only). The implementation is named by a string and imported on use."""

from armour_core.plugins import hookimpl
from armour_core.specs import MutatorSpec, PluginSpec


@hookimpl
def armour_mutators():
    yield PluginSpec(
        name="acme.invert",  # third parties use a dotted prefix
        kind="mutator",
        target="acme_armour.invert:Invert",
        config="acme_armour.configs:InvertConfig",
        facet=MutatorSpec(category="pixel"),
        summary="Blend each image with its inverse by a per-sample strength",
    )
