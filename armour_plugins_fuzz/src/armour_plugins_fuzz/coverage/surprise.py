"""Surprise adequacy (Kim, Feldt & Yoo, ICSE 2019) and surprise coverage.

The activation trace (AT) of an input is the vector of neuron values of the chosen layer(s) — by default
the last hidden layer — with a convolutional channel summarised by its spatial mean, as in the paper's code.

* LSA(x) = −log f̂(AT(x)), f̂ a Gaussian kernel density estimate over the training ATs (of x's predicted
  class, for classifiers). The KDE follows scipy's ``gaussian_kde``: the bandwidth matrix is the training
  covariance times Scott's factor n^(−1/(d+4)) squared; the log-density is computed with log-sum-exp, so
  far-away inputs get a large finite surprise instead of −log 0. Neurons whose training variance is below
  ``var_threshold`` are dropped first (as the paper's code does).
* DSA(x) = dist_a / dist_b: x_a is the training input of x's predicted class nearest to x (dist_a =
  ‖AT(x) − AT(x_a)‖); x_b is the training input of another class nearest to x_a, and dist_b = ‖AT(x) − AT(x_b)‖.

Surprise coverage cuts [lower, upper] into ``buckets`` equal parts and reports the fraction hit.
"""

from __future__ import annotations

import numpy as np
from armour_core.api.coverage import Activations, NeuronProfile
from armour_core.errors import InvalidInputError

from .configs import DSAConfig, LSAConfig
from .deepgauge import SetCoverage

_CHUNK = 512


