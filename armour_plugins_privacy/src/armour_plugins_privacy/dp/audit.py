"""Empirical differential-privacy audit: a statistically valid *lower* bound on ε from a membership test.

If training is (ε, δ)-DP, every test that decides whether a canary was in the training set obeys
FPR + e^ε·FNR >= 1 - δ and FNR + e^ε·FPR >= 1 - δ (Kairouz et al. 2015). Measuring FPR and FNR over
many trials and replacing them by Clopper–Pearson upper confidence bounds gives
ε >= log((1 - δ - FNR_hi) / FPR_hi) (and symmetrically) with confidence 1 - α — the auditing recipe of
Jagielski et al. (2020, "Auditing Differentially Private Machine Learning: How Private is Private SGD?")
and Nasr et al. (2021, "Adversary Instantiation"). A lower bound far below the accountant's ε means the
attack (or the canaries) are weak, not that training is more private; a lower bound *above* the
accountant's ε means the implementation or the accounting is wrong.

Design:

* Canaries: ``mislabel`` (held-out examples with a wrong label: the strongest black-box canary for
  classifiers) or ``clean``. In each training run every canary is inserted independently with probability
  1/2, so one run yields one trial per canary; ``canaries_per_run=1`` gives Jagielski et al.'s fully
  independent trials, more canaries per run are the cheaper approximation of Steinke et al. (2023).
* The membership score of a canary is its negative loss under the trained model; the threshold is chosen
  on half of the trials and the bound computed on the other half, so choosing it does not inflate ε.
* Training is a generic function ``train_fn(x, y, seed)`` returning the trained model (an ``nn.Cell`` or
  armour ``Classifier``), optionally with the accountant's ε as ``(model, epsilon)``;
  :func:`dp_train_fn` builds one from armour's ``DPModel`` when it is installed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from armour_core.api.arrays import check_inputs, check_labels
from armour_core.api.inference import MembershipReport, membership_metrics, true_class_loss
from armour_core.api.model import as_classifier
from armour_core.errors import InvalidInputError
from armour_core.progress import Progress
from armour_core.ms.seeding import seeded

from .canaries import make_canaries


# ------------------------------------------------------------------------------------------ statistics
def clopper_pearson(successes: int, trials: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact two-sided (1 - alpha) binomial confidence interval for a proportion."""
    from scipy.stats import beta

    if not isinstance(trials, (int, np.integer)) or trials < 1:
        raise InvalidInputError(f"trials: expected an int >= 1, got {trials!r}")
    if not 0 <= successes <= trials:
        raise InvalidInputError(f"successes: expected 0 <= successes <= trials={trials}, got {successes!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha: expected a level in (0, 1), got {alpha!r}")
    lo = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return lo, hi


def epsilon_lower_bound(fp: int, negatives: int, fn: int, positives: int, *, delta: float,
                        alpha: float = 0.05) -> tuple[float, float, float]:
    """Lower bound on ε holding with confidence 1 - alpha, from a test's false positives among
    ``negatives`` and false negatives among ``positives``.

    Each rate is replaced by its one-sided Clopper–Pearson upper bound at level alpha/2 (the two-sided
    interval at level alpha), so both hold together with probability >= 1 - alpha.
    Returns ``(epsilon_lower, fpr_upper, fnr_upper)``.
    """
    if not 0.0 <= delta < 1.0:
        raise InvalidInputError(f"delta: expected a value in [0, 1), got {delta!r}")
    fpr_hi = clopper_pearson(int(fp), int(negatives), alpha)[1]
    fnr_hi = clopper_pearson(int(fn), int(positives), alpha)[1]
    cands = [0.0]
    for a, b in ((fnr_hi, fpr_hi), (fpr_hi, fnr_hi)):
        if b > 0 and 1.0 - delta - a > 0:
            cands.append(math.log((1.0 - delta - a) / b))
    return max(cands), fpr_hi, fnr_hi


