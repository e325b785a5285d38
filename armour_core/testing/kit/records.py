"""Checks every kind shares: the record is light and well formed, the config class imports, has defaults,
rejects unknown keys and takes numbers the way every armour config does."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from ... import registry
from ...errors import ConfigError
from ...specs import _NAME, _TARGET, PluginSpec


def spec_of(case) -> PluginSpec:
    return registry.spec(case.kind, case.name)


def config_class(case) -> type | None:
    """The config class the record names (or the implementation's ``Config``); None when it has neither."""
    spec = spec_of(case)
    if spec.config is None:
        return getattr(registry.get(case.kind, case.name), "Config", None)
    return registry.import_target(spec.config) if isinstance(spec.config, str) else spec.config


def create(case, request, **overrides: Any) -> Any:
    """The plugin built through the registry with the case's config, ``overrides`` and what its kind needs
    (a model, bounds...: each kind's module registers a builder in :data:`BUILDERS`)."""
    extra = BUILDERS[case.kind](case, request) if case.kind in BUILDERS else {}
    return registry.create(case.kind, case.name, **{**extra, **case.config, **overrides})


#: kind -> ``(case, request) -> keyword arguments`` every creation of that kind needs (filled by the modules)
BUILDERS: dict[str, Any] = {}


def check_record(case, request) -> None:
    """The record resolves under its name and aliases, names its distribution, follows the name rules and has
    a one-line summary; its target is a ``module:qualname`` string (imported only on use)."""
    spec = spec_of(case)
    assert spec.kind == case.kind, f"{case.name}: record kind {spec.kind!r}"
    for alias in spec.names:
        assert _NAME.match(alias), f"{alias!r}: names are [a-z0-9_]+ (third parties: a dotted prefix)"
        assert registry.spec(case.kind, alias) == spec, f"{alias!r} resolves to another record"
    assert spec.dist, f"{case.name}: the record names no distribution"
    summary = spec.summary.strip()
    assert summary and "\n" not in summary, f"{case.name}: the summary must be one non-empty line, got {spec.summary!r}"
    if callable(spec.target):
        pytest.skip("registered in-process with a class as target (entry-point plugins name a string)")
    assert _TARGET.match(spec.target), f"{case.name}: target {spec.target!r} is not 'module:qualname'"


def check_config_importable(case, request) -> None:
    """The config is an attrs class whose every field has a default; the implementation's ``Config`` is it
    (or a subclass)."""
    cfg = config_class(case)
    if cfg is None:
        pytest.skip(f"{case.name} has no config class")
    assert attrs.has(cfg), f"{case.name}: config {cfg!r} is not an attrs class"
    cfg()  # every hyperparameter has a default
    impl_cfg = getattr(registry.get(case.kind, case.name), "Config", None)
    if impl_cfg is not None:
        assert issubclass(impl_cfg, cfg), \
            f"{case.name}: record config {cfg.__name__} differs from the class's {impl_cfg.__name__}"


def check_rejects_unknown_config_key(case, request) -> None:
    """An unknown keyword is an error naming it, never swallowed (a ConfigError for algorithms; a factory
    such as a dataset loader or a network class raises Python's TypeError)."""
    from ...api.base import Algorithm

    impl = registry.get(case.kind, case.name)
    expected = ConfigError if isinstance(impl, type) and issubclass(impl, Algorithm) else (ConfigError, TypeError)
    with pytest.raises(expected) as exc:
        create(case, request, armour_not_a_key=1)
    assert "armour_not_a_key" in str(exc.value), str(exc.value)


def check_config_types(case, request) -> None:
    """numpy scalars accepted, string numbers refused naming the field, eps finite, unknown norms answered
    with the valid ones, one-line errors (:mod:`armour_core.testing.config_checks`)."""
    from ..config_checks import check_config_types as run, numeric_fields

    cfg = config_class(case)
    if cfg is None:
        pytest.skip(f"{case.name} has no config class")
    if not list(numeric_fields(cfg)) and "norm" not in attrs.fields_dict(cfg):
        pytest.skip(f"{cfg.__name__} has no numeric field and no norm")
    run(cfg, case.name)


CHECKS = [check_record, check_config_importable, check_rejects_unknown_config_key, check_config_types]


def cached(request, case, what: str, build):
    """``build()`` once per session for ``(case, what)``: checks that only read a result (a fitted detector,
    one attack run) share it instead of recomputing it."""
    store = request.config.stash.setdefault(_STORE, {})
    key = (repr(case), what)
    if key not in store:
        store[key] = build()
    return store[key]


_STORE = pytest.StashKey[dict]()
