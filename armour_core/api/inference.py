"""Membership-inference attacks: score how likely each example was a training member.

Every attack answers ``score(x, y)`` (higher = more likely a member). The metrics that matter for privacy
are computed here, once, for every attack: ROC AUC, the true-positive rate at a low false-positive rate
(Carlini et al. 2022: an attack that is confident about a few members is a privacy failure even with an
AUC near 0.5), the best balanced accuracy, and a per-example risk score. They are plain numpy, so any
score vector (e.g. from the empirical DP audit) can be evaluated with :func:`membership_metrics`.
"""

from __future__ import annotations

import abc
import time
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .arrays import check_inputs, check_labels, to_numpy
from .base import Algorithm, make_config, seed_field
from .model import as_classifier

#: False-positive rates reported by default (0.1 % and 1 %).
DEFAULT_FPRS = (0.001, 0.01)


@attrs.frozen(kw_only=True)
class InferenceConfig:
    seed: int | None = seed_field()


# --------------------------------------------------------------------------------------- metrics
def _check_scores(scores_member: Any, scores_nonmember: Any) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for name, s in (("scores_member", scores_member), ("scores_nonmember", scores_nonmember)):
        a = np.asarray(to_numpy(s, name), dtype=np.float64)
        if a.ndim != 1:
            raise InvalidInputError(f"{name}: expected a 1-D array of scores, got shape {a.shape}")
        if a.size == 0:
            raise InvalidInputError(f"{name}: expected at least one score, got none")
        if not np.all(np.isfinite(a)):
            raise InvalidInputError(f"{name}: contains NaN or infinite scores")
        out.append(a)
    return out[0], out[1]


