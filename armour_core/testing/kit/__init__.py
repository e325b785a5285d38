"""The conformance kit: every check of a plugin's kind as its own pytest test (scikit-learn's
``parametrize_with_checks``, applied to armour's kinds).

::

    from armour_core.testing import parametrize_with_checks

    @parametrize_with_checks("attack", ["fgsm", ("pgd", {"eps": 0.1, "steps": 10})], generous={"eps": 0.3})
    def test_kit(plugin, check, request):
        check(plugin, request)

gives one test per plugin and check (``test_kit[pgd-check_stays_in_eps_ball]``), each failing or skipping on
its own, with a reason. A check that ran asserted something; a check that cannot apply to a plugin (a
targeted-success check on an untargeted attack) is a pytest skip saying why.

A plugin is given by name, as ``(name, config)``, or as a :class:`Case` (:func:`case`) carrying kind-specific
options (which model fixture to use, a ``generous`` config at which an attack must succeed...). Keyword
options given to :func:`parametrize_with_checks` apply to every case that does not set them.
:func:`plugin_cases` lists a case for every plugin a distribution registers, so none is left out.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import pytest

from ...specs import KINDS

#: the module holding each built-in kind's checks (a declared kind names its own: ``KindSpec.checks``)
_MODULES = {"attack": "evasion", "defense": "evasion", "detector": "evasion",
            "mutator": "fuzzing", "coverage": "fuzzing", "scheduler": "fuzzing",
            "noise": "privacy", "clip": "privacy", "accountant": "privacy", "suppressor": "privacy",
            "inference": "privacy", "dataset": "builtin", "model": "builtin"}
assert set(_MODULES) == set(KINDS), "every kind needs its checks"


def _freeze(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((mapping or {}).items()))


@attrs.frozen
class Case:
    """One plugin under test: kind, name, config, kind-specific options and a label for its test ids."""

    kind: str
    name: str
    config_items: tuple[tuple[str, Any], ...] = ()
    option_items: tuple[tuple[str, Any], ...] = ()
    label: str | None = None

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.config_items)

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.option_items).get(key, default)

    @property
    def id(self) -> str:
        return self.name if self.label is None else f"{self.name}-{self.label}"

    def with_defaults(self, options: Mapping[str, Any]) -> Case:
        """This case with ``options`` filled in where it sets none."""
        return attrs.evolve(self, option_items=_freeze({**options, **dict(self.option_items)}))


def _known_kinds() -> tuple[str, ...]:
    """The built-in kinds, and those installed distributions declare (building the registry only for those)."""
    from ... import registry

    return registry.kinds()


def case(kind: str, name: str, config: Mapping[str, Any] | None = None, *, label: str | None = None,
         **options: Any) -> Case:
    """A :class:`Case` (``label`` tells two cases of one plugin apart in test ids, e.g. ``pgd-l2``)."""
    if kind not in KINDS and kind not in _known_kinds():
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(_known_kinds())}")
    return Case(kind, name, _freeze(config), _freeze(options), label)


def as_case(kind: str, plugin: str | tuple | Case, options: Mapping[str, Any] | None = None) -> Case:
    """``plugin`` (a name, ``(name, config)`` or a :class:`Case`) as a Case of ``kind``."""
    if isinstance(plugin, Case):
        if plugin.kind != kind:
            raise ValueError(f"case {plugin.id!r} is a {plugin.kind}, not a {kind}")
        out = plugin
    elif isinstance(plugin, str):
        out = case(kind, plugin)
    elif isinstance(plugin, tuple) and len(plugin) == 2 and isinstance(plugin[0], str):
        out = case(kind, plugin[0], plugin[1])
    else:
        raise TypeError(f"expected a plugin name, (name, config) or a Case, got {plugin!r}")
    return out.with_defaults(options or {})


def checks_for(kind: str) -> list[Callable]:
    """Every check for ``kind``: the record checks, then the kind's own (each ``check(case, request)``): a
    built-in kind's from this kit, a declared kind's from the ``checks`` its :class:`~armour_core.specs.KindSpec`
    names (none when it names none)."""
    from . import records

    if kind in _MODULES:
        return [*records.CHECKS, *importlib.import_module(f"{__name__}.{_MODULES[kind]}").CHECKS[kind]]
    if kind not in _known_kinds():
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(_known_kinds())}")
    from ... import registry

    target = registry.kind_spec(kind).checks
    return [*records.CHECKS, *(registry.import_target(target) if target else ())]


def check_params(kind: str, plugins: Iterable[str | tuple | Case], **options: Any) -> list:
    """``pytest.param(case, check)`` for every plugin and check, with ids ``<case>-<check>``."""
    cases = [as_case(kind, p, options) for p in plugins]
    _unique_ids(cases)
    checks = checks_for(kind)
    return [pytest.param(c, chk, id=f"{c.id}-{chk.__name__}") for c in cases for chk in checks]


def _unique_ids(cases: list[Case]) -> None:
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"cases {dupes} appear twice: give one of each a label=")


def parametrize_with_checks(kind: str, plugins: Iterable[str | tuple | Case], **options: Any):
    """``pytest.mark.parametrize("plugin, check", ...)``: one test per plugin and check of ``kind``.

    The decorated test calls ``check(plugin, request)``. ``options`` are defaults for every case (e.g.
    ``model="armour_lenet"``); see each kind's module for the options its checks read.
    """
    return pytest.mark.parametrize("plugin, check", check_params(kind, plugins, **options))


def plugin_cases(kind: str, dist: str, cases: Mapping[str, Any] | None = None,
                 exclude: Iterable[str] = ()) -> list[Case]:
    """A case for every ``kind`` plugin ``dist`` registers: the ones given in ``cases`` (name -> config
    dict, :class:`Case` or a list of them), ``Case(name)`` for the rest. Naming a plugin the distribution
    does not register, or excluding one, is checked, so the list cannot drift from the registry."""
    from ... import registry

    names = [n for n in registry.names(kind) if registry.spec(kind, n).dist == dist]
    given = dict(cases or {})
    excluded = set(exclude)
    unknown = sorted((set(given) | excluded) - set(names))
    if unknown:
        raise ValueError(f"{dist} registers no {kind} {unknown}; registered: {names}")
    out: list[Case] = []
    for name in names:
        if name in excluded:
            continue
        entries = given.get(name, {})
        for entry in entries if isinstance(entries, list) else [entries]:
            out.append(entry if isinstance(entry, Case) else case(kind, name, entry))
    return out


def parametrize_distribution(dist: str, cases: Mapping[str, Mapping[str, Any]] | None = None,
                             exclude: Mapping[str, Iterable[str]] | None = None):
    """:func:`parametrize_with_checks` for every plugin of every kind ``dist`` registers: ``cases`` maps a kind
    to its :func:`plugin_cases` entries, ``exclude`` a kind to names run elsewhere. A kind or plugin the
    distribution registers later is tested without touching the test module."""
    from ... import registry

    cases, exclude = dict(cases or {}), dict(exclude or {})
    kinds = [k for k in registry.kinds() if any(registry.spec(k, n).dist == dist for n in registry.names(k))]
    unknown = sorted((set(cases) | set(exclude)) - set(kinds))
    if unknown:
        raise ValueError(f"{dist} registers no plugin of kind {unknown}; its kinds: {kinds}")
    all_cases = [c for k in kinds for c in plugin_cases(k, dist, cases.get(k), exclude.get(k, ()))]
    _unique_ids(all_cases)
    return pytest.mark.parametrize("plugin, check", [p for k in kinds for p in check_params(
        k, [c for c in all_cases if c.kind == k])])


__all__ = ["Case", "as_case", "case", "check_params", "checks_for", "parametrize_distribution",
           "parametrize_with_checks", "plugin_cases"]
