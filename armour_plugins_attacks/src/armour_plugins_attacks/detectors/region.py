"""Region-based detection (Cao & Gong, ACSAC 2017).

Cao & Gong classify an input by the majority label over points drawn uniformly from the hyper-cube of
half-width ``r`` around it: adversarial examples sit close to a decision boundary, so most of their
neighbourhood still carries the true label, while clean inputs sit deep inside their class region. As a
detector, the score is the fraction of the hyper-cube whose label differs from the point prediction;
:meth:`RegionBased.predict` returns the region-vote label (their robust classifier).

Every element of every sampled point gets its own independent offset ``U(-r, r)`` (MindArmour drew one
offset per sample and added it to all elements, which samples a diagonal line, not the cube). Points
are clipped to the bounds. With ``radius=None``, ``fit(x, y)`` picks the largest radius whose region
classifier is as accurate on ``(x, y)`` as the point classifier (the paper's rule), by bisection.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.detector import Detector

from armour_core.api.batching import MAX_CALL_ELEMENTS, padded_logits
from .configs import RegionBasedConfig
from .records import RECORDS


class RegionBased(Detector):
    """Hyper-cube region voting around each input (needs a model)."""

    Config = RegionBasedConfig
    record = RECORDS["region_based"]

    def _offsets(self, rng: np.random.Generator, n: int, shape: tuple[int, ...], radius: float) -> np.ndarray:
        """One independent U(-radius, radius) offset per element of each of the ``n * samples`` points."""
        return rng.uniform(-radius, radius, size=(n, self.config.samples, *shape))

    def region_votes(self, x: np.ndarray, radius: float | None = None) -> np.ndarray:
        """(N, num_classes) label counts over ``samples`` hyper-cube points per input (deterministic for a
        given batch: the offsets come from the detector's seed)."""
        r = self.radius if radius is None else radius
        x = np.asarray(x, dtype=np.float32)
        n, shape = len(x), x.shape[1:]
        m = self.config.samples
        k = self.model.num_classes
        lo, hi = self.bounds
        rng = self.rng(1)
        counts = np.zeros((n, k), dtype=np.int64)
        per = max(1, MAX_CALL_ELEMENTS // max(1, m * int(np.prod(shape))))
        for start in range(0, n, per):
            part = x[start:start + per]
            pts = np.clip(part[:, None].astype(np.float64) + self._offsets(rng, len(part), shape, r), lo, hi)
            labels = padded_logits(self.model, pts.reshape(-1, *shape).astype(np.float32)).argmax(axis=1)
            labels = labels.reshape(len(part), m)
            counts[start:start + len(part)] = (labels[:, :, None] == np.arange(k)).sum(axis=1)
        return counts

    def predict(self, x) -> np.ndarray:
        """Cao & Gong's region-based classification: the majority label over the hyper-cube."""
        self._require_fit()
        return self.region_votes(self._x(x)).argmax(axis=1)

    def _fit(self, x: np.ndarray, y: np.ndarray | None) -> None:
        cfg = self.config
        if cfg.radius is not None:
            self.radius = float(cfg.radius)
            return
        if len(x) > cfg.search_inputs:
            pick = self.rng(2).choice(len(x), cfg.search_inputs, replace=False)
            x, y = x[pick], None if y is None else y[pick]
        point = padded_logits(self.model, x).argmax(axis=1)
        labels = point if y is None else y
        goal = np.mean(point == labels) - cfg.tolerance
        low, high = 0.0, float(cfg.max_radius)
        for _ in range(cfg.search_steps):
            mid = (low + high) / 2.0
            if np.mean(self.region_votes(x, mid).argmax(axis=1) == labels) >= goal:
                low = mid
            else:
                high = mid
        self.radius = low if low > 0 else high / 2.0

    def _score(self, x: np.ndarray) -> np.ndarray:
        point = padded_logits(self.model, x).argmax(axis=1)
        votes = self.region_votes(x)
        return 1.0 - votes[np.arange(len(x)), point] / self.config.samples
