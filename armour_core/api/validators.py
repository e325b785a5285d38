"""One validator per parameter kind, shared by every config class and every entry point.

Numbers may be Python or numpy scalars (``np.float32(1e-5)`` is a valid δ); strings are refused with a
message naming the argument (the CLI converts its own arguments; the API does not guess). The ``check_*``
functions take the argument's name and raise :class:`~armour_core.errors.InvalidInputError`; the attrs
validators and field factories below call them with the field's name (``make_config`` turns the error
into a :class:`~armour_core.errors.ConfigError`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import attrs
import numpy as np

from ..errors import InvalidInputError
from .norms import NORMS

__all__ = ["check_number", "check_finite", "check_int", "check_positive", "check_nonnegative", "check_probability",
           "check_eps",
           "norm_name", "finite", "positive", "nonnegative", "eps_field", "norm_field", "int_field",
           "positive_field", "nonnegative_field", "unit_field", "plain_scalar", "required"]


def plain_scalar(value: Any) -> Any:
    """A numpy scalar (or 0-d array) as the Python number it holds; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_number(value: Any, name: str) -> float:
    """``value`` as a float: an int, float or numpy real scalar (not a bool, not a string)."""
    value = plain_scalar(value)
    if isinstance(value, (str, bytes)):
        raise InvalidInputError(f"{name}: expected a number, got the string {value!r} (convert it first)")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    return float(value)


def check_int(value: Any, name: str, *, low: int | None = None) -> int:
    """``value`` as an int ≥ ``low``: a Python or numpy integer (not a bool, a float or a string)."""
    value = plain_scalar(value)
    if isinstance(value, (str, bytes)):
        raise InvalidInputError(f"{name}: expected an int, got the string {value!r} (convert it first)")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if low is not None and value < low:
        raise InvalidInputError(f"{name}: expected an int >= {low}, got {value}")
    return int(value)


def check_finite(value: Any, name: str) -> float:
    """A finite number (no NaN, no infinity)."""
    x = check_number(value, name)
    if not math.isfinite(x):
        raise InvalidInputError(f"{name}: expected a finite number, got {x}")
    return x


def check_positive(value: Any, name: str) -> float:
    """A finite number > 0 (noise multiplier, clip norm, learning rate, ...)."""
    x = check_finite(value, name)
    if x <= 0:
        raise InvalidInputError(f"{name}: expected a finite number > 0, got {x}")
    return x


def check_nonnegative(value: Any, name: str) -> float:
    """A finite number ≥ 0."""
    x = check_finite(value, name)
    if x < 0:
        raise InvalidInputError(f"{name}: expected a finite number >= 0, got {x}")
    return x


def check_eps(value: Any, name: str = "eps") -> float:
    """A perturbation budget: finite and ≥ 0 (``inf`` is not a budget)."""
    return check_nonnegative(value, name)


def check_probability(value: Any, name: str, *, low_closed: bool = False, high_closed: bool = False) -> float:
    """A probability or rate: in (0, 1) by default; ``low_closed`` / ``high_closed`` admit 0 / 1."""
    x = check_number(value, name)
    ok_low = x >= 0.0 if low_closed else x > 0.0
    ok_high = x <= 1.0 if high_closed else x < 1.0
    if not (ok_low and ok_high):
        interval = f"{'[' if low_closed else '('}0, 1{']' if high_closed else ')'}"
        raise InvalidInputError(f"{name}: expected a number in {interval}, got {value!r}")
    return x


def norm_name(value: Any) -> str:
    """Canonical norm name: 'linf' for inf/np.inf/'l_inf', 'l2' for 2 or '2', ..."""
    aliases = {"inf": "linf", "np.inf": "linf", "l_inf": "linf", "2": "l2", "1": "l1", "0": "l0"}
    text = str(plain_scalar(value)).lower().replace(" ", "")
    if text == str(float("inf")):
        return "linf"
    return aliases.get(text, text)


# ------------------------------------------------------------------------------ attrs validators
def _named(check):
    def validator(inst: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            check(value, attribute.name)
    return validator


finite = _named(check_finite)
positive = _named(check_positive)
nonnegative = _named(check_nonnegative)


def _norm_in(allowed: tuple[str, ...]):
    def validator(inst: Any, attribute: Any, value: Any) -> None:
        if value not in allowed:
            raise InvalidInputError(f"{attribute.name}={value!r}: expected one of {', '.join(allowed)}")
    return validator


def _int_ge(low: int):
    def validator(inst: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            check_int(value, attribute.name, low=low)
    return validator


def _unit(low_closed: bool, high_closed: bool):
    def validator(inst: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            check_probability(value, attribute.name, low_closed=low_closed, high_closed=high_closed)
    return validator


# ------------------------------------------------------------------------------ field factories
def eps_field(default: float | None = 0.1, *, optional: bool = False):
    """``eps``: a finite radius ≥ 0; ``optional``: ``None`` means unbounded (minimum-norm attacks)."""
    if default is None and not optional:
        raise ValueError("eps_field: a None default needs optional=True")
    check = _named(check_eps)
    return attrs.field(default=default, validator=check if optional else [required, check])


def norm_field(default: str = "linf", allowed: tuple[str, ...] = NORMS):
    """``norm``: one of ``allowed`` (aliases such as ``np.inf`` or ``2`` accepted)."""
    return attrs.field(default=default, converter=norm_name, validator=_norm_in(tuple(allowed)))


def int_field(default: int | None, *, low: int = 1, optional: bool = False):
    """An int ≥ ``low`` (``optional``: or None)."""
    validator = _int_ge(low)
    if not optional:
        validator = [required, validator]
    return attrs.field(default=default, validator=validator)


def positive_field(default: float | None, *, optional: bool = False):
    """A finite number > 0 (``optional``: or None)."""
    return attrs.field(default=default, validator=positive if optional else [required, positive])


def nonnegative_field(default: float | None, *, optional: bool = False):
    """A finite number ≥ 0 (``optional``: or None)."""
    return attrs.field(default=default, validator=nonnegative if optional else [required, nonnegative])


def unit_field(default: float, *, low_closed: bool = True, high_closed: bool = True):
    """A fraction or probability in [0, 1] (``low_closed`` / ``high_closed`` False exclude 0 / 1)."""
    return attrs.field(default=default, validator=[required, _unit(low_closed, high_closed)])


def required(inst: Any, attribute: Any, value: Any) -> None:
    """None is refused (the other validators here let None through for optional fields)."""
    if value is None:
        raise InvalidInputError(f"{attribute.name}: a value is required, got None")

