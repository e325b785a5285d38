"""Stateful detection of query-based black-box attacks (Chen, Carlini & Wagner, "Stateful Detection of
Black-Box Adversarial Attacks", 2019).

A query-based attack sends many near-identical queries. The detector keeps a history buffer of the
encodings of recent queries; a new query is flagged when the mean distance to its ``k`` nearest
neighbours in the buffer is below a threshold. The score is the negative of that mean distance (higher
is more suspicious). The threshold is set on benign data so that a fraction ``fpr`` of benign inputs
would be flagged against the rest of the benign set (the paper uses 0.1%).

The encoder maps inputs to the space distances are measured in: the raw inputs scaled to [0, 1] by
default, the classifier's logits with ``encoder="logits"``, or any callable ``encoder(x) -> (N, F)``
(e.g. the paper's contrastively trained similarity encoder).

The detector is stateful: ``score``/``detect`` process the queries in order, each compared with the
buffer and with the earlier queries of the same call; ``reset()`` empties the history. With
``clear_on_detection`` the buffer is emptied after each detection, as in the paper, so
``detections`` counts how many times an attack was caught. While the buffer holds fewer than ``k``
queries, missing neighbours count as far away, so a short history never makes a query look closer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from armour_core.api.detector import Detector

from armour_core.api.batching import padded_logits
from .configs import SimilarityConfig
from .records import RECORDS


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows of ``a`` and rows of ``b``."""
    sq = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


class Similarity(Detector):
    """k-NN distance of each query to the recent query history (stateful)."""

    Config = SimilarityConfig
    record = RECORDS["similarity"]

    def __init__(self, *, model: Any = None, bounds: tuple[float, float] | None = None,
                 encoder: str | Callable[[np.ndarray], np.ndarray] | None = None, **config: Any):
        super().__init__(model=model, bounds=bounds, **config)
        if encoder == "logits" and self.model is None:
            raise ValueError("encoder='logits' needs model=")
        if encoder is not None and encoder != "logits" and not callable(encoder):
            raise TypeError(f"encoder: expected None, 'logits' or a callable, got {encoder!r}")
        self.encoder = encoder
        self._far = 1.0
        self.reset()

    def reset(self) -> None:
        """Forget the query history and the detection counters."""
        self.history = np.zeros((0, 0))
        self.num_queries = 0
        self.detections: list[int] = []  #: indices (in the stream of scored queries) that were flagged

    def encode(self, x: np.ndarray) -> np.ndarray:
        if self.encoder is None:
            lo, hi = self.bounds
            return ((np.asarray(x, np.float64) - lo) / (hi - lo)).reshape(len(x), -1)
        if self.encoder == "logits":
            return padded_logits(self.model, x)
        out = np.asarray(self.encoder(x), dtype=np.float64)
        if out.ndim != 2 or out.shape[0] != len(x):
            raise ValueError(f"encoder: expected an (N, F) array for {len(x)} inputs, got shape {out.shape}")
        return out

    def _knn_mean(self, dist: np.ndarray) -> np.ndarray:
        """Mean of the k smallest distances per row, missing neighbours counted at the far distance."""
        k = self.config.k
        if dist.shape[1] >= k:
            return np.partition(dist, k - 1, axis=1)[:, :k].mean(axis=1)
        missing = k - dist.shape[1]
        return (dist.sum(axis=1) + missing * self._far) / k

    def _calibration_scores(self, x: np.ndarray) -> np.ndarray:
        f = self.encode(x)
        dist = _pairwise(f, f)
        self._far = float(dist.max()) * 2.0 + 1e-12
        np.fill_diagonal(dist, np.inf)
        dist = np.sort(dist, axis=1)[:, :-1]  # drop the self-distance (moved last by the sort)
        return -self._knn_mean(dist)

    def _score(self, x: np.ndarray) -> np.ndarray:
        cfg = self.config
        f = self.encode(x)
        n = len(f)
        hist = self.history if self.history.size else np.zeros((0, f.shape[1]))
        to_hist = _pairwise(f, hist) if len(hist) else np.zeros((n, 0))
        to_batch = _pairwise(f, f)
        out = np.empty(n)
        hist_from = 0  # history rows still valid (a clear drops them all)
        batch_from = 0  # batch queries still in the buffer
        for i in range(n):
            d = np.concatenate([to_hist[i, hist_from:] if hist_from < len(hist) else np.zeros(0),
                                to_batch[i, batch_from:i]])
            d = d[-cfg.buffer_size:]
            out[i] = -self._knn_mean(d[None, :])[0]
            if out[i] > self.threshold:
                self.detections.append(self.num_queries + i)
                if cfg.clear_on_detection:
                    hist_from, batch_from = len(hist), i + 1
        kept = np.concatenate([hist[hist_from:], f[batch_from:]]) if len(hist) else f[batch_from:]
        self.history = kept[-cfg.buffer_size:]
        self.num_queries += n
        return out
