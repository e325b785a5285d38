"""The hooks a plugin distribution implements.

Registration hooks take no arguments and return (or yield) :class:`~armour_core.specs.PluginSpec`
records of one kind. They are called once, when the registry is first used, from a plugin's light
``hooks.py`` module, so they must not import the implementation (or MindSpore). A plugin implements only
the hooks for the kinds it provides.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from .specs import AuditSectionSpec, CommandSpec, PluginSpec

PROJECT = "armour"
hookspec = pluggy.HookspecMarker(PROJECT)


class ArmourSpecs:
    """Hook specifications; every hook is prefixed ``armour_``."""

    @hookspec
    def armour_attacks(self) -> Iterable[PluginSpec]:
        """Yield ``kind="attack"`` records (white-box and black-box evasion attacks).

        Called once when the registry is built. Example::

            @hookimpl
            def armour_attacks():
                yield PluginSpec(name="fgsm", kind="attack", target="my_pkg.fgsm:FGSM",
                                 config="my_pkg.configs:FGSMConfig", facet=AttackSpec(norms=("linf",)),
                                 capabilities={"gradients"}, summary="Fast gradient sign method")
        """

    @hookspec
    def armour_defenses(self) -> Iterable[PluginSpec]:
        """Yield ``kind="defense"`` records (adversarial-training methods that train a network in place).

        Called once when the registry is built. Example::

            yield PluginSpec(name="pad", kind="defense", target="my_pkg.pad:ProjectedAdversarialDefense")
        """

    @hookspec
    def armour_detectors(self) -> Iterable[PluginSpec]:
        """Yield ``kind="detector"`` records (adversarial-example detectors with fit/detect/score).

        Called once when the registry is built. Example::

            yield PluginSpec(name="feature_squeezing", kind="detector", target="my_pkg.fs:FeatureSqueezing",
                             facet=DetectorSpec(needs_training=True))
        """

    @hookspec
    def armour_mutators(self) -> Iterable[PluginSpec]:
        """Yield ``kind="mutator"`` records; ``facet=MutatorSpec(category=...)`` tells the fuzzer how to
        chain them (``pixel``, ``affine`` or ``adversarial``).

        Called once when the registry is built. Example::

            yield PluginSpec(name="gaussian_blur", kind="mutator", target="my_pkg.blur:GaussianBlur",
                             facet=MutatorSpec(category="pixel"))
        """

    @hookspec
    def armour_coverage_metrics(self) -> Iterable[PluginSpec]:
        """Yield ``kind="coverage"`` records (neuron-coverage criteria used to guide fuzzing).

        Called once when the registry is built. Example::

            yield PluginSpec(name="neuron", kind="coverage", target="my_pkg.nc:NeuronCoverage",
                             capabilities={"activations"}, facet=CoverageSpec(needs_profile=False))
        """

    @hookspec
    def armour_seed_schedulers(self) -> Iterable[PluginSpec]:
        """Yield ``kind="scheduler"`` records (how the fuzzer picks the next seed from its corpus).

        Called once when the registry is built. Example::

            yield PluginSpec(name="uniform", kind="scheduler", target="my_pkg.sched:Uniform")
        """

    @hookspec
    def armour_noise_mechanisms(self) -> Iterable[PluginSpec]:
        """Yield ``kind="noise"`` records (noise mechanisms for differentially private training).

        Called once when the registry is built. Example::

            yield PluginSpec(name="gaussian", kind="noise", target="my_pkg.noise:Gaussian",
                             facet=NoiseSpec(adaptive=False))
        """

    @hookspec
    def armour_clip_mechanisms(self) -> Iterable[PluginSpec]:
        """Yield ``kind="clip"`` records (per-example clipping-norm policies: fixed, adaptive).

        Called once when the registry is built. Example::

            yield PluginSpec(name="fixed", kind="clip", target="my_pkg.clip:FixedClip")
        """

    @hookspec
    def armour_accountants(self) -> Iterable[PluginSpec]:
        """Yield ``kind="accountant"`` records (privacy accountants: rdp, zcdp, pld).

        Called once when the registry is built. Example::

            yield PluginSpec(name="pld", kind="accountant", target="my_pkg.acc:PLDAccountant",
                             requires=("dp-accounting>=0.6",))
        """

    @hookspec
    def armour_suppressors(self) -> Iterable[PluginSpec]:
        """Yield ``kind="suppressor"`` records (suppress-privacy masking schedules).

        Called once when the registry is built. Example::

            yield PluginSpec(name="magnitude", kind="suppressor", target="my_pkg.sup:MagnitudeSuppressor")
        """

    @hookspec
    def armour_inference_attacks(self) -> Iterable[PluginSpec]:
        """Yield ``kind="inference"`` records (membership-inference attacks).

        Called once when the registry is built. Example::

            yield PluginSpec(name="loss_threshold", kind="inference", target="my_pkg.mia:LossThreshold")
        """

    @hookspec
    def armour_datasets(self) -> Iterable[PluginSpec]:
        """Yield ``kind="dataset"`` records; the target is a loader returning
        :class:`armour_core.data.Dataset`, and ``facet=DatasetSpec(...)`` states shape and classes.

        Called once when the registry is built. Example::

            yield PluginSpec(name="digits", kind="dataset", target="my_pkg.data:load_digits",
                             facet=DatasetSpec(input_shape=(1, 8, 8), num_classes=10))
        """

    @hookspec
    def armour_models(self) -> Iterable[PluginSpec]:
        """Yield ``kind="model"`` records; the target builds an ``nn.Cell`` from keyword arguments
        (``num_classes``, ``input_shape``).

        Called once when the registry is built. Example::

            yield PluginSpec(name="lenet5", kind="model", target="my_pkg.nets:LeNet5")
        """

    @hookspec
    def armour_cli_commands(self) -> Iterable[CommandSpec]:
        """Yield :class:`~armour_core.specs.CommandSpec` records that add subcommands to ``armour``.

        Called when the CLI builds its parser (not when plugins are listed). Example::

            yield CommandSpec(name="fuzz", target="my_pkg.cli:register", summary="Coverage-guided fuzzing")
        """

    @hookspec
    def armour_audit_sections(self) -> Iterable[AuditSectionSpec]:
        """Yield :class:`~armour_core.specs.AuditSectionSpec` records: sections of ``armour audit``.

        Called when the registry is built; the section function is imported only when an audit runs.
        Example::

            yield AuditSectionSpec(name="robustness", title="Robustness",
                                   target="my_pkg.audit:robustness_section", order=10)
        """
