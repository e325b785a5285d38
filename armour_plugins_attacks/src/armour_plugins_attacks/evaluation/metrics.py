"""Metrics of attacks and defenses, in numpy (vectorised over the batch; no MindSpore needed).

* :func:`attack_metrics` — how strong and how visible an attack's examples are. Distortions are
  **absolute** (input-space Lp norms, not divided by ‖x‖) and averaged only over points the model
  classified correctly *before* the attack and that the attack then broke.
* :func:`defense_metrics` — DEEPSEC's (Ling et al. 2019) CAV, CRR, CSR, CCV and COS comparing a defended
  model with the raw one on the same inputs.
* :func:`blackbox_defense_metrics` — query-based attacks against a defended model (query counts, success
  and detection rates, false positives and latency on benign queries).
* :func:`radar_plot` — several models' metrics on one polar chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from armour_core.api.arrays import to_numpy
from armour_core.api.norms import lp_norm
from armour_core.errors import InvalidInputError


# ----------------------------------------------------------------------------------------- helpers
def _labels(y: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(to_numpy(y, name))
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidInputError(f"{name}: expected shape ({n},), got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise InvalidInputError(f"{name}: expected integer class indices")
    if arr.dtype.kind not in "iuf":
        raise InvalidInputError(f"{name}: expected integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _probabilities(p: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(to_numpy(p, name), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] < 2:
        raise InvalidInputError(f"{name}: expected class probabilities of shape ({n}, num_classes), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name}: contains NaN or infinite values")
    if arr.min() < -1e-6 or np.max(np.abs(arr.sum(axis=1) - 1.0)) > 1e-3:
        raise InvalidInputError(f"{name}: rows must be probabilities (non-negative, summing to 1); pass "
                                "softmax outputs, not logits")
    return np.clip(arr, 0.0, 1.0)


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if values.size else None


# ------------------------------------------------------------------------------------------- SSIM
def ssim(a: Any, b: Any, *, data_range: float = 1.0, sigma: float = 1.5, channel_axis: int | None = 1,
         k1: float = 0.01, k2: float = 0.03) -> np.ndarray:
    """Per-image structural similarity (Wang et al. 2004) of two image batches, in [-1, 1].

    Local statistics use an isotropic Gaussian window (``sigma`` 1.5, truncated at 11×11, reflected at the
    border so tiny 8×8 images work); the SSIM map is averaged over pixels and channels.
    ``channel_axis``: axis of the channels in the batch (1 for NCHW, -1 for NHWC, None for (N, H, W)).
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(to_numpy(a, "a"), dtype=np.float64)
    z = np.asarray(to_numpy(b, "b"), dtype=np.float64)
    if x.shape != z.shape:
        raise InvalidInputError(f"ssim: shapes differ: {x.shape} vs {z.shape}")
    if channel_axis is None:
        if x.ndim != 3:
            raise InvalidInputError(f"ssim: expected (N, H, W) images with channel_axis=None, got {x.shape}")
        x, z = x[:, None], z[:, None]
    else:
        if x.ndim != 4:
            raise InvalidInputError(f"ssim: expected a batch of images (N, C, H, W), got shape {x.shape}")
        x, z = np.moveaxis(x, channel_axis, 1), np.moveaxis(z, channel_axis, 1)
    if data_range <= 0:
        raise InvalidInputError(f"data_range: expected > 0, got {data_range}")
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    truncate = 5.0 / sigma  # an 11x11 window at sigma 1.5

    def blur(v):
        return gaussian_filter(v, sigma=(0, 0, sigma, sigma), mode="reflect", truncate=truncate)

    mx, mz = blur(x), blur(z)
    vx = blur(x * x) - mx * mx
    vz = blur(z * z) - mz * mz
    cov = blur(x * z) - mx * mz
    smap = ((2 * mx * mz + c1) * (2 * cov + c2)) / ((mx * mx + mz * mz + c1) * (vx + vz + c2))
    return smap.reshape(len(smap), -1).mean(axis=1)


def _is_image_batch(x: np.ndarray) -> tuple[bool, int | None]:
    if x.ndim == 3:
        return True, None
    if x.ndim == 4:
        if x.shape[1] in (1, 3, 4):
            return True, 1
        if x.shape[-1] in (1, 3, 4):
            return True, -1
    return False, None


