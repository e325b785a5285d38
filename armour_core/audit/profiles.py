"""Audit profiles and the ε grid of the robustness section.

A profile is a name (``quick``, ``standard``, ``thorough``); each section's record states its settings per
profile (:class:`~armour_core.specs.AuditSectionSpec`). ``quick`` must finish in under 3 minutes on 2 cores
for the embedded default; the larger profiles add algorithms and iterations.

The ε grid (:func:`eps_grid`) fits the data unless ``--eps`` gives one: image-sized inputs (≥ 3 channels, or
at least 28×28) get the customary 1/255, 2/255, 4/255, 8/255, 16/255 of the input range, judged at 8/255;
small inputs (the embedded 8×8 digits, feature vectors) keep the profile's coarser ``small_eps`` grid, judged
at 0.1 of the range. One fixed grid told a normally trained 32×32 colour model "FAIL at 0.1" (≈ 26/255),
which says nothing about the budgets such models are compared at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..errors import InvalidInputError

#: the audit profiles, least work first; what each means for a section is in the section's record
#: (``AuditSectionSpec.profiles``), so core names no algorithm
PROFILES: tuple[str, ...] = ("quick", "standard", "thorough")


#: image-sized inputs: ε = k/255 of the input range for these k; the verdict is judged at k = 8
IMAGE_EPS_STEPS: tuple[int, ...] = (1, 2, 4, 8, 16)
IMAGE_REFERENCE_STEP = 8
#: small inputs: the verdict is judged at this fraction of the input range (the profile's ``small_eps`` grid)
SMALL_REFERENCE_EPS = 0.1


@attrs.frozen
class EpsGrid:
    """The budgets of the robustness section, the one its verdict is judged at, and why."""

    values: tuple[float, ...]
    reference: float  #: a member of ``values``
    source: str  #: ``"given"`` (--eps / settings), ``"image"`` or ``"small"`` (the default rule)
    rule: str  #: one sentence for the report


def is_image_shaped(input_shape: Sequence[int]) -> bool:
    """An image with ≥ 3 channels or a spatial size of at least 28×28 (channel-first or channel-last;
    a 2-D sample is one grey channel). Feature vectors and other ranks are not images."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:
        channels, spatial = 1, shape
    elif len(shape) == 3:
        channel_last = shape[0] > 4 and shape[-1] <= 4
        channels, spatial = (shape[-1], shape[:2]) if channel_last else (shape[0], shape[1:])
    else:
        return False
    return channels >= 3 or min(spatial) >= 28


def format_eps(eps: float) -> str:
    """``8/255`` for a budget that is a whole number of 255ths and not a short decimal (``0.2`` stays)."""
    short = f"{eps:.4g}"
    k = eps * 255
    if float(short) != eps and abs(k - round(k)) < 1e-6 * max(1.0, k) and round(k) >= 1:
        return f"{round(k)}/255"
    return short


def check_eps(values: Iterable[Any], bounds: tuple[float, float] | None = None, *,
              what: str = "eps") -> tuple[float, ...]:
    """Budgets as a sorted tuple: numbers, finite, > 0, distinct, and at most the width of ``bounds``."""
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidInputError(f"{what}: expected numbers, got {values!r}") from None
    if not out:
        raise InvalidInputError(f"{what}: expected at least one budget (e.g. 0.01,0.03 or 4/255,8/255)")
    if not all(math.isfinite(v) for v in out):
        raise InvalidInputError(f"{what}: budgets must be finite, got {out}")
    if min(out) <= 0:
        raise InvalidInputError(f"{what}: budgets must be > 0, got {out}")
    if len(set(out)) != len(out):
        raise InvalidInputError(f"{what}: budgets must be distinct, got {out}")
    if bounds is not None:
        lo, hi = (float(b) for b in bounds)
        if max(out) > hi - lo:
            raise InvalidInputError(f"{what}: budgets must lie in (0, {hi - lo:g}], the width of the input bounds "
                                    f"[{lo:g}, {hi:g}]; got {max(out):g}")
    return tuple(sorted(out))


def parse_eps(text: str, bounds: tuple[float, float] | None = None) -> tuple[float, ...]:
    """``--eps 0.01,0.03`` or ``--eps 4/255,8/255``, checked by :func:`check_eps` (against ``bounds`` when
    given)."""
    values = []
    for token in (t.strip() for t in str(text).split(",")):
        if not token:
            continue
        num, slash, den = token.partition("/")
        try:
            values.append(float(num) / float(den) if slash else float(token))
        except (ValueError, ZeroDivisionError):
            raise InvalidInputError(f"--eps: {token!r} is not a number (expected comma-separated budgets, e.g. "
                                    "0.01,0.03 or 4/255,8/255)") from None
    return check_eps(values, bounds, what="--eps")


def eps_grid(input_shape: Sequence[int], bounds: tuple[float, float], settings: dict[str, Any]) -> EpsGrid:
    """The robustness section's budgets for data of ``input_shape`` within ``bounds`` (see the module doc).

    ``settings["eps"]`` (from ``--eps``) wins; the verdict is then judged at its value nearest the default
    rule's reference.
    """
    lo, hi = (float(b) for b in bounds)
    span = hi - lo
    image = is_image_shaped(input_shape)
    shape = "x".join(str(int(d)) for d in input_shape)
    small_eps = tuple(float(e) for e in settings.get("small_eps", (0.05, 0.1, 0.2)))
    if image:
        ref = IMAGE_REFERENCE_STEP / 255 * span
        default = tuple(k / 255 * span for k in IMAGE_EPS_STEPS)
        kind = f"inputs of shape {shape} are image-sized (>= 3 channels or >= 28x28)"
        grid = f"{', '.join(str(k) for k in IMAGE_EPS_STEPS)} /255 of the input range"
    else:
        ref = SMALL_REFERENCE_EPS * span
        default = tuple(e * span for e in small_eps)
        kind = f"inputs of shape {shape} are small (under 28x28 with fewer than 3 channels)"
        grid = f"the profile's {', '.join(f'{e:g}' for e in small_eps)} of the input range"
    if settings.get("eps") is not None:
        values = check_eps(settings["eps"], (lo, hi))
        reference = min(values, key=lambda e: (abs(e - ref), e))
        return EpsGrid(values=values, reference=reference, source="given",
                       rule=f"given (--eps); judged at the value nearest {format_eps(ref)}, the reference for "
                            f"these inputs ({kind})")
    return EpsGrid(values=default, reference=min(default, key=lambda e: abs(e - ref)),
                   source="image" if image else "small",
                   rule=f"default rule: {kind}, so the grid is {grid}, judged at {format_eps(ref)}")
