"""Shared machinery of every algorithm: validated, frozen, keyword-only configs."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import ConfigError


def make_config(config_cls: type, values: dict[str, Any], *, owner: str) -> Any:
    """Build ``config_cls(**values)``; unknown keys and invalid values raise :class:`ConfigError`.

    A config class may declare ``RENAMED = {"old": "new"}``: the old key keeps working for one release with a
    DeprecationWarning; giving both is an error.
    """
    values = _renamed(config_cls, values, owner)
    fields = {f.name for f in attrs.fields(config_cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        import difflib

        hints = [f"{k!r} (did you mean {difflib.get_close_matches(k, fields, n=1)[0]!r}?)"
                 if difflib.get_close_matches(k, fields, n=1) else repr(k) for k in unknown]
        raise ConfigError(f"{owner}: unknown config key {', '.join(hints)}; valid keys: {', '.join(sorted(fields))}")
    values = {k: _plain(v) for k, v in values.items()}
    numeric = {f.name for f in attrs.fields(config_cls) if _is_numeric(f.type)}
    for key, value in values.items():
        if key in numeric and not isinstance(value, np.ndarray):  # arrays are left to the field's converter
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, (tuple, list)):
                    continue
                if isinstance(item, (str, bytes)):
                    raise ConfigError(f"{owner}: {key}={value!r}: expected a number, got a string (convert it first)")
                if item is not None and (isinstance(item, bool) or not isinstance(item, numbers.Real)):
                    raise ConfigError(f"{owner}: {key}: expected a number, got {type(item).__name__} {item!r}")
    try:
        return config_cls(**values)
    except (TypeError, ValueError) as exc:
        # attrs' own validators raise (message, Attribute, ...): keep the message, not the tuple's repr
        message = exc.args[0] if len(exc.args) > 1 and isinstance(exc.args[0], str) else str(exc)
        raise ConfigError(f"{owner}: invalid config: {message}") from None


def _renamed(config_cls: type, values: dict[str, Any], owner: str) -> dict[str, Any]:
    renamed = getattr(config_cls, "RENAMED", {})
    if not any(old in values for old in renamed):
        return values
    import warnings

    values = dict(values)
    for old, new in renamed.items():
        if old in values:
            if new in values:
                raise ConfigError(f"{owner}: give {new}= only ({old}= is its deprecated old name)")
            warnings.warn(f"{owner}: {old}= is deprecated, use {new}= (removed in the next release)",
                          DeprecationWarning, stacklevel=5)
            values[new] = values.pop(old)
    return values


def _plain(value: Any) -> Any:
    """numpy scalars (``np.float32(0.1)``, ``np.int64(3)``), also inside tuples/lists, as Python numbers."""
    from .validators import plain_scalar

    if isinstance(value, (tuple, list)):
        return type(value)(plain_scalar(v) for v in value)
    return plain_scalar(value)


def _is_numeric(annotation: Any) -> bool:
    """A field annotated with numbers only (``float``, ``int | None``, ``tuple[float, float]``...)."""
    if annotation in (int, float):
        return True
    if not isinstance(annotation, str):
        return False
    words = set(annotation.replace("|", " ").replace("[", " ").replace("]", " ").replace(",", " ").split())
    return bool(words & {"int", "float"}) and words <= {"int", "float", "None", "tuple", "..."}


class Algorithm:
    """Base of every plugin implementation.

    Subclasses name their frozen attrs config class in ``Config``; the constructor takes the config as
    keyword arguments, so ``registry.create(kind, name, **kwargs)`` and ``Cls(**kwargs)`` validate alike.
    """

    Config: ClassVar[type]

    def __init__(self, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)

    def evolve(self, **changes: Any):
        """A copy of this algorithm with some hyperparameters changed (``attrs.evolve`` semantics)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        values = attrs.asdict(self.config, recurse=False)
        values.update(changes)
        new.config = make_config(self.Config, values, owner=type(self).__name__)
        return new

    def rng(self, *stream: int) -> np.random.Generator:
        """A generator derived from ``config.seed`` (and ``stream``): explicit, reproducible randomness.

        ``seed=None`` draws fresh OS entropy; ``seed=0`` is a seed like any other.
        """
        seed = getattr(self.config, "seed", None)
        if seed is None:
            return np.random.default_rng()
        return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, stream)]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


def seed_field(default: int | None = 0):
    """An attrs field for ``seed``: a non-negative int, or None for OS entropy."""
    return attrs.field(default=default, validator=attrs.validators.optional(
        [attrs.validators.instance_of(int), attrs.validators.ge(0)]))
