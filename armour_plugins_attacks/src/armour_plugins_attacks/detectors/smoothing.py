"""Spatial-smoothing detection: a median filter removes much adversarial noise but barely changes a
clean prediction, so a large change of the predicted probabilities flags an input.

The filter runs on each sample on its own (and each channel of an image on its own) — never across
the batch axis, which would mix neighbouring samples. ``transform`` returns the smoothed inputs.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.detector import Detector

from ._common import l1_distance, median_smooth, probabilities
from .configs import SpatialSmoothingConfig
from .records import RECORDS


class SpatialSmoothing(Detector):
    """Score: L1 distance between the model's probabilities on x and on median-filtered x."""

    Config = SpatialSmoothingConfig
    record = RECORDS["spatial_smoothing"]
    has_transform = True

    def _score(self, x: np.ndarray) -> np.ndarray:
        both = np.concatenate([x, median_smooth(x, self.config.window)])
        p = probabilities(self.model, both)
        return l1_distance(p[: len(x)], p[len(x):])

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return median_smooth(x, self.config.window)
