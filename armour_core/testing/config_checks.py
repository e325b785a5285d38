"""Type checks every registered config class must pass (issue 9, item 15), shared by the core tests and each
distribution's ``test_trust_configs.py``.

numpy scalars are numbers like any other (stored as Python numbers); a string number is refused with a
:class:`~armour_core.errors.ConfigError` naming the field; ``eps`` is finite wherever a config (re)defines
it; an unknown norm lists the valid ones, never attrs' repr. Importing this module imports no plugin
implementation and no MindSpore: config classes are read from the records.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np

from .. import registry
from ..api.base import make_config
from ..errors import ArmourError, ConfigError
from .checks import check


def registered_configs(dist: str | None = None) -> list[tuple[str, str, type]]:
    """``(kind, name, config class)`` of every record (of ``dist``) that names its config class."""
    out = []
    for kind in registry.kinds():
        for name in registry.names(kind):
            spec = registry.spec(kind, name)
            if dist is not None and spec.dist != dist:
                continue
            if isinstance(spec.config, str):
                out.append((kind, name, registry.import_target(spec.config)))
            elif spec.config is not None:
                out.append((kind, name, spec.config))
    return out


def numeric_fields(cls: type) -> Iterator[tuple[str, Any]]:
    """Fields whose default is an int or float (bools excluded)."""
    for f in attrs.fields(cls):
        d = f.default
        if not isinstance(d, bool) and isinstance(d, (int, float)):
            yield f.name, d


def _refused(cls: type, name: str, values: dict[str, Any]) -> str:
    try:
        make_config(cls, values, owner=name)
    except ConfigError as exc:
        return str(exc)
    raise AssertionError(f"{name}: {values!r} was accepted")


def check_numpy_numbers_accepted(cls: type, name: str) -> None:
    for field, default in numeric_fields(cls):
        for cast in (np.int64,) if isinstance(default, int) else (np.float64, np.float32):
            value = getattr(make_config(cls, {field: cast(default)}, owner=name), field)
            check(math.isclose(value, default, rel_tol=1e-6), str((name, field, cast, value)))
            check(type(value) in (int, float), str((name, field, type(value))))  # stored as a Python number


def check_strings_refused(cls: type, name: str) -> None:
    for field, default in numeric_fields(cls):
        message = _refused(cls, name, {field: str(default)})
        check(field in message and "string" in message, message)


def check_eps_finite(cls: type, name: str) -> bool:
    """False when the config has no scalar ``eps``."""
    fields = attrs.fields_dict(cls)
    if "eps" not in fields or isinstance(fields["eps"].default, (tuple, attrs.Factory)):
        return False
    for bad in (math.inf, np.inf, math.nan, np.float32("inf"), -math.inf):
        check("eps" in _refused(cls, name, {"eps": bad}), f"{name}: eps={bad!r} was refused without naming eps")
    return True


def check_norm_message(cls: type, name: str) -> bool:
    """False when the config has no ``norm``."""
    fields = attrs.fields_dict(cls)
    if "norm" not in fields:
        return False
    message = _refused(cls, name, {"norm": "l7"})
    check("norm" in message and "l7" in message and "Attribute(" not in message, message)
    check(fields["norm"].default in message, message)  # the valid norms are listed
    return True


def check_wrong_types_are_one_line(cls: type, name: str) -> None:
    for field, _ in numeric_fields(cls):
        try:
            make_config(cls, {field: object()}, owner=name)
        except ArmourError as exc:
            check("Attribute(" not in str(exc) and field in str(exc) and "\n" not in str(exc), str(exc))
        else:
            raise AssertionError(f"{name}: {field}=object() was accepted")


def check_config_types(cls: type, name: str) -> None:
    """Every check above."""
    check_numpy_numbers_accepted(cls, name)
    check_strings_refused(cls, name)
    check_eps_finite(cls, name)
    check_norm_message(cls, name)
    check_wrong_types_are_one_line(cls, name)
