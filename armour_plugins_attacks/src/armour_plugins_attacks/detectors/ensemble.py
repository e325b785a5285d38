"""An ensemble of detectors that combines its members' decisions per sample.

The ensemble flags a sample when ``any`` member flags it, when ``all`` do, or when a strict majority
``vote``s for it. By default ``fit`` re-calibrates every member's threshold so that the ensemble as a
whole flags at most a fraction ``fpr`` of the clean calibration data (a union bound for ``any``, a
counting bound for ``vote``); with ``calibrate_members=False`` members keep their own thresholds.

Its score is the number of members that flag the sample, and the threshold follows from the rule (0.5
for any, M - 0.5 for all, M / 2 for vote with M members), so ``detect`` is ``score > threshold`` like
every detector. MindArmour used the members' 0/1 outputs as indices instead of combining them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from armour_core import registry
from armour_core.api.detector import Detector
from armour_core.errors import InvalidInputError

from .configs import EnsembleConfig
from .records import RECORDS


class Ensemble(Detector):
    """Combine member detectors' per-sample decisions (any / all / vote)."""

    Config = EnsembleConfig
    record = RECORDS["ensemble"]

    def __init__(self, *, members: Sequence[Any], model: Any = None, bounds: tuple[float, float] | None = None,
                 **config: Any):
        super().__init__(model=model, bounds=bounds, **config)
        if isinstance(members, (str, Detector)) or len(members) == 0:
            raise InvalidInputError("members: expected a non-empty list of detectors, names or (name, config) pairs")
        built = []
        for m in members:
            if isinstance(m, Detector):
                built.append(m)
            elif isinstance(m, str):
                built.append(registry.create("detector", m, model=model, **({} if model else {"bounds": bounds})))
            elif isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str) and isinstance(m[1], dict):
                built.append(registry.create("detector", m[0], model=model, **m[1]))
            else:
                raise InvalidInputError(f"members: cannot build a detector from {m!r}")
        self.members = built
        if model is None and bounds is None:
            self.bounds = built[0].bounds

    def member_fpr(self) -> float:
        """The per-member false-positive rate that keeps the ensemble's at most ``fpr``."""
        m, fpr = len(self.members), self.config.fpr
        return {"any": fpr / m, "all": fpr, "vote": fpr * (m // 2 + 1) / m}[self.config.rule]

    def fit(self, x: Any, y: Any = None, *, x_calibration: Any = None) -> Ensemble:
        """Fit every member that has no threshold yet (fitted members keep their own models), then, with
        ``calibrate_members``, set their thresholds for :meth:`member_fpr` on the calibration data."""
        for m in self.members:
            if m.threshold is None:
                m.fit(x, y, x_calibration=x_calibration)
            if self.config.calibrate_members:
                m.calibrate(x if x_calibration is None else x_calibration, fpr=self.member_fpr())
        return super().fit(x, y, x_calibration=x_calibration)

    def member_decisions(self, x: Any) -> np.ndarray:
        """(N, M) boolean: each member's decision per sample."""
        return np.stack([m.detect(x) for m in self.members], axis=1)

    def _score(self, x: np.ndarray) -> np.ndarray:
        return self.member_decisions(x).sum(axis=1).astype(np.float64)

    def _calibration_scores(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x))  # the threshold follows from the rule, not from clean scores

    def _threshold(self, clean_scores: np.ndarray) -> float:
        m = len(self.members)
        return {"any": 0.5, "all": m - 0.5, "vote": m / 2.0}[self.config.rule]
