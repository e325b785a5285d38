"""The dataset record that ``dataset`` plugins return."""

from __future__ import annotations

import attrs
import numpy as np


@attrs.frozen(kw_only=True)
class Dataset:
    """A classification dataset split into train and test, inputs already scaled to ``bounds``.

    Inputs are float32 of shape ``(N, *input_shape)``; labels are int64 class indices.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    bounds: tuple[float, float] = (0.0, 1.0)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])
