"""Mutator hyperparameters (frozen attrs classes; light to import).

Mutator parameter spaces are ``(min, max)`` ranges the fuzzer samples one value per input from. Ranges of
intensities (noise, brightness, adversarial eps) are fractions of the data range, so the same config works
for data in [0, 1] and in [0, 255]; translations and blur lengths are fractions of the image size or pixels
as each field says.
"""

from __future__ import annotations

import attrs

from armour_core.api.mutator import MutatorConfig, range_field
from armour_core.api.validators import int_field

_BORDERS = ("constant", "edge", "reflect")


# ============================================================================ pixel / natural mutators
@attrs.frozen(kw_only=True)
class GaussianBlurConfig(MutatorConfig):
    """``sigma``: range of the blur's standard deviation, in pixels."""

    sigma: tuple[float, float] = range_field((0.3, 1.5), low=0.0, high=10.0)


@attrs.frozen(kw_only=True)
class ContrastConfig(MutatorConfig):
    """``alpha``: contrast factor about each image's mean; ``beta``: brightness shift (fraction of range)."""

    alpha: tuple[float, float] = range_field((0.7, 1.3), low=0.0, high=5.0)
    beta: tuple[float, float] = range_field((-0.1, 0.1), low=-1.0, high=1.0)


def _turn_field():
    """A range of angles in degrees, by default the full turn (any direction)."""
    return range_field((0.0, 360.0), low=-360.0, high=720.0)


@attrs.frozen(kw_only=True)
class _RampConfig(MutatorConfig):
    """A change that ramps linearly across the image along ``angle`` (degrees), from none at one edge."""

    angle: tuple[float, float] = _turn_field()


@attrs.frozen(kw_only=True)
class GradientLuminanceConfig(_RampConfig):
    """A linear luminance ramp: ``strength`` is the brightness change from one edge to the other (fraction of
    range, negative darkens)."""

    strength: tuple[float, float] = range_field((-0.3, 0.3), low=-1.0, high=1.0)


@attrs.frozen(kw_only=True)
class MotionBlurConfig(MutatorConfig):
    """Linear motion blur: ``length`` of the streak in pixels, ``angle`` of motion in degrees; ``taps``:
    samples along the streak (more is smoother)."""

    length: tuple[float, float] = range_field((1.0, 5.0), low=0.0, high=64.0)
    angle: tuple[float, float] = range_field((0.0, 180.0), low=-360.0, high=360.0)
    taps: int = int_field(9, low=2)


@attrs.frozen(kw_only=True)
class GradientBlurConfig(_RampConfig):
    """Blur whose strength ramps from zero at one edge to Gaussian ``sigma`` at the other."""

    sigma: tuple[float, float] = range_field((0.5, 2.0), low=0.0, high=10.0)


@attrs.frozen(kw_only=True)
class UniformNoiseConfig(MutatorConfig):
    """Additive noise uniform on ``[-amplitude, amplitude]`` (fraction of range), independent per element."""

    amplitude: tuple[float, float] = range_field((0.0, 0.1), low=0.0, high=1.0)


@attrs.frozen(kw_only=True)
class GaussianNoiseConfig(MutatorConfig):
    """Additive Gaussian noise with standard deviation ``sigma`` (fraction of range)."""

    sigma: tuple[float, float] = range_field((0.0, 0.08), low=0.0, high=1.0)


@attrs.frozen(kw_only=True)
class SaltAndPepperConfig(MutatorConfig):
    """A fraction ``density`` of pixels set to the lower or upper bound (half each; all channels of a pixel)."""

    density: tuple[float, float] = range_field((0.0, 0.05), low=0.0, high=1.0)


@attrs.frozen(kw_only=True)
class NaturalNoiseConfig(MutatorConfig):
    """Dust and specks: spots seeded with probability ``density`` per pixel, grown to ``size`` pixels wide and
    shifted in brightness by ``intensity`` (fraction of range; negative darkens)."""

    density: tuple[float, float] = range_field((0.002, 0.02), low=0.0, high=1.0)
    size: tuple[float, float] = range_field((1.0, 3.0), low=1.0, high=9.0)
    intensity: tuple[float, float] = range_field((-0.6, 0.6), low=-1.0, high=1.0)


