"""Randomized smoothing (Cohen, Rosenfeld & Kolter, ICML 2019, "Certified Adversarial Robustness via Randomized
Smoothing"), Algorithms PREDICT and CERTIFY.

The smoothed classifier ``g(x) = argmax_c P(f(x + ε) = c)``, ``ε ~ N(0, σ² I)``, is robust in L2: if the top
class has probability at least ``pA > 1/2``, ``g`` keeps it within radius ``σ Φ⁻¹(pA)`` (Theorem 1, binary
form). Both algorithms estimate class counts by Monte Carlo: the noisy copies of every input of the batch go
through the model together, ``batch_size`` rows per forward pass (no loop over inputs).

* PREDICT: ``n`` samples; the top two counts ``nA``, ``nB``; answer the top class when the two-sided binomial
  test of ``nA`` out of ``nA + nB`` against ½ rejects at ``alpha``, else abstain. The answer is wrong (differs
  from ``g(x)``) with probability at most ``alpha`` (Proposition 1).
* CERTIFY: ``n0`` samples pick the top class ``cA``; ``n`` fresh samples count it; ``pA`` is the one-sided
  Clopper–Pearson lower bound at level ``1 - alpha``; abstain when ``pA ≤ ½``, else the radius ``σ Φ⁻¹(pA)``.
  With probability at least ``1 - alpha`` over the sampling, ``g`` returns ``cA`` everywhere within it
  (Proposition 2).
"""

from __future__ import annotations

import numpy as np
from armour_core.api.batching import padded_logits
from armour_core.progress import Progress
from scipy import stats

from .base import ABSTAIN, Certifier
from .configs import SmoothingConfig

#: random streams of one call (independent selection and estimation samples, as the paper requires)
_SELECT, _ESTIMATE, _PREDICT = 0, 1, 2


def sample_counts(model, x: np.ndarray, num: int, sigma: float, batch_size: int, rng: np.random.Generator,
                  bar: Progress | None = None) -> np.ndarray:
    """``(len(x), classes)`` counts of the model's predictions on ``num`` Gaussian-noised copies of each input.

    The ``len(x) * num`` noisy rows are laid out input-major and sent ``batch_size`` at a time; each chunk is
    drawn as one array and counted with one ``bincount``."""
    b, k = len(x), model.num_classes_for(x[:1])
    counts = np.zeros(b * k, dtype=np.int64)
    total = b * num
    for start in range(0, total, batch_size):
        rows = np.arange(start, min(start + batch_size, total)) // num  # which input each noisy row copies
        noisy = x[rows] + np.float32(sigma) * rng.standard_normal((len(rows), *x.shape[1:]), dtype=np.float32)
        pred = padded_logits(model, noisy, chunk=batch_size).argmax(axis=1)
        counts += np.bincount(rows * k + pred, minlength=b * k)
        if bar is not None:
            bar.update(len(rows))
    return counts.reshape(b, k)


def binomial_p_values(n_a: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """Two-sided p-values of ``n_a`` successes in ``n_a + n_b`` trials against ½ (``scipy.stats.binomtest``'s,
    vectorised: the null is symmetric, so the two tails are equal)."""
    lo = np.minimum(n_a, n_b)
    return np.minimum(1.0, 2.0 * stats.binom.cdf(lo, n_a + n_b, 0.5))


def clopper_pearson_lower(successes: np.ndarray, trials: int, alpha: float) -> np.ndarray:
    """The one-sided ``1 - alpha`` Clopper–Pearson lower confidence bound on a binomial proportion (0 when
    there is no success)."""
    s = np.asarray(successes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        lower = stats.beta.ppf(alpha, s, trials - s + 1)
    return np.where(s > 0, lower, 0.0)


def top_two(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(class, count, runner-up count)`` per row; ties go to the lower class index (as ``argmax``)."""
    order = np.argsort(-counts, axis=1, kind="stable")
    rows = np.arange(len(counts))
    return order[:, 0], counts[rows, order[:, 0]], counts[rows, order[:, 1]]


class RandomizedSmoothing(Certifier):
    """Gaussian randomized smoothing of any classifier (certified L2 radius); see the module docstring."""

    Config = SmoothingConfig
    norm = "l2"

    def _counts(self, x: np.ndarray, num: int, stream: int, bar: Progress) -> np.ndarray:
        c = self.config
        return sample_counts(self.model, x, num, c.sigma, c.batch_size, self.rng(stream), bar)

    def _predict(self, x, progress):
        c = self.config
        with Progress(len(x) * c.n, "smoothing predict", enabled=progress, unit="samples") as bar:
            counts = self._counts(x, c.n, _PREDICT, bar)
        label, n_a, n_b = top_two(counts)
        p = binomial_p_values(n_a, n_b)
        return np.where(p <= c.alpha, label, ABSTAIN), p

    def _certify(self, x, progress):
        c = self.config
        with Progress(len(x) * (c.n0 + c.n), "smoothing certify", enabled=progress, unit="samples") as bar:
            selected = self._counts(x, c.n0, _SELECT, bar).argmax(axis=1)
            counts = self._counts(x, c.n, _ESTIMATE, bar)
        p_lower = clopper_pearson_lower(counts[np.arange(len(x)), selected], c.n, c.alpha)
        certified = p_lower > 0.5
        radii = np.where(certified, c.sigma * stats.norm.ppf(np.where(certified, p_lower, 0.75)), 0.0)
        return np.where(certified, selected, ABSTAIN), radii, p_lower
