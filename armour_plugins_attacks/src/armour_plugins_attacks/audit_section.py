"""The robustness section of ``armour audit``: the profile's attack suite at several ε, point-wise worst case,
reliability warnings and example grids (via :func:`~armour_plugins_attacks.evaluation.evaluate_robustness`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core import registry
from armour_core import report as R
from armour_core.audit.context import AuditContext, SectionResult

#: attacks whose iteration count follows the profile's ``steps`` setting
_ITERATIVE = {"pgd", "bim", "mim", "apgd", "apgd_t", "difgsm", "mdifgsm", "vmifgsm"}


def _verdict(clean: float, robust: float, warnings: int) -> str:
    """pass: the worst case keeps at least half the clean accuracy at the reference ε; fail: under a fifth."""
    ratio = robust / clean if clean > 0 else 0.0
    verdict = "pass" if ratio >= 0.5 else ("warn" if ratio >= 0.2 else "fail")
    if verdict == "pass" and warnings:
        verdict = "warn"  # unreliable evaluation: the robust accuracy may be overstated
    return verdict


def robustness_section(ctx: AuditContext) -> SectionResult:
    from .evaluation import evaluate_robustness
    from .evaluation.report import robustness_sections

    s = ctx.settings
    n = min(int(s.get("n", 200)), len(ctx.x_test))
    x, y = ctx.x_test[:n], ctx.y_test[:n]
    available = set(registry.names("attack"))
    names = [a for a in s.get("attacks", ["fgsm", "pgd"]) if a in available]
    skipped = [a for a in s.get("attacks", []) if a not in available]
    items: list[Any] = [(a, {"steps": int(s["steps"])}) if a in _ITERATIVE and "steps" in s else a for a in names]
    eps = [float(e) for e in s.get("eps", [0.1])]
    rep = evaluate_robustness(ctx.model, x, y, attacks=items, eps=eps, seed=ctx.seed, progress=ctx.progress)
    ref = float(s.get("reference_eps", 0.1))
    i = int(np.argmin([abs(e - ref) for e in eps]))
    robust = float(rep.worst_case[i])
    verdict = _verdict(rep.clean_accuracy, robust, len(rep.warnings))
    headline = (f"worst-case robust accuracy {robust:.3f} at ε={eps[i]:g} ({rep.norm}) over "
                f"{', '.join(names)}; clean accuracy {rep.clean_accuracy:.3f}")
    body = "".join(f"<h3>{R.esc(sec.title)}</h3>{sec.body}" for sec in robustness_sections(rep, bounds=ctx.bounds))
    warnings = [f"[{w.kind}] {w.message}" for w in rep.warnings]
    if skipped:
        warnings.append(f"attacks not installed and skipped: {', '.join(skipped)}")
    metrics = {"n": rep.n, "norm": rep.norm, "eps": list(rep.eps), "clean_accuracy": rep.clean_accuracy,
               "robust_accuracy": {k: [float(v) for v in vals] for k, vals in rep.robust_accuracy.items()},
               "worst_case": [float(v) for v in rep.worst_case], "reference_eps": eps[i],
               "budget": {k: {kk: float(vv) for kk, vv in b.items()} for k, b in rep.budget.items()},
               "worst_case_per_sample": rep.robust_mask[i].astype(bool).tolist()}
    return SectionResult(verdict=verdict, headline=headline, metrics=metrics, html=body, warnings=warnings)