# ============================================================================ affine mutators
def _border_field():
    return attrs.field(default="constant", validator=attrs.validators.in_(_BORDERS))


@attrs.frozen(kw_only=True)
class _AffineConfig(MutatorConfig):
    """``border``: how pixels that come from outside the image are filled — ``constant`` (the lower bound,
    i.e. black background), ``edge`` (nearest edge pixel) or ``reflect``."""

    border: str = _border_field()


@attrs.frozen(kw_only=True)
class TranslateConfig(_AffineConfig):
    """Shift by ``dx`` and ``dy`` (fractions of the width and height; positive moves right and down)."""

    dx: tuple[float, float] = range_field((-0.1, 0.1), low=-1.0, high=1.0)
    dy: tuple[float, float] = range_field((-0.1, 0.1), low=-1.0, high=1.0)


@attrs.frozen(kw_only=True)
class ScaleConfig(_AffineConfig):
    """Isotropic zoom by ``factor`` about the image centre (> 1 enlarges)."""

    factor: tuple[float, float] = range_field((0.8, 1.2), low=0.05, high=20.0)


@attrs.frozen(kw_only=True)
class ShearConfig(_AffineConfig):
    """Shear about the image centre: ``x`` shifts columns by ``x * (row - centre)``, ``y`` likewise rows."""

    x: tuple[float, float] = range_field((-0.2, 0.2), low=-2.0, high=2.0)
    y: tuple[float, float] = range_field((0.0, 0.0), low=-2.0, high=2.0)


@attrs.frozen(kw_only=True)
class RotateConfig(_AffineConfig):
    """Rotation by ``degrees`` about the image centre (positive is counter-clockwise), with no zoom."""

    degrees: tuple[float, float] = range_field((-15.0, 15.0), low=-360.0, high=360.0)


@attrs.frozen(kw_only=True)
class PerspectiveConfig(_AffineConfig):
    """Projective warp: each corner moves by up to ``distortion`` (fraction of the size) in a random direction."""

    distortion: tuple[float, float] = range_field((0.0, 0.1), low=0.0, high=0.45)


@attrs.frozen(kw_only=True)
class CurveConfig(_AffineConfig):
    """Sinusoidal bend: columns shift by ``amplitude * width * sin(2π periods * row / height + phase)``."""

    amplitude: tuple[float, float] = range_field((0.0, 0.05), low=0.0, high=0.5)
    periods: tuple[float, float] = range_field((0.5, 2.0), low=0.0, high=10.0)
    phase: tuple[float, float] = _turn_field()


# ============================================================================ adversarial mutator
def _check_attack_config(inst, attribute, value):
    if not isinstance(value, dict):
        raise ValueError(f"attack_config must be a dict of the attack's hyperparameters, got {type(value).__name__}")
    for key in ("eps", "seed"):
        if key in value:
            raise ValueError(f"attack_config: {key!r} is set by the mutator (use its 'eps' range / 'seed')")


@attrs.frozen(kw_only=True)
class AdversarialConfig(MutatorConfig):
    """An attack from the registry used as a mutator.

    ``attack``: name of an attack whose record says ``AttackSpec(fuzzing=True)``. ``eps``: range of the
    attack's budget as a fraction of the data range; one of ``levels`` evenly spaced values in it is drawn
    per input and the attack runs once per distinct value. ``attack_config``: further hyperparameters of the
    attack (e.g. ``{"steps": 10}``).
    """

    attack: str = "fgsm"
    eps: tuple[float, float] = range_field((0.02, 0.1), low=0.0, high=1.0)
    levels: int = int_field(4)
    attack_config: dict = attrs.field(factory=dict, converter=dict, validator=_check_attack_config)
