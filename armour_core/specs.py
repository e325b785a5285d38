"""Frozen records that plugins yield from their registration hooks.

A record is pure metadata: building one imports nothing heavy. The implementation is named by a
``"module:qualname"`` string and imported only by :func:`armour_core.registry.get`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

#: The built-in kinds, with the hook that registers each. A distribution adds further kinds through the
#: ``armour_kinds`` hook (:class:`KindSpec`); ``armour_core.registry.kinds()`` lists both.
KIND_HOOKS: dict[str, str] = {
    "attack": "armour_attacks",
    "defense": "armour_defenses",
    "detector": "armour_detectors",
    "mutator": "armour_mutators",
    "coverage": "armour_coverage_metrics",
    "scheduler": "armour_seed_schedulers",
    "noise": "armour_noise_mechanisms",
    "clip": "armour_clip_mechanisms",
    "accountant": "armour_accountants",
    "suppressor": "armour_suppressors",
    "inference": "armour_inference_attacks",
    "dataset": "armour_datasets",
    "model": "armour_models",
}
KINDS: tuple[str, ...] = tuple(KIND_HOOKS)

#: the abstract base each built-in kind's implementations subclass (datasets and models are factories)
KIND_BASES: dict[str, str | None] = {
    "attack": "armour_core.api.attack:Attack", "defense": "armour_core.api.defense:Defense",
    "detector": "armour_core.api.detector:Detector", "mutator": "armour_core.api.mutator:Mutator",
    "coverage": "armour_core.api.coverage:Coverage", "scheduler": "armour_core.api.scheduler:SeedScheduler",
    "noise": "armour_core.api.noise:NoiseMechanism", "clip": "armour_core.api.clip:ClipMechanism",
    "accountant": "armour_core.api.accountant:Accountant", "suppressor": "armour_core.api.suppressor:Suppressor",
    "inference": "armour_core.api.inference:MembershipInference", "dataset": None, "model": None,
}


def requirement(distribution: str, project: str) -> str:
    """The PEP 508 string with which ``distribution`` declares its dependency on ``project`` (from the installed
    metadata, so a record's ``requires=`` never restates a version the pyproject already states). An
    unconditional requirement wins; otherwise one behind an extra (``armour-core[mindspore]``), marker dropped.

    Light: ``importlib.metadata`` only. Raises ``LookupError`` naming both when either is not found.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        declared = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        raise LookupError(f"distribution {distribution!r} is not installed, so its requirement on {project!r} "
                          "cannot be read") from None
    wanted = canonicalize_name(project)
    found = [req for req in map(Requirement, declared) if canonicalize_name(req.name) == wanted]
    for req in sorted(found, key=lambda r: r.marker is not None):
        if req.marker is None or "extra" in str(req.marker):
            return f"{req.name}{req.specifier}"
    raise LookupError(f"distribution {distribution!r} declares no requirement on {project!r} "
                      f"(it declares: {', '.join(declared) or 'nothing'})")


_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

#: what an algorithm may need from a model; ``graphs``: it builds its own MindSpore graphs on the model
#: (``MSModel.compiled``), so only a MindSpore model will do
CAPABILITIES = frozenset({"forward", "gradients", "probabilities", "activations", "train", "parameters", "graphs"})


def _check_name(inst, attribute, value):
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{attribute.name}={value!r}: plugin names are lower-case [a-z0-9_]+ "
            "(third parties may use a dotted prefix, e.g. 'acme.my_attack')")


def _check_target(inst, attribute, value):
    if isinstance(value, str):
        if not _TARGET.match(value):
            raise ValueError(f"{attribute.name}={value!r}: expected 'package.module:QualName'")
    elif value is not None and not callable(value):
        raise ValueError(f"{attribute.name} must be a 'module:qualname' string or a callable, got {value!r}")


def _frozen_profiles(value: Any) -> Mapping[str, Mapping[str, Any]]:
    """``profiles`` as read-only mappings, each key an audit profile (a typo would silently fall back to the
    section's defaults)."""
    from .audit.profiles import PROFILES

    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ValueError(f"profiles: expected {{profile: {{setting: value}}}}, got {value!r}")
    unknown = sorted(set(value) - set(PROFILES))
    if unknown:
        raise ValueError(f"profiles: unknown profile(s) {unknown}; expected some of {', '.join(PROFILES)}")
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in value.items()})


_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_HOOK = re.compile(r"^armour_[a-z0-9_]+$")


def _check_kind(inst, attribute, value):
    """A built-in kind, or the name of one a distribution declares (``armour_kinds``). Whether a declared kind
    exists is the registry's question, asked when the record is collected from its kind's hook: a record may be
    built before the registry has read the declaration."""
    if not isinstance(value, str) or not _KIND.match(value):
        raise ValueError(f"kind={value!r}: expected one of {', '.join(KINDS)} or a kind declared by a distribution "
                         "(lower-case [a-z0-9_]+)")


def _check_caps(inst, attribute, value):
    unknown = set(value) - CAPABILITIES
    if unknown:
        raise ValueError(f"capabilities: unknown {sorted(unknown)}; known {sorted(CAPABILITIES)}")


# ---------------------------------------------------------------- per-kind facets
@attrs.frozen(kw_only=True)
class AttackSpec:
    """What an attack is: norms it supports, threat model, whether it can be targeted."""

    norms: tuple[str, ...] = attrs.field(default=("linf",), converter=tuple)
    threat_model: str = attrs.field(default="white_box",
                                    validator=attrs.validators.in_(("white_box", "black_box")))
    targeted: bool = False
    minimum_norm: bool = False  #: finds a minimal perturbation instead of staying inside a given eps
    fuzzing: bool = False  #: suitable as an adversarial mutator in the fuzzer

    @norms.validator
    def _norms(self, attribute, value):
        bad = set(value) - {"linf", "l2", "l1", "l0"}
        if bad or not value:
            raise ValueError(f"norms={value!r}: expected a non-empty subset of linf, l2, l1, l0")


