"""LiRA, the likelihood-ratio attack of Carlini et al. (2022), "Membership Inference Attacks From First
Principles".

For each target example the attack models the target's logit-scaled confidence
phi = log(p_y / (1 - p_y)) under two hypotheses with Gaussians fitted per example over shadow models:
trained with the example (IN) and without it (OUT). Online: the score is the log-likelihood ratio
log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2). Offline (no shadow ever sees the targets): a
one-sided test, score = log P[Z <= phi] with Z ~ N(mu_out, s_out^2).

Shadows train on random subsets of a pool: the attacker's population (given to ``fit``; LiRA ignores the
membership labels there) plus, online, the queried examples themselves, with a balanced design so every
query is IN for exactly ``keep_fraction`` of the shadows.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from armour_core.api.inference import logit_confidence
from armour_core.errors import InvalidInputError

from .configs import LiRAConfig
from .reference import ShadowAttack


def _masked_stats(phi: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and unbiased variance of ``phi`` (shadows, views, n) over the shadows where ``mask``
    (shadows, n) holds: shapes (n,), (views, n), (views, n)."""
    m = mask[:, None, :]
    n = mask.sum(axis=0)
    mu = np.where(m, phi, 0.0).sum(axis=0) / np.maximum(n, 1)
    ss = np.where(m, (phi - mu) ** 2, 0.0).sum(axis=0)
    return n, mu, ss / np.maximum(n - 1, 1)


def _pooled_variance(n: np.ndarray, var: np.ndarray) -> np.ndarray:
    """One variance per view for all examples: within-example sums of squares pooled over examples."""
    dof = np.maximum(n - 1, 0)
    total = dof.sum()
    pooled = (var * dof).sum(axis=-1) / total if total else np.zeros(var.shape[0])
    return np.broadcast_to(pooled[:, None], var.shape).copy()


def query_views(x: np.ndarray, augment: bool, fill: float) -> list[np.ndarray]:
    """The queried inputs, plus (``augment``) four one-pixel shifts of each image, filled with ``fill``
    (Carlini et al.'s multiple queries: the training-time invariances of the model)."""
    if not augment:
        return [x]
    if x.ndim != 4:
        raise InvalidInputError(f"augment=True: shifted queries need image batches (N, C, H, W), got shape {x.shape}")
    views = [x]
    for axis, step in ((2, 1), (2, -1), (3, 1), (3, -1)):
        v = np.roll(x, step, axis=axis)
        edge = [slice(None)] * 4
        edge[axis] = slice(0, 1) if step > 0 else slice(-1, None)
        v[tuple(edge)] = fill
        views.append(v)
    return views


def _log_normal_pdf(x, mu, var):
    return -0.5 * (np.log(2 * np.pi * var) + (x - mu) ** 2 / var)


class LiRA(ShadowAttack):
    """Likelihood-ratio membership inference with MindSpore shadow models (trained on an executor, cached).

    Args: see :class:`~armour_plugins_privacy.inference.reference.ShadowAttack` (``model``, ``network_fn``,
    ``executor``).
    """

    Config: ClassVar[type] = LiRAConfig
    registry_name = "lira"

    def __init__(self, *, model: Any, network_fn: Any = None, executor: Any = None, **config: Any):
        super().__init__(model=model, network_fn=network_fn, executor=executor, **config)
        self.stats_: dict[str, np.ndarray] = {}  #: per-example Gaussians of the last ``score`` call

    def shadow_confidences(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logit-scaled confidences of every shadow on each view of ``(x, y)``, (shadows, views, n), and
        the IN mask, (shadows, n)."""
        views = query_views(x, self.config.augment, self.model.bounds[0])
        ref = self.reference_outputs(x, y, views)
        phi = np.stack([np.stack([logit_confidence(z, y) for z in per_view]) for per_view in ref.logits], axis=1)
        return phi, ref.in_mask(x, y)

    # ------------------------------------------------------------------ scoring
    def _score(self, x, y):
        cfg = self.config
        target = np.stack([logit_confidence(self.model.logits(v), y)
                           for v in query_views(x, cfg.augment, self.model.bounds[0])])
        phi, in_mask = self.shadow_confidences(x, y)
        n_out, mu_out, var_out = _masked_stats(phi, ~in_mask)
        n_in, mu_in, var_in = _masked_stats(phi, in_mask)
        use_global = cfg.variance == "global" or (cfg.variance == "auto" and cfg.shadows < 64)
        if use_global:
            var_out = _pooled_variance(n_out, var_out)
            var_in = _pooled_variance(n_in, var_in)
        floor = 1e-8
        var_out = np.maximum(var_out, floor)
        var_in = np.maximum(var_in, floor)
        if np.any(n_out == 0):
            raise InvalidInputError("lira: some queried examples were in every shadow's training set; add "
                                    "population data or lower keep_fraction")
        from scipy.special import log_ndtr

        # views are combined by averaging their per-view statistics (Carlini et al.'s multi-query LiRA)
        offline = log_ndtr((target - mu_out) / np.sqrt(var_out)).mean(axis=0)
        if cfg.online:
            llr = (_log_normal_pdf(target, mu_in, var_in) - _log_normal_pdf(target, mu_out, var_out)).mean(axis=0)
            score = np.where(n_in > 0, llr, offline)
        else:
            score = offline
        self.stats_ = {"target": target, "mu_in": mu_in, "mu_out": mu_out, "var_in": var_in,
                       "var_out": var_out, "n_in": n_in, "n_out": n_out}
        return score
