"""The certified-robustness section of ``armour audit`` (standard and thorough profiles): certified accuracy of
the randomized-smoothing classifier built on the audited model, at several L2 radii."""

from __future__ import annotations

from armour_core import registry
from armour_core.audit.context import AuditContext, SectionResult

from . import report
from .records import AUDIT_PROFILES

#: PASS when the smoothed classifier certifies at least this share of points correctly at the judged radius
#: (the profile's second radius), WARN above zero, FAIL at zero
THRESHOLDS = {"pass": 0.5, "warn": 0.0}


def certified_section(ctx: AuditContext) -> SectionResult:
    s = ctx.settings
    if ctx.profile not in AUDIT_PROFILES:
        return SectionResult(verdict="skipped", headline=f"not part of the {ctx.profile} profile (standard and "
                                                         "thorough certify the model)")
    n = min(int(s["n_points"]), len(ctx.x_test))
    x, y = ctx.x_test[:n], ctx.y_test[:n]
    certifier = registry.create("certifier", "randomized_smoothing", model=ctx.model, sigma=float(s["sigma"]),
                                n0=int(s["n0"]), n=int(s["n"]), alpha=float(s["alpha"]), seed=ctx.seed)
    cert = certifier.certify(x, progress=ctx.progress)
    radii = [float(r) for r in s["radii"]]
    summ = report.summary(cert, y, radii, certifier.config)
    i = min(1, len(radii) - 1)
    judged = summ["certified_accuracy"][i]
    verdict = "pass" if judged >= THRESHOLDS["pass"] else ("warn" if judged > THRESHOLDS["warn"] else "fail")
    headline = (f"certified accuracy {judged:.3f} at L2 radius {radii[i]:g} (σ = {summ['sigma']:g}); abstain rate "
                f"{summ['abstain_rate']:.3f}")
    criteria = {"rule": (f"Judged at L2 radius {radii[i]:g}: certified accuracy of the smoothed classifier; PASS "
                         f"when ≥ {THRESHOLDS['pass']:g}, WARN when > 0, FAIL at 0 (train the model with Gaussian "
                         f"noise of σ = {summ['sigma']:g}: armour certify --train-epochs)."),
                "judged_at": {"radius": radii[i], "norm": "l2"}, "thresholds": dict(THRESHOLDS),
                "measured": {"certified_accuracy": judged}}
    warnings = []
    if summ["abstain_rate"] > 0.5:
        warnings.append(f"the smoothed classifier abstains on {summ['abstain_rate']:.0%} of points: the model is "
                        f"not accurate under noise of σ = {summ['sigma']:g}")
    return SectionResult(verdict=verdict, headline=headline, metrics=summ, html=report.html(summ),
                         warnings=warnings, criteria=criteria)