# ---------------------------------------------------------------------------------- attack metrics
@attrs.frozen(kw_only=True)
class AttackMetrics:
    """How an attack did on a batch (see :func:`attack_metrics`). ``None`` where no point qualifies."""

    n: int  #: points evaluated
    clean_accuracy: float  #: accuracy before the attack
    attacked: int  #: points correct before the attack (the denominator of the rates below)
    misclassification_rate: float  #: share of initially-correct points the attack broke (or moved to target)
    robust_accuracy: float  #: share of all points classified correctly both before and after the attack
    avg_confidence_adversarial: float | None  #: mean probability of the adversarial (or target) class
    avg_confidence_true: float | None  #: mean probability the true class keeps on the adversarial input
    avg_l0: float | None  #: mean number of changed input elements
    avg_l2: float | None  #: mean absolute L2 distortion ‖x' − x‖₂
    avg_linf: float | None  #: mean absolute L∞ distortion
    avg_ssim: float | None  #: mean SSIM between clean and adversarial images (None for non-images)
    noise_tolerance: float | None  #: mean top-1 minus top-2 probability on adversarial inputs
    successes: int  #: initially-correct points broken (the points the averages are taken over)
    targeted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def attack_metrics(x: Any, y: Any, x_adv: Any, *, clean_probabilities: Any = None, adv_probabilities: Any = None,
                   model: Any = None, target: Any = None, data_range: float | None = None) -> AttackMetrics:
    """Metrics of adversarial examples ``x_adv`` for inputs ``x`` with true labels ``y``.

    Give the model's class probabilities on ``x`` and ``x_adv`` (``clean_probabilities``,
    ``adv_probabilities``), or a ``model`` (a Classifier or ``nn.Cell``) to compute them. ``target``: the
    target labels of a targeted attack (success = classified as the target).

    Only points classified correctly before the attack are attacked points: the misclassification rate is
    over them, and every average (confidences, distortions, SSIM, noise tolerance) is over the attacked
    points the attack broke. Distortions are absolute (input-space norms).
    """
    xa = np.asarray(to_numpy(x, "x"), dtype=np.float64)
    xv = np.asarray(to_numpy(x_adv, "x_adv"), dtype=np.float64)
    if xa.ndim < 2 or xa.shape[0] == 0:
        raise InvalidInputError(f"x: expected a non-empty batch, got shape {xa.shape}")
    if xv.shape != xa.shape:
        raise InvalidInputError(f"x_adv: expected shape {xa.shape} to match x, got {xv.shape}")
    n = xa.shape[0]
    ya = _labels(y, n, "y")
    if model is not None:
        from armour_core.api.model import as_classifier

        clf = as_classifier(model)
        if clean_probabilities is None:
            clean_probabilities = clf.probabilities(xa.astype(np.float32))
        if adv_probabilities is None:
            adv_probabilities = clf.probabilities(xv.astype(np.float32))
    if clean_probabilities is None or adv_probabilities is None:
        raise InvalidInputError("clean_probabilities and adv_probabilities: give both, or give model=")
    pc = _probabilities(clean_probabilities, n, "clean_probabilities")
    pa = _probabilities(adv_probabilities, n, "adv_probabilities")
    if pc.shape != pa.shape:
        raise InvalidInputError(f"adv_probabilities: expected shape {pc.shape}, got {pa.shape}")
    k = pc.shape[1]
    if ya.max() >= k or ya.min() < 0:
        raise InvalidInputError(f"y: labels must be in [0, {k})")
    ta = None if target is None else _labels(target, n, "target")
    rows = np.arange(n)
    pred_clean, pred_adv = pc.argmax(1), pa.argmax(1)
    correct = pred_clean == ya
    broken = pred_adv == ta if ta is not None else pred_adv != ya
    hit = correct & broken
    adv_class = ta if ta is not None else pred_adv
    top2 = np.sort(pa, axis=1)[:, -2:]
    d = (xv - xa)[hit]
    avg_ssim = None
    is_image, axis = _is_image_batch(xa)
    if is_image and hit.any():
        rng = data_range if data_range is not None else max(float(xa.max() - xa.min()), 1e-12)
        avg_ssim = float(ssim(xa[hit], xv[hit], data_range=rng, channel_axis=axis).mean())
    return AttackMetrics(
        n=n, clean_accuracy=float(correct.mean()), attacked=int(correct.sum()),
        misclassification_rate=float(hit.sum() / correct.sum()) if correct.any() else 0.0,
        robust_accuracy=float(np.mean(correct & (pred_adv == ya))),
        avg_confidence_adversarial=_mean(pa[rows, adv_class][hit]),
        avg_confidence_true=_mean(pa[rows, ya][hit]),
        avg_l0=_mean(lp_norm(d, "l0")) if hit.any() else None,
        avg_l2=_mean(lp_norm(d, "l2")) if hit.any() else None,
        avg_linf=_mean(lp_norm(d, "linf")) if hit.any() else None,
        avg_ssim=avg_ssim,
        noise_tolerance=_mean((top2[:, 1] - top2[:, 0])[hit]),
        successes=int(hit.sum()), targeted=ta is not None)


