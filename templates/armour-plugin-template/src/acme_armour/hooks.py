"""Registration hooks: light (records only). Implementations are named by strings and imported on use."""

from armour_core.plugins import hookimpl
from armour_core.specs import AttackSpec, MutatorSpec, PluginSpec


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


@hookimpl
def armour_attacks():
    yield PluginSpec(
        name="acme.signed_gradient",
        kind="attack",
        target="acme_armour.signed_gradient:RandomStartSignedGradient",
        config="acme_armour.configs:SignedGradientConfig",
        capabilities={"gradients"},  # what it needs from a model: declared, never guessed
        facet=AttackSpec(norms=("linf",), threat_model="white_box", targeted=True),
        summary="Random-start signed-gradient ascent on the cross-entropy inside an L-inf ball",
    )
