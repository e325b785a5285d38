"""Threshold attacks on one statistic of the target's output: the loss (Yeom et al. 2018) and the
(modified) prediction entropy (Song & Mittal 2021). They need no shadow models; they are the baselines a
stronger attack must beat."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from armour_core.api.inference import MembershipInference, log_softmax, true_class_loss

from .configs import EntropyConfig, LossThresholdConfig


def _best_threshold(sm: np.ndarray, sn: np.ndarray) -> float:
    """The threshold t maximising the balanced accuracy of "member iff score >= t"."""
    s = np.concatenate([sm, sn])
    cand = np.unique(s)
    tpr = 1.0 - np.searchsorted(np.sort(sm), cand, side="left") / sm.size
    fpr = 1.0 - np.searchsorted(np.sort(sn), cand, side="left") / sn.size
    return float(cand[int(np.argmax(tpr - fpr))])


class LossThreshold(MembershipInference):
    """Score = -loss. ``fit`` sets Yeom's decision rule: member iff the loss is below the members' mean."""

    Config: ClassVar[type] = LossThresholdConfig
    registry_name = "loss_threshold"

    def _fit(self, xm, ym, xn, yn) -> None:
        self.decision_threshold = float(np.mean(self._score(xm, ym)))

    def _score(self, x, y):
        return -true_class_loss(self.model.logits(x), y)


def modified_entropy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Song & Mittal's Mentr(p, y) = -(1-p_y) log p_y - sum_{i!=y} p_i log(1-p_i), from logits, stably.

    Low for confident correct predictions, high for confident wrong ones (unlike plain entropy)."""
    lp = log_softmax(z)
    p = np.exp(lp)
    idx = np.arange(len(y))
    log1m = np.log1p(-np.minimum(p, 1.0 - 1e-16))  # log(1 - p_i)
    # exact log(1 - p_i) when p_i is near 1: log(sum_{j != i} p_j)
    near_one = p > 0.5
    if np.any(near_one):
        r, c = np.nonzero(near_one)
        others = lp[r].copy()
        others[np.arange(len(r)), c] = -np.inf
        m = others.max(axis=1)
        log1m[r, c] = m + np.log(np.exp(others - m[:, None]).sum(axis=1))
    lpy, l1py = lp[idx, y], log1m[idx, y]
    terms = -p * log1m
    total = terms.sum(axis=1) - terms[idx, y]
    return -np.exp(l1py) * lpy + total


def shannon_entropy(z: np.ndarray) -> np.ndarray:
    lp = log_softmax(z)
    return -(np.exp(lp) * lp).sum(axis=1)


class Entropy(MembershipInference):
    """Score = -entropy (modified entropy by default). With ``class_thresholds``, ``fit`` learns Song &
    Mittal's per-class thresholds t_c and the score becomes t_y - Mentr, so "score >= 0" is their rule
    and scores stay comparable across classes."""

    Config: ClassVar[type] = EntropyConfig
    registry_name = "entropy"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._shift: np.ndarray | None = None

    def _raw(self, x, y):
        z = self.model.logits(x)
        return -(modified_entropy(z, y) if self.config.modified else shannon_entropy(z))

    def _fit(self, xm, ym, xn, yn) -> None:
        sm, sn = self._raw(xm, ym), self._raw(xn, yn)
        overall = _best_threshold(sm, sn)
        shift = np.full(self.model.num_classes, -overall)
        if self.config.class_thresholds:
            for c in range(self.model.num_classes):
                a, b = sm[ym == c], sn[yn == c]
                if a.size and b.size:
                    shift[c] = -_best_threshold(a, b)
        self._shift = shift
        self.decision_threshold = 0.0

    def _score(self, x, y):
        s = self._raw(x, y)
        return s if self._shift is None else s + self._shift[y]