@attrs.frozen(kw_only=True)
class MutatorSpec:
    """A mutator's category decides how the fuzzer may chain it (affine at most once per lineage)."""

    category: str = attrs.field(validator=attrs.validators.in_(("pixel", "affine", "adversarial")))


@attrs.frozen(kw_only=True)
class CoverageSpec:
    """Whether the criterion needs a training-set profile (``fit``) before use."""

    needs_profile: bool = False


@attrs.frozen(kw_only=True)
class NoiseSpec:
    adaptive: bool = False  #: the noise multiplier changes over steps


@attrs.frozen(kw_only=True)
class DetectorSpec:
    needs_training: bool = True
    stateful: bool = False  #: keeps a history of queries (black-box query detection)


@attrs.frozen(kw_only=True)
class DatasetSpec:
    input_shape: tuple[int, ...] = attrs.field(converter=tuple)
    num_classes: int
    bounds: tuple[float, float] = (0.0, 1.0)


# ---------------------------------------------------------------- the record
@attrs.frozen(kw_only=True)
class PluginSpec:
    """One algorithm as a plugin registers it.

    ``dist`` and ``version`` are filled in by the registry from the distribution that registered the
    record; plugins leave them empty.
    """

    name: str = attrs.field(validator=_check_name)
    kind: str = attrs.field(validator=_check_kind)
    target: Any = attrs.field(validator=_check_target)
    config: Any = attrs.field(default=None, validator=_check_target)
    aliases: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    summary: str = ""
    capabilities: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset,
                                               validator=_check_caps)
    requires: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    facet: Any = None
    dist: str = ""
    version: str = ""

    @aliases.validator
    def _aliases(self, attribute, value):
        for alias in value:
            if not isinstance(alias, str) or not _NAME.match(alias):
                raise ValueError(f"aliases: {alias!r} is not a valid plugin name")
            if alias == self.name:
                raise ValueError(f"aliases: {alias!r} repeats the name")

    @requires.validator
    def _requires(self, attribute, value):
        from packaging.requirements import InvalidRequirement, Requirement

        for req in value:
            try:
                Requirement(req)
            except InvalidRequirement as exc:
                raise ValueError(f"requires: {req!r} is not a PEP 508 requirement ({exc})") from None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@attrs.frozen(kw_only=True)
class CommandSpec:
    """A CLI subcommand contributed by a distribution.

    ``target`` names a function ``register(subparsers) -> None`` that adds the subcommand; it is imported
    only when the CLI builds its parser, so listing plugins never imports it.
    """

    name: str = attrs.field(validator=attrs.validators.matches_re(r"^[a-z][a-z0-9_-]*$"))
    target: str = attrs.field(validator=_check_target)
    summary: str = ""
    dist: str = ""


@attrs.frozen(kw_only=True)
class AuditSectionSpec:
    """A section of ``armour audit`` contributed by a distribution.

    ``target`` names a function ``section(ctx: armour_core.audit.AuditContext) -> SectionResult``; it is
    imported only when an audit runs. ``order`` places the section in the report. ``profiles`` maps each audit
    profile (``quick``, ``standard``, ``thorough``) to the settings the section reads from ``ctx.settings``:
    how much work it does is the section's own fact, so core names none of its algorithms. ``precheck``
    optionally names a function ``precheck(options: dict) -> None`` that ``armour audit`` calls with its
    command-line options before any model is loaded, to refuse bad input of the section's own (e.g. a damaged
    privacy ledger) before any computation.
    """

    name: str = attrs.field(validator=_check_name)
    title: str
    target: str = attrs.field(validator=_check_target)
    order: int = 50
    precheck: str | None = attrs.field(default=None, validator=_check_target)
    dist: str = ""
    profiles: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, converter=_frozen_profiles,
                                                            hash=False)


@attrs.frozen(kw_only=True)
class KindSpec:
    """A plugin kind a distribution declares (yielded by the ``armour_kinds`` hook), so the registry lists,
    resolves and creates its plugins like those of a built-in kind.

    ``hook`` is the registration hook that yields the kind's :class:`PluginSpec` records (pluggy validates its
    implementations as it does the built-in hooks'); ``summary`` says what the records are (the hook's
    docstring), ``example`` shows one implementation. ``base`` names the abstract base the implementations
    subclass and ``checks`` a sequence of conformance-kit checks ``check(case, request)`` for the kind
    (``armour_core.testing.parametrize_with_checks`` runs them after the record checks): both are
    ``module:qualname`` strings imported only on use, so declaring a kind stays light. ``dist`` is filled in
    by the registry.
    """

    name: str = attrs.field(validator=attrs.validators.matches_re(_KIND))
    hook: str = attrs.field(validator=attrs.validators.matches_re(_HOOK))
    summary: str = attrs.field()
    base: str | None = attrs.field(default=None, validator=_check_target)
    checks: str | None = attrs.field(default=None, validator=_check_target)
    example: str = ""
    dist: str = ""

    @summary.validator
    def _summary(self, attribute, value):
        if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
            raise ValueError(f"summary={value!r}: one non-empty line saying what the kind's records are")


@attrs.frozen(kw_only=True)
class PluginStatus:
    """The outcome of loading one entry point (one plugin module of one distribution)."""

    plugin: str  #: entry-point name
    dist: str
    version: str
    module: str
    state: str = attrs.field(
        validator=attrs.validators.in_(("ok", "unavailable", "broken", "disabled", "conflict")))
    records: int = 0
    error: str = ""
    traceback: str = ""

