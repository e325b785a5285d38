"""Noise mechanisms for differentially private training."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .base import Algorithm, make_config, seed_field
from .validators import positive_field


@attrs.frozen(kw_only=True)
class NoiseConfig:
    """``noise_multiplier`` σ: noise std is σ·``clip_norm`` (the sensitivity of the clipped sum)."""

    noise_multiplier: float = positive_field(1.0)
    clip_norm: float = positive_field(1.0)
    seed: int | None = seed_field()
    secure: bool = False  #: draw from the OS CSPRNG instead of the seeded generator


class NoiseMechanism(Algorithm, abc.ABC):
    """Base of every noise mechanism: ``stddev(step)`` and ``sample(shape, step)``.

    Mechanisms are scale families in the clip norm: ``sample(clip_norm=c)`` is distributed as
    ``c * sample(clip_norm=1)``. ``DPModel`` relies on it to draw the next step's noise ahead of time and
    scale it in the graph to the clip norm that step actually uses.
    """

    Config: ClassVar[type] = NoiseConfig
    adaptive: ClassVar[bool] = False

    def __init__(self, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self._gen: np.random.Generator | None = None

    def noise_multiplier_at(self, step: int) -> float:
        """σ at ``step`` (constant unless the mechanism is adaptive)."""
        return self._noise_multiplier_at(int(step))

    def stddev(self, step: int = 0, *, clip_norm: float | None = None) -> float:
        """Noise standard deviation at ``step``: σ(step) times the clip norm (the configured one unless
        ``clip_norm`` gives the current one, e.g. under adaptive clipping)."""
        c = self.config.clip_norm if clip_norm is None else float(clip_norm)
        return self.noise_multiplier_at(step) * c

    def generator(self) -> np.random.Generator:
        if self._gen is None:
            self._gen = self._make_generator()
        return self._gen

    def _make_generator(self, *stream: int) -> np.random.Generator:
        if self.config.secure:
            from ..secure_random import secure_generator

            return secure_generator()
        return self.rng(*stream)

    def reseed(self, *stream: int) -> None:
        """Restart the generator on a stream derived from ``seed`` and ``stream``.

        DP training calls this once per session (``stream=(session,)``) so a resumed run never replays the
        noise of an earlier session — reused noise would void the privacy guarantee.
        """
        self._gen = self._make_generator(*stream)

    def sample(self, shape: tuple[int, ...] | int, step: int = 0, *, clip_norm: float | None = None,
               dtype: Any = np.float64) -> np.ndarray:
        """Noise of ``shape`` for ``step`` (std :meth:`stddev`; ``dtype`` float64 or float32)."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float64, np.float32):
            raise InvalidInputError(f"dtype: expected float32 or float64, got {dtype}")
        std = self.stddev(int(step), clip_norm=clip_norm)
        if not np.isfinite(std) or std <= 0:
            raise InvalidInputError(f"clip_norm: the noise std must be > 0, got {std!r}")
        return self._sample(tuple(np.atleast_1d(shape).tolist()), int(step), std, dtype)

    def _noise_multiplier_at(self, step: int) -> float:
        return float(self.config.noise_multiplier)

    @abc.abstractmethod
    def _sample(self, shape: tuple[int, ...], step: int, std: float, dtype: np.dtype) -> np.ndarray:
        """Draw noise of standard deviation ``std``."""