# --------------------------------------------------------------------------------- defense metrics
@attrs.frozen(kw_only=True)
class DefenseMetrics:
    """DEEPSEC's utility metrics of a defense (Ling et al. 2019), defended vs raw model on the same inputs."""

    cav: float  #: classification accuracy variance: acc(defended) − acc(raw)
    crr: float  #: classification rectify ratio: share raw got wrong and defended gets right
    csr: float  #: classification sacrifice ratio: share raw got right and defended gets wrong
    ccv: float | None  #: mean |P_raw(y) − P_def(y)| over points both classify correctly
    cos: float | None  #: mean Jensen–Shannon divergence (nats) of the two outputs over those points

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(np.where(q > 0, q, 1e-300))), 0.0)
    return terms.sum(axis=1)


def js_divergence(p: Any, q: Any) -> np.ndarray:
    """Row-wise Jensen–Shannon divergence in nats (between 0 and ln 2)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)
    return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


def defense_metrics(raw_probabilities: Any, def_probabilities: Any, y: Any) -> DefenseMetrics:
    """CAV, CRR, CSR, CCV and COS from the raw and the defended model's class probabilities on the same
    points (clean test data, as DEEPSEC defines them)."""
    raw = np.asarray(to_numpy(raw_probabilities, "raw_probabilities"))
    n = raw.shape[0] if raw.ndim else 0
    if n == 0:
        raise InvalidInputError(f"raw_probabilities: expected a non-empty (n, num_classes) array, got {raw.shape}")
    pr = _probabilities(raw, n, "raw_probabilities")
    pd = _probabilities(def_probabilities, n, "def_probabilities")
    if pr.shape != pd.shape:
        raise InvalidInputError(f"def_probabilities: expected shape {pr.shape}, got {pd.shape}")
    ya = _labels(y, n, "y")
    ok_raw, ok_def = pr.argmax(1) == ya, pd.argmax(1) == ya
    both = ok_raw & ok_def
    rows = np.arange(n)
    return DefenseMetrics(
        cav=float(ok_def.mean() - ok_raw.mean()),
        crr=float(np.mean(~ok_raw & ok_def)),
        csr=float(np.mean(ok_raw & ~ok_def)),
        ccv=_mean(np.abs(pr[rows, ya] - pd[rows, ya])[both]),
        cos=_mean(js_divergence(pr[both], pd[both])) if both.any() else None)


# ------------------------------------------------------------------------ black-box defense metrics
@attrs.frozen(kw_only=True)
class BlackBoxDefenseMetrics:
    """A query-based attack run against the raw and the defended model (see
    :func:`blackbox_defense_metrics`). ``None`` where the needed inputs were not given."""

    raw_success_rate: float
    defended_success_rate: float
    asv: float  #: attack success rate variance: raw − defended (higher: stronger defense)
    raw_mean_queries: float
    defended_mean_queries: float
    qcv: float  #: query count variance, (mean defended − mean raw queries) / max_queries, at most 1
    detection_rate: float | None  #: share of attacked points whose attack was flagged at least once
    mean_detections: float | None  #: mean flagged queries per attacked point
    fpr: float | None  #: share of benign queries flagged
    qrv: float | None  #: benign query response time variance: relative slow-down of the defended model

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _vector(v: Any, name: str, n: int | None = None, kind: str = "f") -> np.ndarray:
    arr = np.asarray(to_numpy(v, name))
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n) or arr.shape[0] == 0:
        want = f"({n},)" if n is not None else "a non-empty 1-D array"
        raise InvalidInputError(f"{name}: expected shape {want}, got {arr.shape}")
    if kind == "b":
        if arr.dtype != bool and not np.all(np.isin(arr, (0, 1))):
            raise InvalidInputError(f"{name}: expected booleans")
        return arr.astype(bool)
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)) or arr.min() < 0:
        raise InvalidInputError(f"{name}: expected finite, non-negative values")
    return arr


def blackbox_defense_metrics(*, raw_success: Any, def_success: Any, raw_queries: Any, def_queries: Any,
                             max_queries: int, detections: Any = None, benign_flags: Any = None,
                             raw_benign_seconds: Any = None, def_benign_seconds: Any = None
                             ) -> BlackBoxDefenseMetrics:
    """Metrics of a query (black-box) attack against a defended model, per attacked point.

    ``raw_success``/``def_success``: whether the attack succeeded on the raw / defended model;
    ``raw_queries``/``def_queries``: queries it used; ``max_queries``: its budget. Optional: ``detections``
    (flagged queries per attacked point, from a stateful detector), ``benign_flags`` (whether each benign
    query was flagged) and per-query response times of benign queries on both models.
    """
    if not isinstance(max_queries, (int, np.integer)) or max_queries <= 0:
        raise InvalidInputError(f"max_queries: expected a positive int, got {max_queries!r}")
    rs = _vector(raw_success, "raw_success", kind="b")
    n = rs.shape[0]
    ds = _vector(def_success, "def_success", n, kind="b")
    rq = _vector(raw_queries, "raw_queries", n)
    dq = _vector(def_queries, "def_queries", n)
    mr, md = float(rq.mean()), float(dq.mean())
    qcv = min(md - mr, float(max_queries)) / float(max_queries)
    det_rate = mean_det = fpr = qrv = None
    if detections is not None:
        det = _vector(detections, "detections", n)
        det_rate, mean_det = float(np.mean(det > 0)), float(det.mean())
    if benign_flags is not None:
        fpr = float(_vector(benign_flags, "benign_flags", kind="b").mean())
    if (raw_benign_seconds is None) != (def_benign_seconds is None):
        raise InvalidInputError("raw_benign_seconds and def_benign_seconds: give both or neither")
    if raw_benign_seconds is not None:
        rt = _vector(raw_benign_seconds, "raw_benign_seconds")
        dt = _vector(def_benign_seconds, "def_benign_seconds")
        qrv = float((dt.mean() - rt.mean()) / max(rt.mean(), 1e-12))
    return BlackBoxDefenseMetrics(raw_success_rate=float(rs.mean()), defended_success_rate=float(ds.mean()),
                                  asv=float(rs.mean() - ds.mean()), raw_mean_queries=mr, defended_mean_queries=md,
                                  qcv=qcv, detection_rate=det_rate, mean_detections=mean_det, fpr=fpr, qrv=qrv)


# ----------------------------------------------------------------------------------------- radar
def radar_plot(series: Mapping[str, Mapping[str, float]], *, limits: Mapping[str, tuple[float, float]] | None = None,
               title: str = "") -> Any:
    """A radar (spider) chart: one closed polygon per entry of ``series`` (name → {metric: value}).

    Every series must have the same metrics. ``limits`` maps a metric to the (low, high) that map to the
    chart's centre and rim (default: the values' own range, or [0, 1] when they lie inside it); values
    outside their limits are drawn at the centre or the rim.
    Returns the matplotlib figure (pass it to :func:`armour_core.report.figure_uri` for a report).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if not series:
        raise InvalidInputError("series: expected at least one named set of metrics")
    names = list(series)
    metrics: Sequence[str] = list(series[names[0]])
    if len(metrics) < 3:
        raise InvalidInputError(f"series: a radar chart needs at least 3 metrics, got {list(metrics)}")
    for s in names:
        if list(series[s]) != list(metrics):
            raise InvalidInputError(f"series[{s!r}]: metrics {list(series[s])} differ from {list(metrics)}")
    values = np.array([[float(series[s][m]) for m in metrics] for s in names])
    lims = dict(limits or {})
    lo = np.array([lims.get(m, (min(0.0, values[:, i].min()), max(1.0, values[:, i].max())))[0]
                   for i, m in enumerate(metrics)])
    hi = np.array([lims.get(m, (min(0.0, values[:, i].min()), max(1.0, values[:, i].max())))[1]
                   for i, m in enumerate(metrics)])
    scaled = np.clip((values - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    angles = np.linspace(0, 2 * np.pi, len(metrics), endpoint=False)
    fig = plt.figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot(111, polar=True)
    for s, row in zip(names, scaled):
        ax.plot(np.append(angles, angles[0]), np.append(row, row[0]), label=s)
        ax.fill(np.append(angles, angles[0]), np.append(row, row[0]), alpha=0.15)
    ax.set_xticks(angles)
    ax.set_xticklabels(metrics, fontsize=8)
    ax.set_yticklabels([])
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize=8)
    return fig