def roc_curve(scores_member: Any, scores_nonmember: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of the rule "member if score >= t" over every distinct threshold ``t``.

    Returns ``(fpr, tpr, thresholds)``, starting at (0, 0) with threshold +inf. Tied scores form one
    point (the curve crosses a tie group diagonally), which is what makes the trapezoidal AUC equal the
    Mann-Whitney statistic.
    """
    sm, sn = _check_scores(scores_member, scores_nonmember)
    scores = np.concatenate([sm, sn])
    member = np.concatenate([np.ones(sm.size, bool), np.zeros(sn.size, bool)])
    order = np.argsort(-scores, kind="mergesort")
    s, m = scores[order], member[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(m)[last_of_group]
    fps = last_of_group + 1 - tps
    tpr = np.r_[0.0, tps / sm.size]
    fpr = np.r_[0.0, fps / sn.size]
    return fpr, tpr, np.r_[np.inf, s[last_of_group]]


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under a ROC curve (trapezoidal rule)."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, alpha: float, *, interpolate: bool = True) -> float:
    """True-positive rate at false-positive rate ``alpha``.

    ``interpolate=True``: linear interpolation between the two ROC points around ``alpha``. Between
    distinct scores the ROC is a staircase, so this differs from the deterministic value only across tied
    scores, where it is the expected rate when ties are broken at random (the diagonal of the tie group).
    ``False``: the best rate of a deterministic threshold whose FPR does not exceed ``alpha`` (Carlini et
    al.'s convention). With N non-members and N·alpha < 1 both are the TPR at FPR 0 (apart from ties).
    """
    if not 0.0 <= alpha <= 1.0:
        raise InvalidInputError(f"alpha: expected a false-positive rate in [0, 1], got {alpha!r}")
    i = int(np.searchsorted(fpr, alpha, side="right")) - 1
    if not interpolate or fpr[i] == alpha or i == fpr.size - 1:
        return float(tpr[i])
    j = i + 1
    return float(tpr[i] + (alpha - fpr[i]) * (tpr[j] - tpr[i]) / (fpr[j] - fpr[i]))


def risk_scores(scores: Any, scores_nonmember: Any) -> np.ndarray:
    """Per-example risk in [0, 1]: the fraction of non-members that look less like members (ties count
    half). 0.99 means the example stands out from 99 % of non-members, whatever the attack's scale."""
    ref = np.sort(np.asarray(scores_nonmember, dtype=np.float64))
    s = np.asarray(scores, dtype=np.float64)
    below = np.searchsorted(ref, s, side="left")
    upto = np.searchsorted(ref, s, side="right")
    return (below + 0.5 * (upto - below)) / ref.size


@attrs.frozen(kw_only=True)
class MembershipReport:
    """What an attack achieved on labelled members and non-members.

    ``balanced_accuracy`` is the best over all thresholds (an optimistic, attacker-favouring figure);
    ``precision``/``recall``/``accuracy`` are at the attack's own decision rule when it has one.
    """

    attack: str
    n_member: int
    n_nonmember: int
    auc: float
    tpr_at_fpr: dict[float, float]
    tpr_at_fpr_floor: dict[float, float]
    balanced_accuracy: float
    best_threshold: float
    precision: float | None
    recall: float | None
    accuracy: float | None
    scores_member: np.ndarray = attrs.field(repr=False, eq=False)
    scores_nonmember: np.ndarray = attrs.field(repr=False, eq=False)
    risk_member: np.ndarray = attrs.field(repr=False, eq=False)
    risk_nonmember: np.ndarray = attrs.field(repr=False, eq=False)
    fpr: np.ndarray = attrs.field(repr=False, eq=False)
    tpr: np.ndarray = attrs.field(repr=False, eq=False)
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Scalar metrics only (JSON-ready)."""
        return {"attack": self.attack, "n_member": self.n_member, "n_nonmember": self.n_nonmember,
                "auc": self.auc, "tpr_at_fpr": {str(k): v for k, v in self.tpr_at_fpr.items()},
                "tpr_at_fpr_floor": {str(k): v for k, v in self.tpr_at_fpr_floor.items()},
                "balanced_accuracy": self.balanced_accuracy, "best_threshold": self.best_threshold,
                "precision": self.precision, "recall": self.recall, "accuracy": self.accuracy,
                "seconds": self.seconds, "notes": list(self.notes)}

    def to_dict(self) -> dict[str, Any]:
        """Metrics plus per-example scores and risks (JSON-ready)."""
        return {**self.summary(), "scores_member": self.scores_member.tolist(),
                "scores_nonmember": self.scores_nonmember.tolist(), "risk_member": self.risk_member.tolist(),
                "risk_nonmember": self.risk_nonmember.tolist()}

    def plot_roc(self, ax: Any = None, label: str | None = None) -> Any:
        """ROC on log-log axes (low FPR is where membership leaks matter); returns the axes."""
        return plot_rocs([self], ax=ax, labels=[label] if label else None)


def plot_rocs(reports: list[MembershipReport], ax: Any = None, labels: list[str] | None = None) -> Any:
    """Several attacks' ROC curves on one log-log plot, with the chance diagonal."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 4.2))
    floor = min(1.0 / max(r.n_nonmember for r in reports), 1e-3) / 2
    for i, r in enumerate(reports):
        name = labels[i] if labels else r.attack
        f = np.clip(r.fpr, floor, 1.0)
        t = np.clip(r.tpr, floor, 1.0)
        ax.plot(f, t, drawstyle="default",
                label=f"{name} (AUC {r.auc:.3f}, TPR@0.1% {r.tpr_at_fpr.get(0.001, float('nan')):.3f})")
    ax.plot([floor, 1], [floor, 1], "k--", lw=0.8, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(fontsize=7, loc="lower right")
    return ax


def membership_metrics(scores_member: Any, scores_nonmember: Any, *, attack: str = "scores",
                       fprs: tuple[float, ...] = DEFAULT_FPRS, decision_threshold: float | None = None,
                       seconds: float = 0.0) -> MembershipReport:
    """Evaluate membership scores (higher = member) of known members and non-members."""
    sm, sn = _check_scores(scores_member, scores_nonmember)
    for a in fprs:
        if not 0.0 < float(a) < 1.0:
            raise InvalidInputError(f"fprs: expected false-positive rates in (0, 1), got {a!r}")
    fpr, tpr, thr = roc_curve(sm, sn)
    bal = (tpr + 1.0 - fpr) / 2.0
    # the first ROC point (threshold +inf: nobody is a member) has balanced accuracy 1/2, as does the last
    # (everybody is); skipping it keeps best_threshold finite (JSON) when every score is tied
    best = int(np.argmax(bal[1:])) + 1
    notes = [f"TPR at FPR {a:g}: with {sn.size} non-members the smallest non-zero FPR is 1/{sn.size} > {a:g} "
             f"(N*FPR = {sn.size * a:.2g} < 1), so this is the TPR at FPR 0; evaluate on more non-members "
             "to resolve it" for a in fprs if sn.size * a < 1]
    precision = recall = accuracy = None
    if decision_threshold is not None:
        tp = int(np.sum(sm >= decision_threshold))
        fp = int(np.sum(sn >= decision_threshold))
        recall = tp / sm.size
        precision = tp / (tp + fp) if tp + fp else float("nan")
        accuracy = (tp + sn.size - fp) / (sm.size + sn.size)
    return MembershipReport(
        attack=attack, n_member=int(sm.size), n_nonmember=int(sn.size), auc=auc(fpr, tpr),
        tpr_at_fpr={float(a): tpr_at_fpr(fpr, tpr, float(a)) for a in fprs},
        tpr_at_fpr_floor={float(a): tpr_at_fpr(fpr, tpr, float(a), interpolate=False) for a in fprs},
        balanced_accuracy=float(bal[best]), best_threshold=float(thr[best]), precision=precision,
        recall=recall, accuracy=accuracy, scores_member=sm, scores_nonmember=sn,
        risk_member=risk_scores(sm, sn), risk_nonmember=risk_scores(sn, sn), fpr=fpr, tpr=tpr,
        seconds=float(seconds), notes=tuple(notes))


# --------------------------------------------------------------------------------------- the base
class MembershipInference(Algorithm, abc.ABC):
    """``fit`` on known members/non-members, ``score(x, y)`` (higher = member), ``evaluate``.

    Subclasses implement ``_score`` (and ``_fit`` when the attack learns something). An attack with a
    natural decision rule sets ``decision_threshold`` (a score at or above it means "member").
    """

    Config: ClassVar[type] = InferenceConfig
    #: whether ``evaluate`` needs a prior ``fit`` (attack classifiers do; threshold attacks do not)
    needs_fit: ClassVar[bool] = False

    def __init__(self, *, model: Any, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.model = as_classifier(model)
        self.decision_threshold: float | None = None
        self.fitted = False

    @property
    def name(self) -> str:
        return getattr(self, "registry_name", type(self).__name__)

    def _xy(self, x: Any, y: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
        xa = check_inputs(x, name=f"x_{name}", bounds=self.model.bounds, input_shape=self.model.input_shape)
        k = self.model.num_classes_for(xa)  # a bare network: learned from this batch
        return xa, check_labels(y, n=xa.shape[0], num_classes=k, name=f"y_{name}")

    def fit(self, x_member: Any, y_member: Any, x_nonmember: Any, y_nonmember: Any) -> "MembershipInference":
        """Learn from examples known to be members / non-members of the target's training set."""
        self._fit(*self._xy(x_member, y_member, "member"), *self._xy(x_nonmember, y_nonmember, "nonmember"))
        self.fitted = True
        return self

    def score(self, x: Any, y: Any) -> np.ndarray:
        """Membership score per example (higher = more likely a member)."""
        self._require_fit()
        return np.asarray(self._score(*self._xy(x, y, "query")), dtype=np.float64)

    def evaluate(self, x_member: Any, y_member: Any, x_nonmember: Any, y_nonmember: Any, *,
                 fprs: tuple[float, ...] = DEFAULT_FPRS) -> MembershipReport:
        """Score known members and non-members (in one ``_score`` call) and report the metrics.

        Use examples the attack was not fitted on, or the figures are optimistic.
        """
        self._require_fit()
        xm, ym = self._xy(x_member, y_member, "member")
        xn, yn = self._xy(x_nonmember, y_nonmember, "nonmember")
        t0 = time.perf_counter()
        s = np.asarray(self._score(np.concatenate([xm, xn]), np.concatenate([ym, yn])), dtype=np.float64)
        return membership_metrics(s[:len(xm)], s[len(xm):], attack=self.name, fprs=fprs,
                                  decision_threshold=self.decision_threshold,
                                  seconds=time.perf_counter() - t0)

    def _require_fit(self) -> None:
        if self.needs_fit and not self.fitted:
            raise InvalidInputError(f"{self.name}: call fit(x_member, y_member, x_nonmember, y_nonmember) "
                                    "before scoring (this attack learns from known members)")

    def _fit(self, xm, ym, xn, yn) -> None:  # noqa: B027 - optional (threshold attacks need no training)
        """Train the attack."""

    @abc.abstractmethod
    def _score(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-example membership scores."""


# --------------------------------------------------------------------------------------- helpers
def log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def true_class_loss(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cross-entropy of the true class from logits (float64, stable)."""
    return -log_softmax(z)[np.arange(len(y)), y]


def logit_confidence(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """LiRA's logit-scaled confidence log(p_y / (1 - p_y)), computed stably as z_y - logsumexp_{j!=y} z_j."""
    z = np.asarray(z, dtype=np.float64)
    idx = np.arange(len(y))
    zy = z[idx, y]
    rest = z.copy()
    rest[idx, y] = -np.inf
    m = rest.max(axis=1)
    return zy - (m + np.log(np.exp(rest - m[:, None]).sum(axis=1)))