class GaussianKDE:
    """Gaussian KDE with a full bandwidth matrix (``scipy.stats.gaussian_kde`` semantics) and a stable
    log-density. A singular covariance (fewer points than dimensions, collinear neurons) gets the smallest
    diagonal ridge that makes it positive definite."""

    def __init__(self, data: np.ndarray, bandwidth: float | None = None):
        from scipy.linalg import solve_triangular

        data = np.asarray(data, dtype=np.float64)
        n, d = data.shape
        if n < 2:
            raise InvalidInputError(f"a kernel density estimate needs at least 2 points, got {n}")
        factor = bandwidth if bandwidth is not None else n ** (-1.0 / (d + 4))
        cov = np.atleast_2d(np.cov(data, rowvar=False)) * factor ** 2
        self.ridge = 0.0
        scale = max(float(np.trace(cov)) / d, 1e-12)
        while True:
            try:
                chol = np.linalg.cholesky(cov + self.ridge * np.eye(d))
                break
            except np.linalg.LinAlgError:
                self.ridge = scale * 1e-8 if self.ridge == 0.0 else self.ridge * 10.0
        self._chol = chol
        self._white = solve_triangular(chol, data.T, lower=True).T
        self._sq = (self._white ** 2).sum(axis=1)
        self._log_norm = -np.log(n) - 0.5 * d * np.log(2 * np.pi) - np.log(np.diag(chol)).sum()

    def logpdf(self, points: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """Log-density at each point; ``exclude[i]`` leaves data point ``exclude[i]`` out of point i's sum
        (leave-one-out density of the training points themselves)."""
        from scipy.linalg import solve_triangular
        from scipy.special import logsumexp

        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        out = np.empty(points.shape[0])
        for s in range(0, points.shape[0], _CHUNK):
            w = solve_triangular(self._chol, points[s:s + _CHUNK].T, lower=True).T
            sq = np.maximum((w ** 2).sum(axis=1)[:, None] + self._sq[None, :] - 2.0 * w @ self._white.T, 0.0)
            if exclude is not None:
                sq[np.arange(sq.shape[0]), exclude[s:s + _CHUNK]] = np.inf
            n = self._sq.size - (0 if exclude is None else 1)
            out[s:s + _CHUNK] = logsumexp(-0.5 * sq, axis=1) + self._log_norm + np.log(self._sq.size / n)
        return out


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and ``b`` (float64)."""
    sq = (a ** 2).sum(axis=1)[:, None] + (b ** 2).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


class _SurpriseCoverage(SetCoverage):
    """Shared machinery: training traces from the profile, buckets over [lower, upper]."""

    needs_profile = True

    def _default_layers(self, available):
        # the last hidden layer: the paper uses one deep layer; the output layer is the last exposed one
        return [available[-2]] if len(available) >= 2 else list(available[-1:])

    def _traces(self, acts: Activations) -> np.ndarray:
        return np.concatenate([np.asarray(acts[n], dtype=np.float64) for n in self.layers], axis=1)

    def _training(self, profile: NeuronProfile) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([profile.traces[n].astype(np.float64) for n in self.layers], axis=1)
        c = np.asarray(profile.classes, dtype=np.int64)
        cap = self.config.max_train
        if cap is not None and x.shape[0] > cap:
            keep = np.sort(np.random.default_rng(self.config.seed).choice(x.shape[0], cap, replace=False))
            x, c = x[keep], c[keep]
        return x, c

    def _fit(self, profile):
        self._prepare_reference(profile)
        lo, hi = self.config.lower, self.config.upper
        if lo is None or hi is None:
            train_sa = self._training_surprise()
            finite = train_sa[np.isfinite(train_sa)]
            if lo is None:
                lo = min(0.0, float(finite.min())) if finite.size else 0.0
            if hi is None:
                hi = float(finite.max()) if finite.size else lo + 1.0
                if not hi > lo:
                    hi = lo + 1.0
        if not hi > lo:
            raise InvalidInputError(f"upper={hi} must exceed lower={lo}")
        self.lower, self.upper = float(lo), float(hi)

    def surprise(self, x) -> np.ndarray:
        """Surprise adequacy of each input of ``x``."""
        self._require_fit()
        return self._surprise(self.capture(x))

    def surprise_activations(self, acts, *, logits=None) -> np.ndarray:
        """Surprise adequacy of inputs whose activations (and logits) were captured already."""
        return self._surprise(self._prepare(acts, logits))

    def _hits(self, acts: Activations):
        sa = self._surprise(acts)
        k = self.config.buckets
        span = self.upper - self.lower
        inside = np.isfinite(sa) & (sa >= self.lower) & (sa <= self.upper)
        idx = np.clip(np.floor((np.where(inside, sa, self.lower) - self.lower) / span * k), 0, k - 1).astype(int)
        rows = np.flatnonzero(inside)
        return {"buckets": (rows, idx[rows], k)}


class LikelihoodSurprise(_SurpriseCoverage):
    """LSA coverage: surprise adequacy from a kernel density estimate of the training activation traces."""

    Config = LSAConfig

    @property
    def needs_logits(self) -> bool:
        return bool(self.config.class_conditional)

    def _prepare_reference(self, profile):
        x, c = self._training(profile)
        thr = self.config.var_threshold
        low_var = x.var(axis=0) < thr
        if self.config.class_conditional:
            for cls in np.unique(c):
                if (c == cls).sum() >= 2:
                    low_var |= x[c == cls].var(axis=0) < thr
        self._cols = np.flatnonzero(~low_var)
        if self._cols.size == 0:
            raise InvalidInputError(f"layers {self.layers}: every neuron has training variance below "
                                    f"var_threshold={thr}; choose another layer or lower the threshold")
        x = x[:, self._cols]
        bw = self.config.bandwidth
        self._global = GaussianKDE(x, bw)
        self._kdes: dict[int, GaussianKDE] = {}
        if self.config.class_conditional:
            for cls in np.unique(c):
                if (c == cls).sum() >= 2:
                    self._kdes[int(cls)] = GaussianKDE(x[c == cls], bw)
        self._train_x, self._train_c = x, c

    def _lsa(self, ats: np.ndarray, classes: np.ndarray | None, loo: bool = False) -> np.ndarray:
        """LSA of each row; ``loo``: the rows are the training traces, each left out of its own density."""
        if classes is None:
            return -self._global.logpdf(ats, np.arange(ats.shape[0]) if loo else None)
        out = np.empty(ats.shape[0])
        for cls in np.unique(classes):
            rows = np.flatnonzero(classes == cls)
            kde = self._kdes.get(int(cls))
            exclude = np.arange(rows.size) if loo else None
            if kde is None:  # a class with fewer than 2 training traces: the density of all of them
                kde, exclude = self._global, (rows if loo else None)
            out[rows] = -kde.logpdf(ats[rows], exclude)
        return out

    def _training_surprise(self) -> np.ndarray:
        return self._lsa(self._train_x, self._train_c if self.config.class_conditional else None, loo=True)

    def _surprise(self, acts: Activations) -> np.ndarray:
        ats = self._traces(acts)[:, self._cols]
        classes = acts.logits.argmax(axis=1) if self.config.class_conditional else None
        return self._lsa(ats, classes)


class DistanceSurprise(_SurpriseCoverage):
    """DSA coverage: surprise adequacy from distances to the nearest same-class and other-class training
    traces."""

    Config = DSAConfig
    needs_logits = True

    def _prepare_reference(self, profile):
        x, c = self._training(profile)
        if np.unique(c).size < 2:
            raise InvalidInputError("DSA needs training inputs of at least two classes")
        self._train_x, self._train_c = x, c
        # for every training trace, its nearest training trace of another class (x_b depends only on x_a)
        nb = np.empty(x.shape[0], dtype=np.int64)
        for s in range(0, x.shape[0], _CHUNK):
            d = pairwise_distances(x[s:s + _CHUNK], x)
            d[c[s:s + _CHUNK, None] == c[None, :]] = np.inf
            nb[s:s + _CHUNK] = d.argmin(axis=1)
        self._other = nb

    def _dsa(self, ats: np.ndarray, classes: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """``exclude``: per query, a training index to leave out (the query itself, for training inputs)."""
        x, c = self._train_x, self._train_c
        out = np.full(ats.shape[0], np.inf)
        for cls in np.unique(classes):
            rows = np.flatnonzero(classes == cls)
            members = np.flatnonzero(c == cls)
            if members.size == 0:
                continue  # no training input of that class: infinitely surprising (outside every bucket)
            for s in range(0, rows.size, _CHUNK):
                r = rows[s:s + _CHUNK]
                d = pairwise_distances(ats[r], x[members])
                if exclude is not None:
                    d[exclude[r][:, None] == members[None, :]] = np.inf
                best = d.argmin(axis=1)
                dist_a = d[np.arange(r.size), best]
                xb = x[self._other[members[best]]]
                dist_b = np.sqrt(((ats[r] - xb) ** 2).sum(axis=1))
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[r] = np.where(dist_b > 0, dist_a / np.where(dist_b > 0, dist_b, 1.0), np.inf)
        return out

    def _training_surprise(self) -> np.ndarray:
        return self._dsa(self._train_x, self._train_c, exclude=np.arange(self._train_x.shape[0]))

    def _surprise(self, acts: Activations) -> np.ndarray:
        return self._dsa(self._traces(acts), acts.logits.argmax(axis=1))
