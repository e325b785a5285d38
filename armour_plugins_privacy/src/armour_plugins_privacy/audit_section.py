"""The privacy-risk section of ``armour audit``: membership inference against the model (threshold attacks in
quick, attack classifiers in standard, LiRA in thorough), ROC on log-log axes, TPR at low FPR, per-example
risk; and, for a model trained with DPModel, the ledger's ε."""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core import registry
from armour_core import report as R
from armour_core.audit.context import AuditContext, SectionResult

#: profile entries that are attack-classifier methods of the ``classifier`` plugin
_CLASSIFIERS = ("lr", "knn", "mlp", "rf")


def _attack(name: str, ctx: AuditContext) -> tuple[str, Any]:
    if name in _CLASSIFIERS:
        return f"classifier ({name})", registry.create("inference", "classifier", model=ctx.model, method=name,
                                                       seed=ctx.seed)
    if name == "lira":
        if not ctx.model_name or ctx.model_name not in registry.names("model"):
            raise ValueError("lira needs the model's architecture as a registered model name")
        return "lira", registry.create("inference", "lira", model=ctx.model, architecture=ctx.model_name,
                                       shadows=int(ctx.settings.get("shadows", 8)), seed=ctx.seed,
                                       progress=ctx.progress)
    return name, registry.create("inference", name, model=ctx.model, seed=ctx.seed)


def _verdict(auc: float, tpr1: float) -> str:
    """pass: AUC < 0.6 and TPR@1%FPR < 5%; fail: AUC >= 0.75 or TPR@1%FPR >= 20% (a real, targeted leak)."""
    if auc >= 0.75 or tpr1 >= 0.2:
        return "fail"
    if auc >= 0.6 or tpr1 >= 0.05:
        return "warn"
    return "pass"


def precheck(options: dict[str, Any]) -> None:
    """``armour audit --ledger``: verify the ledger (read-only, against ``--checkpoint`` when given) before any
    model is loaded, so a damaged, truncated or foreign ledger is refused before any computation."""
    if options.get("ledger"):
        from .dp.ledger import verify_ledger

        verify_ledger(options["ledger"], checkpoint=options.get("checkpoint"))


def _one_run_audits(ledger: Any, metrics: dict[str, Any], warnings: list[str]) -> tuple[str, str, bool] | None:
    """The ledger's one-run privacy audits as (html, headline suffix, violated): the empirical lower bound next
    to the ε the ledger's steps up to the audit claim (PLD); a bound above it FAILs the section."""
    from .dp.canaries import METHOD, ledger_audits

    audits = ledger_audits(ledger)
    if not audits:
        return None
    metrics["ledger"]["audits"] = [a.summary() for a in audits]
    rows = [[a.steps, f"{a.canaries} {a.kind}", f"{a.correct} / {a.guesses}", f"{a.epsilon_lower:.3f}",
             f"{a.claimed_epsilon:.3f}", f"{a.confidence:.0%}", "FAIL" if a.violated else "ok"] for a in audits]
    for a in audits:
        if a.violated:
            warnings.append("PRIVACY AUDIT FAILED: " + a.describe())
    last = audits[-1]
    html = (f"<h4>Privacy audit in the training run</h4><p>{R.esc(METHOD)}: canaries included with probability ½, "
            "guessed from the trained model; the number of correct guesses gives a lower bound on ε at the stated "
            "confidence. A bound above the claimed ε means the DP implementation or its accounting is wrong.</p>"
            + R.table(["after step", "canaries", "correct / guesses", "empirical ε ≥", "claimed ε", "confidence",
                       "verdict"], rows))
    suffix = (f"; one-run audit: empirical ε ≥ {last.epsilon_lower:.2f} vs claimed {last.claimed_epsilon:.2f}"
              + (" — AUDIT FAILED" if any(a.violated for a in audits) else ""))
    return html, suffix, any(a.violated for a in audits)


