"""argparse types shared by every ``armour`` command: numbers checked at parse time, output paths checked
before any work starts.

A bad value then fails in one line naming the flag (``armour: error: argument --batch-size: expected a
positive integer, got '0'``) instead of a traceback minutes later, after the computation ran. The path
checks are also callable directly (:func:`check_output_dir`, :func:`check_output_file`) for paths that are
not flags. Nothing here imports MindSpore.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .api import validators as V
from .errors import InvalidInputError


# ------------------------------------------------------------------------------------------- paths
def _writable_dir(d: Path, target: Path, what: str) -> None:
    """``d`` exists and is a directory in which files can be created (probed: ``os.access`` lies for root
    on read-only mounts and cannot see ACLs)."""
    if not d.is_dir():
        raise InvalidInputError(f"{what}{str(target)!r} cannot be created: {str(d)!r} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as exc:
        raise InvalidInputError(f"{what}{str(target)!r} is not writable: cannot create files in {str(d)!r} "
                                f"({exc.strerror or exc})") from None


def _nearest_existing(p: Path) -> Path:
    """``p`` or its closest ancestor that exists (what ``mkdir(parents=True)`` would build on)."""
    p = p.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _prefix(what: str | None) -> str:
    return f"{what}: " if what else ""


def check_output_dir(path: str | os.PathLike, what: str | None = None) -> Path:
    """``path`` is a writable directory, or can be created as one; nothing is created here."""
    p, w = Path(path), _prefix(what)
    if str(path) == "":
        raise InvalidInputError(f"{w}expected a directory path, got ''")
    if p.exists() and not p.is_dir():
        raise InvalidInputError(f"{w}{str(p)!r} is a file; expected a directory (or a path where one can be made)")
    _writable_dir(_nearest_existing(p), p, w)
    return p


def check_output_file(path: str | os.PathLike, what: str | None = None) -> Path:
    """``path`` is a writable file, or can be created as one (its directory exists or can be made)."""
    p, w = Path(path), _prefix(what)
    if str(path) == "":
        raise InvalidInputError(f"{w}expected a file path, got ''")
    if p.is_dir():
        raise InvalidInputError(f"{w}{str(p)!r} is a directory; expected a file path")
    if p.exists() and not os.access(p, os.W_OK):
        raise InvalidInputError(f"{w}{str(p)!r} exists and is not writable")
    _writable_dir(_nearest_existing(p.parent), p, w)
    return p


def check_input_file(path: str | os.PathLike, what: str | None = None) -> Path:
    """``path`` exists, is a regular file and is readable."""
    p, w = Path(path), _prefix(what)
    if not p.exists():
        raise InvalidInputError(f"{w}{str(p)!r} does not exist")
    if p.is_dir():
        raise InvalidInputError(f"{w}{str(p)!r} is a directory; expected a file")
    if not os.access(p, os.R_OK):
        raise InvalidInputError(f"{w}{str(p)!r} is not readable")
    return p


def _as_type(check: Callable[[str], object], name: str) -> Callable[[str], str]:
    """An argparse ``type`` running ``check`` and keeping the string (argparse names the flag)."""

    def convert(text: str) -> str:
        try:
            check(text)
        except InvalidInputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    convert.__name__ = name
    return convert


output_dir = _as_type(check_output_dir, "output_dir")
output_file = _as_type(check_output_file, "output_file")
input_file = _as_type(check_input_file, "input_file")


def optional_output_file(text: str) -> str:
    """An output file path, or ``''`` for none (e.g. ``--plot ''``)."""
    return text if text == "" else output_file(text)


# ------------------------------------------------------------------------------------------ numbers
def _number(kind: type, check: Callable[[Any], Any], expected: str) -> Callable[[str], Any]:
    """An argparse ``type``: parse ``text`` as ``kind``, then apply the API's own validator
    (:mod:`armour_core.api.validators`), so a flag and the keyword it feeds accept exactly the same values."""

    def convert(text: str) -> Any:
        try:
            return check(kind(text))
        except (TypeError, ValueError, InvalidInputError):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    return convert


positive_int = _number(int, lambda v: V.check_int(v, "value", low=1), "a positive integer")
nonnegative_int = _number(int, lambda v: V.check_int(v, "value", low=0), "an integer >= 0")
positive_float = _number(float, lambda v: V.check_positive(v, "value"), "a finite number > 0")
nonnegative_float = _number(float, lambda v: V.check_nonnegative(v, "value"), "a finite number >= 0")
#: strictly between 0 and 1 (δ, a significance level, a sampling rate)
probability = _number(float, lambda v: V.check_probability(v, "value"), "a number in (0, 1)")
#: in [0, 1] (a share of elements or of a range, a sparsity)
fraction = _number(float, lambda v: V.check_probability(v, "value", low_closed=True, high_closed=True),
                   "a number in [0, 1]")
finite_float = _number(float, lambda v: V.check_finite(v, "value"), "a finite number")