def _cp_upper(k: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """Vectorised upper end of the two-sided Clopper–Pearson interval."""
    from scipy.stats import beta

    k = np.asarray(k)
    hi = np.ones(k.shape)
    inner = k < n
    hi[inner] = beta.ppf(1 - alpha / 2, k[inner] + 1, n - k[inner])
    return hi


def best_threshold(scores: np.ndarray, member: np.ndarray, *, delta: float, alpha: float) -> float:
    """The threshold (member iff score >= t) maximising the ε lower bound on these trials."""
    cand = np.unique(scores)
    pos, neg = int(member.sum()), int((~member).sum())
    fn = np.searchsorted(np.sort(scores[member]), cand, side="left")
    fp = neg - np.searchsorted(np.sort(scores[~member]), cand, side="left")
    fpr_hi, fnr_hi = _cp_upper(fp, neg, alpha), _cp_upper(fn, pos, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.maximum(1.0 - delta - fnr_hi, 0.0) / fpr_hi)
        b = np.log(np.maximum(1.0 - delta - fpr_hi, 0.0) / fnr_hi)
    eps = np.nan_to_num(np.maximum(a, b), nan=-np.inf, neginf=-np.inf)
    return float(cand[int(np.argmax(eps))])


# ------------------------------------------------------------------------------------------ the audit
@attrs.frozen(kw_only=True)
class AuditResult:
    """Outcome of an audit. ``epsilon_lower`` holds with probability >= ``confidence``."""

    epsilon_lower: float
    confidence: float
    delta: float
    accountant_epsilon: float | None
    threshold: float
    fpr: float
    fnr: float
    fpr_upper: float
    fnr_upper: float
    trials: int
    runs: int
    canaries: int
    canary_kind: str
    membership: MembershipReport = attrs.field(repr=False)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        d["membership"] = self.membership.summary()
        return d

    def describe(self) -> str:
        acc = "n/a" if self.accountant_epsilon is None else f"{self.accountant_epsilon:.3g}"
        return (f"empirical epsilon >= {self.epsilon_lower:.3f} ({self.confidence:.0%} confidence, delta="
                f"{self.delta:g}, {self.trials} evaluation trials from {self.runs} runs); accountant epsilon "
                f"{acc}; attack AUC {self.membership.auc:.3f}")


def _model_and_eps(out: Any) -> tuple[Any, float | None]:
    if isinstance(out, tuple):
        if len(out) != 2:
            raise InvalidInputError("train_fn: return a model or (model, accountant_epsilon)")
        return out[0], (None if out[1] is None else float(out[1]))
    return out, None


def audit(train_fn: Callable[..., Any], x: Any, y: Any, *, canary_x: Any = None, canary_y: Any = None,
          canaries: int = 64, canary_kind: str = "mislabel", canary_pool: tuple[Any, Any] | None = None,
          num_classes: int | None = None, runs: int = 8, delta: float = 1e-5, alpha: float = 0.05,
          seed: int = 0, progress: bool | None = None) -> AuditResult:
    """Audit ``train_fn`` with canaries; returns the empirical lower bound on ε.

    Args:
        train_fn: ``train_fn(x, y, seed) -> model`` or ``-> (model, accountant_epsilon)``.
        x, y: the training set every run uses (canaries are added to it).
        canary_x, canary_y: explicit canaries; otherwise ``canaries`` are drawn from ``canary_pool``
            (default: the tail of ``x``, which is then removed from the training set) with
            ``canary_kind``.
        runs: training runs; each inserts every canary independently with probability 1/2.
        delta: the δ of the guarantee being audited; alpha: 1 - confidence.
    """
    xa = check_inputs(x, name="x")
    ya = check_labels(y, n=len(xa), num_classes=num_classes, name="y")
    if not isinstance(runs, int) or runs < 1:
        raise InvalidInputError(f"runs: expected an int >= 1, got {runs!r}")
    if not callable(train_fn):
        raise InvalidInputError(f"train_fn: expected a callable (x, y, seed) -> model, got {train_fn!r}")
    k = int(num_classes) if num_classes is not None else int(ya.max()) + 1
    if canary_x is not None:
        cx = check_inputs(canary_x, name="canary_x", input_shape=xa.shape[1:])
        cy = check_labels(canary_y, n=len(cx), num_classes=k, name="canary_y")
    else:
        if canary_pool is None:
            if canaries >= len(xa):
                raise InvalidInputError(f"canaries={canaries}: the training set has only {len(xa)} examples")
            pool = (xa[-canaries:], ya[-canaries:])
            xa, ya = xa[:-canaries], ya[:-canaries]
        else:
            px = check_inputs(canary_pool[0], name="canary_pool[0]", input_shape=xa.shape[1:])
            pool = (px, check_labels(canary_pool[1], n=len(px), num_classes=k, name="canary_pool[1]"))
        cx, cy = make_canaries(pool[0], pool[1], canaries, num_classes=k, kind=canary_kind, seed=seed)
    m = len(cx)
    if runs * m < 4:
        raise InvalidInputError(f"runs * canaries = {runs * m}: need at least 4 trials")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA0D17]))
    inside = rng.random((runs, m)) < 0.5
    scores = np.empty((runs, m))
    eps_acc: list[float] = []
    t0 = time.perf_counter()
    with Progress(runs, "audit runs", enabled=progress, unit="runs") as bar:
        for r in range(runs):
            sel = inside[r]
            tx = np.concatenate([xa, cx[sel]])
            ty = np.concatenate([ya, cy[sel]])
            model, eps = _model_and_eps(train_fn(tx, ty, int(rng.integers(2**31 - 1))))
            if eps is not None:
                eps_acc.append(eps)
            clf = as_classifier(model)
            scores[r] = -true_class_loss(np.asarray(clf.logits(cx), dtype=np.float64), cy)
            bar.update(1)
    # calibrate the threshold on even canaries, bound on odd canaries (disjoint trials)
    calib = np.zeros(m, bool)
    calib[::2] = True
    if m == 1:
        calib_runs = np.arange(runs) % 2 == 0
        cal_s, cal_m = scores[calib_runs, 0], inside[calib_runs, 0]
        ev_s, ev_m = scores[~calib_runs, 0], inside[~calib_runs, 0]
    else:
        cal_s, cal_m = scores[:, calib].ravel(), inside[:, calib].ravel()
        ev_s, ev_m = scores[:, ~calib].ravel(), inside[:, ~calib].ravel()
    if cal_m.all() or (~cal_m).all() or ev_m.all() or (~ev_m).all():
        raise InvalidInputError("audit: every trial fell on one side (all in or all out); add runs or canaries")
    t = best_threshold(cal_s, cal_m, delta=delta, alpha=alpha)
    pos, neg = int(ev_m.sum()), int((~ev_m).sum())
    fn = int(np.sum(ev_s[ev_m] < t))
    fp = int(np.sum(ev_s[~ev_m] >= t))
    eps_lb, fpr_hi, fnr_hi = epsilon_lower_bound(fp, neg, fn, pos, delta=delta, alpha=alpha)
    report = membership_metrics(scores[inside], scores[~inside], attack="audit (negative canary loss)",
                                decision_threshold=t, seconds=time.perf_counter() - t0)
    return AuditResult(epsilon_lower=eps_lb, confidence=1.0 - alpha, delta=delta,
                       accountant_epsilon=max(eps_acc) if eps_acc else None, threshold=t, fpr=fp / neg,
                       fnr=fn / pos, fpr_upper=fpr_hi, fnr_upper=fnr_hi, trials=pos + neg, runs=runs,
                       canaries=m, canary_kind=canary_kind if canary_x is None else "given",
                       membership=report, seconds=time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------ train functions
def classifier_train_fn(model: str = "mlp", *, input_shape: tuple[int, ...], num_classes: int, epochs: int = 30,
                        batch_size: int = 64, learning_rate: float = 1e-3,
                        weight_decay: float = 0.0) -> Callable[..., Any]:
    """Non-private training of a registered architecture (the audit's positive control)."""

    def train(x, y, seed):

        import armour_core.ms  # noqa: F401
        from armour_core import registry
        from armour_core.ms.train import train_classifier

        with seeded(seed):
            net = registry.create("model", model, input_shape=tuple(input_shape), num_classes=num_classes)
        train_classifier(net, x, y, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                         weight_decay=weight_decay, seed=seed, progress=False)
        return net, None

    return train


def dp_train_fn(model: str = "mlp", *, input_shape: tuple[int, ...], num_classes: int, epochs: int = 10,
                batch_size: int = 64, learning_rate: float = 0.5, noise_multiplier: float = 1.0,
                clip_norm: float = 1.0, delta: float = 1e-5, **dp_kwargs: Any) -> Callable[..., Any]:
    """DP-SGD training through armour's ``DPModel`` (Poisson sampling, per-example clipping, PLD accountant
    by default); each run returns the model and the accountant's ε at ``delta``. ``dp_kwargs`` go to
    ``DPModel`` (``accountant``, ``method``, ``per_layer``...)."""
    try:
        from .model import DPModel
    except ImportError as exc:
        raise InvalidInputError(f"dp_train_fn: armour's DPModel is not available ({exc}); audit a generic "
                                "train_fn instead") from None

    def train(x, y, seed):
        from mindspore import nn

        import armour_core.ms  # noqa: F401
        from armour_core import registry

        with seeded(seed):
            net = registry.create("model", model, input_shape=tuple(input_shape), num_classes=num_classes)
        loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        dp = DPModel(net, loss_fn, nn.SGD(net.trainable_params(), learning_rate=learning_rate),
                     noise_multiplier=noise_multiplier, clip_norm=clip_norm, delta=delta, batch_size=batch_size,
                     seed=seed, **dp_kwargs)
        dp.train(epochs, (x, y), progress=False)
        net.set_train(False)
        return net, float(dp.epsilon())

    return train
