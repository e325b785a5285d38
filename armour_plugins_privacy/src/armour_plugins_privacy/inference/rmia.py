"""RMIA, the relative membership-inference attack of Zarifzadeh, Liu, Mahloujifar & Shokri (ICML 2024),
"Low-Cost High-Power Membership Inference Attacks".

For a target x and a population point z (a non-member drawn from the same distribution), the pairwise
likelihood ratio is

    LR(x, z) = [Pr(x | theta) / Pr(x)] / [Pr(z | theta) / Pr(z)],

where Pr(x | theta) is the target model's softmax probability of x's label and Pr(x) = E_theta' Pr(x | theta')
its average over reference (shadow) models. The score of x is the fraction of population points it
dominates: Score(x) = Pr_z[LR(x, z) >= gamma]. Comparing x with many z calibrates the test for how hard x is
(through Pr(x)) and for how the target treats typical data (through the z), which is why RMIA stays strong
with one to four reference models where LiRA's per-example Gaussians need dozens.

Online (references trained with and without each target, balanced): Pr(x) is the mean over all references.
Offline (references never saw x): only OUT models are available, and the paper approximates
Pr_IN(x) = a Pr_OUT(x) + (1 - a), so Pr(x) = ((1 + a) Pr_OUT(x) + (1 - a)) / 2.

The score is computed without forming the (targets x population) matrix: LR(x, z) >= gamma iff
r(z) <= r(x) - log gamma with r = log Pr(. | theta) - log Pr(.), so each score is one binary search in the
sorted r(z) (O((n + m) log m) time, O(n + m) memory).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from armour_core.api.inference import log_softmax
from armour_core.errors import InvalidInputError

from .configs import RMIAConfig
from .reference import ShadowAttack


def label_log_prob(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """log Pr(x | theta): log-softmax of ``logits / temperature`` at the labels, over the last two axes
    (``logits`` (..., n, classes) -> (..., n))."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    flat = z.reshape(-1, z.shape[-1])
    lp = log_softmax(flat).reshape(z.shape)
    return np.take_along_axis(lp, np.broadcast_to(y[:, None], (*z.shape[:-1], 1)), axis=-1)[..., 0]


def log_marginal(ref_log_probs: np.ndarray, in_mask: np.ndarray, *, online: bool, a: float) -> np.ndarray:
    """log Pr(x) from the references' log Pr(x | theta'), (references, n).

    Online: log of the mean over every reference. Offline: log(((1 + a) Pr_OUT(x) + (1 - a)) / 2) with
    Pr_OUT(x) the mean over the references that did not train on x (NaN where there is none). Computed in
    the log domain, so tiny probabilities do not underflow.
    """
    from scipy.special import logsumexp

    lp = np.asarray(ref_log_probs, dtype=np.float64)
    if online:
        return logsumexp(lp, axis=0) - np.log(lp.shape[0])
    out = ~np.asarray(in_mask, dtype=bool)
    n_out = out.sum(axis=0)
    with np.errstate(divide="ignore"):
        log_out = logsumexp(np.where(out, lp, -np.inf), axis=0) - np.log(np.maximum(n_out, 1))
        log_px = np.logaddexp(np.log((1 + a) / 2) + log_out, np.log((1 - a) / 2) if a < 1 else -np.inf)
    return np.where(n_out > 0, log_px, np.nan)


def rmia_scores(log_ratio_x: np.ndarray, log_ratio_z: np.ndarray, gamma: float) -> np.ndarray:
    """Fraction of population points z with LR(x, z) = exp(r(x) - r(z)) >= ``gamma``, for every x.

    ``log_ratio_*``: r = log Pr(. | theta) - log Pr(.). Vectorised by sorting r(z) once.
    """
    rz = np.sort(np.asarray(log_ratio_z, dtype=np.float64))
    if rz.size == 0:
        raise InvalidInputError("population: RMIA needs at least one population point z")
    return np.searchsorted(rz, np.asarray(log_ratio_x, dtype=np.float64) - np.log(gamma), side="right") / rz.size


class RMIA(ShadowAttack):
    """Relative membership inference (RMIA) with MindSpore reference models, sharing LiRA's shadow cache
    and executors (same settings and data give the same shadows).

    The population points z are the population rows not marked as known members: the non-members given
    to ``fit``, or every row given to ``set_population`` without ``known_members``.
    """

    Config: ClassVar[type] = RMIAConfig
    registry_name = "rmia"
    #: the population points z come from ``fit`` (or ``set_population``): nothing to compare with before
    needs_fit = True

    def __init__(self, *, model: Any, network_fn: Any = None, executor: Any = None, **config: Any):
        super().__init__(model=model, network_fn=network_fn, executor=executor, **config)
        self.stats_: dict[str, np.ndarray] = {}  #: per-example ratios of the last ``score`` call

    def _population_z(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pop is None:
            raise InvalidInputError("rmia: call fit(...) or set_population(x, y) first; RMIA compares each "
                                    "target with population points z")
        keep = ~self._pop_member
        if not keep.any():
            raise InvalidInputError("rmia: every population row is a known member; RMIA needs non-member "
                                    "population points z")
        return self._pop[0][keep], self._pop[1][keep]

    def _score(self, x, y):
        cfg = self.config
        zx, zy = self._population_z()
        ref = self.reference_outputs(x, y, [x, zx])
        t = cfg.temperature
        log_px = log_marginal(label_log_prob(ref.logits[0], y, t), ref.in_mask(x, y), online=cfg.online,
                              a=cfg.offline_a)
        log_pz = log_marginal(label_log_prob(ref.logits[1], zy, t), ref.in_mask(zx, zy), online=cfg.online,
                              a=cfg.offline_a)
        if np.any(np.isnan(log_px)):
            raise InvalidInputError("rmia (offline): some queried examples were in every reference model's "
                                    "training set; add population data or lower keep_fraction")
        usable = ~np.isnan(log_pz)  # offline: a z every reference trained on has no OUT estimate
        ratio_x = label_log_prob(self.model.logits(x), y, t) - log_px
        ratio_z = label_log_prob(self.model.logits(zx), zy, t)[usable] - log_pz[usable]
        self.stats_ = {"log_ratio_x": ratio_x, "log_ratio_z": ratio_z, "log_px": log_px,
                       "log_pz": log_pz[usable]}
        return rmia_scores(ratio_x, ratio_z, cfg.gamma)
