"""Adversarial-training defenses: train a MindSpore network in place, reporting accuracy per epoch."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from .arrays import check_inputs, check_labels
from .base import Algorithm, make_config, seed_field
from .model import as_classifier


@attrs.frozen(kw_only=True)
class DefenseConfig:
    epochs: int = attrs.field(default=1, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)])
    batch_size: int = attrs.field(default=64, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)])
    learning_rate: float = attrs.field(default=0.01, validator=attrs.validators.gt(0.0))
    seed: int | None = seed_field()


@attrs.frozen(kw_only=True)
class EpochRecord:
    epoch: int
    loss: float
    clean_accuracy: float | None = None
    robust_accuracy: float | None = None


class Defense(Algorithm, abc.ABC):
    """Base of every defense. ``fit(x, y)`` trains ``network`` in place and returns the per-epoch history;
    with ``x_val``/``y_val`` each epoch also reports clean accuracy and, given ``eval_attack`` (an
    :class:`~armour_core.api.attack.Attack`), robust accuracy."""

    Config: ClassVar[type] = DefenseConfig

    def __init__(self, *, network: Any, bounds: tuple[float, float] = (0.0, 1.0), **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.model = as_classifier(network, bounds=tuple(bounds))
        self.history: list[EpochRecord] = []

    def fit(self, x: Any, y: Any, *, x_val: Any = None, y_val: Any = None, eval_attack: Any = None,
            progress: bool | None = None) -> list[EpochRecord]:
        xa = check_inputs(x, name="x", bounds=self.model.bounds, input_shape=self.model.input_shape)
        ya = check_labels(y, n=xa.shape[0], num_classes=self.model.num_classes)
        from ..progress import Progress

        with Progress(self.config.epochs, type(self).__name__, enabled=progress, unit="epochs") as bar:
            for epoch in range(self.config.epochs):
                loss = float(self._train_epoch(xa, ya, self.rng(epoch)))
                clean = robust = None
                if x_val is not None:
                    xv = check_inputs(x_val, name="x_val", bounds=self.model.bounds)
                    yv = check_labels(y_val, n=xv.shape[0], num_classes=self.model.num_classes, name="y_val")
                    clean = float(np.mean(self.model.predict(xv) == yv))
                    if eval_attack is not None:
                        res = eval_attack.generate(xv, yv)
                        robust = float(np.mean(res.predictions == yv))
                self.history.append(EpochRecord(epoch=epoch, loss=loss, clean_accuracy=clean,
                                                robust_accuracy=robust))
                bar.update(1, loss=f"{loss:.3f}")
        return self.history

    @abc.abstractmethod
    def _train_epoch(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
        """One epoch of (adversarial) training; returns the mean loss."""
