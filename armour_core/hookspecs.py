"""The hooks a plugin distribution implements.

Registration hooks take no arguments and return (or yield) :class:`~armour_core.specs.PluginSpec`
records of one kind. They are called once, when the registry is first used, from a plugin's light
``hooks.py`` module, so they must not import the implementation (or MindSpore). A plugin implements only
the hooks for the kinds it provides.

The thirteen registration hooks share one shape, so they are made from a table: their names come from
:data:`armour_core.specs.KIND_HOOKS` (the one place a kind is tied to its hook), their docstrings from
:data:`REGISTRATION` below. Each is still an ordinary method of :class:`ArmourSpecs` carrying pluggy's hookspec
mark, so pluggy validates implementations exactly as before and ``help(ArmourSpecs)`` shows every hook.

A distribution may add a kind of its own: its ``armour_kinds`` hook yields a :class:`~armour_core.specs.KindSpec`
naming the kind and its registration hook, and the registry adds that hook's spec (:func:`kind_hookspecs`, the
same shape as the built-in ones) before it collects any record, so pluggy validates it like the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pluggy

from .specs import KIND_HOOKS, AuditSectionSpec, CommandSpec, KindSpec, PluginSpec

PROJECT = "armour"
hookspec = pluggy.HookspecMarker(PROJECT)

#: kind -> (what its records are, an example implementation): the docstring of its registration hook
REGISTRATION: dict[str, tuple[str, str]] = {
    "attack": (
        "white-box and black-box evasion attacks",
        '''@hookimpl
def armour_attacks():
    yield PluginSpec(name="fgsm", kind="attack", target="my_pkg.fgsm:FGSM",
                     config="my_pkg.configs:FGSMConfig", facet=AttackSpec(norms=("linf",)),
                     capabilities={"gradients"}, summary="Fast gradient sign method")'''),
    "defense": (
        "adversarial-training methods that train a network in place",
        'yield PluginSpec(name="pad", kind="defense", target="my_pkg.pad:ProjectedAdversarialDefense")'),
    "detector": (
        "adversarial-example detectors with fit/detect/score",
        '''yield PluginSpec(name="feature_squeezing", kind="detector", target="my_pkg.fs:FeatureSqueezing",
                 facet=DetectorSpec(needs_training=True))'''),
    "mutator": (
        "input mutations for fuzzing; ``facet=MutatorSpec(category=...)`` tells the fuzzer how to chain them "
        "(``pixel``, ``affine`` or ``adversarial``)",
        '''yield PluginSpec(name="gaussian_blur", kind="mutator", target="my_pkg.blur:GaussianBlur",
                 facet=MutatorSpec(category="pixel"))'''),
    "coverage": (
        "neuron-coverage criteria used to guide fuzzing",
        '''yield PluginSpec(name="neuron", kind="coverage", target="my_pkg.nc:NeuronCoverage",
                 capabilities={"activations"}, facet=CoverageSpec(needs_profile=False))'''),
    "scheduler": (
        "how the fuzzer picks the next seed from its corpus",
        'yield PluginSpec(name="uniform", kind="scheduler", target="my_pkg.sched:Uniform")'),
    "noise": (
        "noise mechanisms for differentially private training",
        '''yield PluginSpec(name="gaussian", kind="noise", target="my_pkg.noise:Gaussian",
                 facet=NoiseSpec(adaptive=False))'''),
    "clip": (
        "per-example clipping-norm policies: fixed, adaptive",
        'yield PluginSpec(name="fixed", kind="clip", target="my_pkg.clip:FixedClip")'),
    "accountant": (
        "privacy accountants: rdp, zcdp, pld",
        '''yield PluginSpec(name="pld", kind="accountant", target="my_pkg.acc:PLDAccountant",
                 requires=(requirement("my-dist", "dp-accounting"),))  # the version your pyproject states'''),
    "suppressor": (
        "suppress-privacy masking schedules",
        'yield PluginSpec(name="magnitude", kind="suppressor", target="my_pkg.sup:MagnitudeSuppressor")'),
    "inference": (
        "membership-inference attacks",
        'yield PluginSpec(name="loss_threshold", kind="inference", target="my_pkg.mia:LossThreshold")'),
    "dataset": (
        "dataset loaders; the target returns :class:`armour_core.data.Dataset`, and ``facet=DatasetSpec(...)`` "
        "states shape and classes",
        '''yield PluginSpec(name="digits", kind="dataset", target="my_pkg.data:load_digits",
                 facet=DatasetSpec(input_shape=(1, 8, 8), num_classes=10))'''),
    "model": (
        "network architectures; the target builds an ``nn.Cell`` from keyword arguments (``num_classes``, "
        "``input_shape``)",
        'yield PluginSpec(name="lenet5", kind="model", target="my_pkg.nets:LeNet5")'),
}


def _registration_hook(kind: str, hook_name: str, what: str, example: str,
                       owner: str = "ArmourSpecs") -> Callable[..., Iterable[PluginSpec]]:
    """The hookspec method ``hook_name``: takes no argument, yields ``kind`` records."""

    def hook(self) -> Iterable[PluginSpec]:
        pass

    hook.__name__ = hook_name
    hook.__qualname__ = f"{owner}.{hook_name}"
    example = "\n".join("    " + line for line in (example or f"yield PluginSpec(kind={kind!r}, ...)").splitlines())
    hook.__doc__ = (f"Yield ``kind=\"{kind}\"`` records ({what}).\n\n"
                    f"Called once when the registry is built. Example::\n\n{example}\n")
    return hookspec(hook)


def kind_hookspecs(kind: KindSpec) -> type:
    """A hookspec class holding the registration hook of a declared kind (for ``PluginManager.add_hookspecs``)."""
    owner = f"KindSpecs_{kind.name}"
    where = f"; declared by {kind.dist}" if kind.dist else ""
    return type(owner, (), {"__doc__": f"The registration hook of kind {kind.name!r}{where}.",
                            kind.hook: _registration_hook(kind.name, kind.hook, kind.summary, kind.example, owner)})


class ArmourSpecs:
    """Hook specifications; every hook is prefixed ``armour_``. The registration hooks (one per kind) are added
    below the class from :data:`REGISTRATION`."""

    @hookspec
    def armour_cli_commands(self) -> Iterable[CommandSpec]:
        """Yield :class:`~armour_core.specs.CommandSpec` records that add subcommands to ``armour``.

        Called when the CLI builds its parser (not when plugins are listed). Example::

            yield CommandSpec(name="fuzz", target="my_pkg.cli:register", summary="Coverage-guided fuzzing")
        """

    @hookspec
    def armour_kinds(self) -> Iterable[KindSpec]:
        """Yield :class:`~armour_core.specs.KindSpec` records: plugin kinds this distribution adds.

        Called first when the registry is built, before any registration hook, so every distribution may
        register plugins of a kind another declares. A kind or hook name already taken (a built-in one, or
        one another distribution declares) is an error naming both. Example::

            yield KindSpec(name="certifier", hook="armour_certifiers", summary="certified-robustness methods",
                           base="my_pkg.certify:Certifier", checks="my_pkg.kit:CHECKS")
        """

    @hookspec
    def armour_audit_sections(self) -> Iterable[AuditSectionSpec]:
        """Yield :class:`~armour_core.specs.AuditSectionSpec` records: sections of ``armour audit``.

        Called when the registry is built; the section function is imported only when an audit runs.
        Example::

            yield AuditSectionSpec(name="robustness", title="Robustness",
                                   target="my_pkg.audit:robustness_section", order=10)
        """


if set(REGISTRATION) != set(KIND_HOOKS):
    raise ImportError(f"hookspecs: REGISTRATION and KIND_HOOKS disagree: {sorted(set(REGISTRATION) ^ set(KIND_HOOKS))}")
for _kind in KIND_HOOKS:
    setattr(ArmourSpecs, KIND_HOOKS[_kind], _registration_hook(_kind, KIND_HOOKS[_kind], *REGISTRATION[_kind]))
del _kind
