"""The robustness section of ``armour audit``: the profile's attack suite at several ε, point-wise worst case,
reliability warnings and example grids (via :func:`~armour_plugins_attacks.evaluation.evaluate_robustness`).

The ε grid fits the data (:func:`armour_core.audit.profiles.eps_grid`, or ``--eps``), and the report states
the ε the verdict is judged at and the thresholds (``criteria`` in the JSON, one sentence in the HTML)."""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core import registry
from armour_core import report as R
from armour_core.audit.context import AuditContext, SectionResult
from armour_core.audit.profiles import eps_grid, format_eps

#: attacks whose iteration count follows the profile's ``steps`` setting
_ITERATIVE = {"pgd", "bim", "mim", "apgd", "apgd_t", "difgsm", "mdifgsm", "vmifgsm"}

#: worst-case robust accuracy / clean accuracy at the judged ε: PASS at or above ``pass``, WARN at or above
#: ``warn``, FAIL below
THRESHOLDS = {"pass": 0.5, "warn": 0.2}


def _verdict(clean: float, robust: float, warnings: int) -> tuple[str, float]:
    """pass: the worst case keeps at least half the clean accuracy at the judged ε; fail: under a fifth."""
    ratio = robust / clean if clean > 0 else 0.0
    verdict = "pass" if ratio >= THRESHOLDS["pass"] else ("warn" if ratio >= THRESHOLDS["warn"] else "fail")
    if verdict == "pass" and warnings:
        verdict = "warn"  # unreliable evaluation: the robust accuracy may be overstated
    return verdict, ratio


def robustness_section(ctx: AuditContext) -> SectionResult:
    from ..evaluation import evaluate_robustness
    from ..evaluation.report import robustness_sections

    s = ctx.settings
    n = min(int(s.get("n", 200)), len(ctx.x_test))
    x, y = ctx.x_test[:n], ctx.y_test[:n]
    available = set(registry.names("attack"))
    names = [a for a in s.get("attacks", ["fgsm", "pgd"]) if a in available]
    skipped = [a for a in s.get("attacks", []) if a not in available]
    items: list[Any] = [(a, {"steps": int(s["steps"])}) if a in _ITERATIVE and "steps" in s else a for a in names]
    grid = eps_grid(np.shape(x)[1:], ctx.bounds, s)
    eps = list(grid.values)
    model = ctx.model_ref if ctx.executor is not None and ctx.model_ref is not None else ctx.model
    rep = evaluate_robustness(model, x, y, attacks=items, eps=eps, seed=ctx.seed, progress=ctx.progress,
                              executor=ctx.executor)
    i = int(np.argmin([abs(e - grid.reference) for e in rep.eps]))
    robust = float(rep.worst_case[i])
    verdict, ratio = _verdict(rep.clean_accuracy, robust, len(rep.warnings))
    at = format_eps(rep.eps[i])
    headline = (f"worst-case robust accuracy {robust:.3f} at ε={at} ({rep.norm}) over "
                f"{', '.join(names)}; clean accuracy {rep.clean_accuracy:.3f}")
    criteria = {
        "rule": (f"Verdict judged at ε = {at} ({rep.norm}): worst-case robust accuracy / clean accuracy = "
                 f"{ratio:.3f}; PASS when ≥ {THRESHOLDS['pass']:g}, WARN when ≥ {THRESHOLDS['warn']:g}, FAIL "
                 f"below (a PASS with reliability warnings is reported as WARN). ε grid "
                 f"{', '.join(format_eps(e) for e in rep.eps)}: {grid.rule}."),
        "judged_at": {"eps": float(rep.eps[i]), "norm": rep.norm},
        "thresholds": dict(THRESHOLDS),
        "measured": {"ratio": ratio, "robust_accuracy": robust, "clean_accuracy": float(rep.clean_accuracy)},
        "grid": {"values": [float(e) for e in rep.eps], "source": grid.source, "rule": grid.rule},
    }
    body = "".join(f"<h3>{R.esc(sec.title)}</h3>{sec.body}" for sec in robustness_sections(rep, bounds=ctx.bounds))
    warnings = [f"[{w.kind}] {w.message}" for w in rep.warnings]
    if skipped:
        warnings.append(f"attacks not installed and skipped: {', '.join(skipped)}")
    metrics = {"n": rep.n, "norm": rep.norm, "eps": list(rep.eps), "clean_accuracy": rep.clean_accuracy,
               "robust_accuracy": {k: [float(v) for v in vals] for k, vals in rep.robust_accuracy.items()},
               "worst_case": [float(v) for v in rep.worst_case], "reference_eps": float(rep.eps[i]),
               "budget": {k: {kk: float(vv) for kk, vv in b.items()} for k, b in rep.budget.items()},
               "worst_case_per_sample": rep.robust_mask[i].astype(bool).tolist()}
    return SectionResult(verdict=verdict, headline=headline, metrics=metrics, html=body, warnings=warnings,
                         criteria=criteria)