def privacy_section(ctx: AuditContext) -> SectionResult:
    from armour_core.api.inference import MembershipInference, plot_rocs

    s = ctx.settings
    if ctx.x_train is ctx.x_test or (len(ctx.x_train) == len(ctx.x_test) and np.array_equal(ctx.x_train, ctx.x_test)):
        return SectionResult(verdict="skipped", headline="no held-out data: membership inference needs the "
                             "training members and non-members (an .npz with x_train, y_train, x_test, y_test)")
    n = min(int(s.get("n", 300)), len(ctx.x_train), len(ctx.x_test))
    rng = np.random.default_rng(ctx.seed)
    mi = rng.permutation(len(ctx.x_train))[:n]
    ni = rng.permutation(len(ctx.x_test))[:n]
    xm, ym, xn, yn = ctx.x_train[mi], ctx.y_train[mi], ctx.x_test[ni], ctx.y_test[ni]
    half = n // 2  # attacks that learn are fitted on one half and evaluated on the other
    reports, rows, warnings = [], [], []
    for name in s.get("attacks", ["loss_threshold", "entropy"]):
        base = "classifier" if name in _CLASSIFIERS else name
        if base not in registry.names("inference"):
            warnings.append(f"membership attack {name!r} is not installed; skipped")
            continue
        label, attack = _attack(name, ctx)
        if name == "lira":
            attack.fit(xm, ym, xn, yn)  # LiRA fits shadows on the pool; its scores need no held-out half
            rep = attack.evaluate(xm, ym, xn, yn)
        elif attack.needs_fit or type(attack)._fit is not MembershipInference._fit:  # it learns something
            attack.fit(xm[:half], ym[:half], xn[:half], yn[:half])
            rep = attack.evaluate(xm[half:], ym[half:], xn[half:], yn[half:])
        else:
            rep = attack.evaluate(xm, ym, xn, yn)
        reports.append((label, rep))
        rows.append([label, rep.n_member, rep.auc, rep.tpr_at_fpr.get(0.001, float("nan")),
                     rep.tpr_at_fpr.get(0.01, float("nan")), rep.balanced_accuracy])
        warnings.extend(f"{label}: {note}" for note in rep.notes)
    if not reports:
        return SectionResult(verdict="error", headline="no membership-inference attack is installed",
                             warnings=warnings)
    worst_label, worst = max(reports, key=lambda lr: lr[1].auc)
    tpr1 = max(r.tpr_at_fpr.get(0.01, 0.0) for _, r in reports)
    verdict = _verdict(worst.auc, tpr1)
    headline = (f"best membership attack AUC {worst.auc:.3f} ({worst_label}); max TPR at 1% FPR {tpr1:.3f} "
                f"on {n} members vs {n} non-members")
    fig_ax = plot_rocs([r for _, r in reports], labels=[label for label, _ in reports])
    body = (f"<p>Members: {n} training examples; non-members: {n} held-out examples. Attacks that learn are "
            "fitted on half of each and evaluated on the other half.</p>"
            + R.table(["attack", "members evaluated", "ROC AUC", "TPR@0.1%FPR", "TPR@1%FPR",
                       "balanced accuracy"], rows)
            + R.img(R.figure_uri(fig_ax.figure), "ROC curves on log-log axes (low FPR is where leaks matter)"))
    metrics: dict[str, Any] = {"n": n, "attacks": {label: r.summary() for label, r in reports},
                               "worst_auc": worst.auc, "max_tpr_at_1pct_fpr": tpr1,
                               "risk_member": reports[0][1].risk_member.tolist()}
    if ctx.ledger:
        from .dp.ledger import verify_ledger

        ckpt = ctx.ledger_checkpoint
        ledger = verify_ledger(ctx.ledger, checkpoint=ckpt)  # read-only; a bad or foreign ledger raises
        delta = float(ledger.header.get("delta") or s.get("delta", 1e-5))
        eps = ledger.epsilon(delta)
        tied = (f"its hash chain reaches the head stamped into {ckpt}" if ckpt else
                "no checkpoint was given, so a ledger cut at a record boundary could not be detected")
        metrics["ledger"] = {"path": str(ctx.ledger), "steps": ledger.num_steps, "charged": ledger.charged_steps,
                             "voided": [v["step"] for v in ledger.voids], "delta": delta, "epsilon": eps,
                             "head": ledger.head.encode(), "checkpoint_verified": bool(ckpt),
                             "mac": ledger.mac_status, "repairs": len(ledger.repairs)}
        if not ckpt:
            warnings.append("privacy ledger: not checked against a checkpoint (pass --checkpoint)")
        if ledger.mac_status.startswith("not checked"):
            warnings.append(f"privacy ledger: MAC {ledger.mac_status}")
        body += (f"<h3>Differential privacy</h3><p>The training ledger records {R.esc(ledger.summary())}; "
                 f"the {ledger.num_steps} steps taken give ε = {eps:.3f} at δ = {delta:g} by the PLD accountant"
                 + (" (a voided step failed before any of it was released, so it is not counted)" if ledger.voids
                    else "") + ". Every record verified against the hash "
                 f"chain; {tied}; MAC: {ledger.mac_status}"
                 + (f"; {len(ledger.repairs)} damaged record(s) removed by an explicit repair" if ledger.repairs
                    else "") + ".</p>")
        headline += f"; trained with DP: ε = {eps:.2f} at δ = {delta:g}" + (f" ({ledger.summary()})" if ledger.voids
                                                                             else "")
        audited = _one_run_audits(ledger, metrics, warnings)
        if audited:
            body += audited[0]
            headline += audited[1]
            if audited[2]:
                verdict = "fail"
    return SectionResult(verdict=verdict, headline=headline, metrics=metrics, html=body, warnings=warnings)
