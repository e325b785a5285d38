"""HTML sections for a :class:`~.robustness.RobustnessReport` (used by ``armour evaluate`` and audits)."""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core import report as R

from .robustness import RobustnessReport


def robustness_sections(rep: RobustnessReport, *, description: str = "",
                        bounds: tuple[float, float] = (0.0, 1.0)) -> list[R.Section]:
    """Summary table, robust-accuracy-vs-ε curves, reliability warnings, budgets and an example grid."""
    eps = list(rep.eps)
    headers = ["attack", "threat model", *[f"ε={e:g}" for e in eps]]
    rows = [[label, rep.threat_models[label], *accs] for label, accs in rep.robust_accuracy.items()]
    rows.append(["worst case (point-wise)", "ensemble", *rep.worst_case])
    summary = (f"<p>{R.esc(description)}</p>" if description else "") + (
        f"<p>{rep.n} points, clean accuracy <b>{rep.clean_accuracy:.3f}</b>, {R.esc(rep.norm)} threat model. "
        f"Worst-case robust accuracy at the largest budget (ε={eps[-1]:g}): <b>{rep.worst_case[-1]:.3f}</b>. "
        "A point counts as robust only if it is classified correctly before the attack and after every attack."
        "</p>") + R.table(headers, rows)

    xs = ([0.0] if eps[0] > 0 else []) + eps
    lead = [rep.clean_accuracy] if eps[0] > 0 else []
    series = {label: lead + list(accs) for label, accs in rep.robust_accuracy.items()}
    series["worst case"] = lead + list(rep.worst_case)
    curves = R.line_chart(xs, series, xlabel=f"ε ({rep.norm})", ylabel="robust accuracy", ylim=(-0.02, 1.02),
                          title="robust accuracy vs ε (ε = 0: clean accuracy)", highlight="worst case")

    checks = ("black-box vs white-box agreement, vanishing input gradients, determinism of the model and of each "
              "attack under a fixed seed, robust accuracy non-increasing in ε")
    if rep.warnings:
        warn = R.warnings_html([f"[{w.kind}] {w.message}" for w in rep.warnings])
    else:
        warn = '<p class="verdict-pass">No reliability warnings.</p>'
    warn += f'<p class="muted">Checks: {R.esc(checks)}.</p>'

    budget_rows = [[label, rep.threat_models[label], b["forward_calls"], b["backward_calls"], b["queries"],
                    b["seconds"]] for label, b in rep.budget.items()]
    budget = R.table(["attack", "threat model", "forward passes", "backward passes", "queries", "seconds"],
                     budget_rows)
    budget += ('<p class="muted">Forward/backward count batch passes; queries count per-sample model '
               "evaluations (the black-box budget), summed over every ε.</p>")

    sections = [R.Section("summary", "Robust accuracy", summary + curves),
                R.Section("reliability", "Reliability checks", warn),
                R.Section("budget", "Attack budgets", budget)]
    grid = example_grid(rep, bounds=bounds)
    if grid:
        sections.append(R.Section("examples", "Clean and adversarial examples", grid))
    return sections


def example_grid(rep: RobustnessReport, *, bounds: tuple[float, float] = (0.0, 1.0)) -> str:
    """Clean inputs and, per ε, the worst-case adversarial example with the model's label (images only)."""
    ex: dict[str, Any] = rep.examples
    if not ex:
        return ""
    x = np.asarray(ex["x"])
    if x.ndim not in (3, 4):
        return '<p class="muted">Inputs are not images; no example grid.</p>'
    rows = [x] + [np.asarray(a) for a in ex["adversarial"]]
    titles = ["clean"] + [f"ε={e:g}" for e in rep.eps]
    cols = [f"y={int(t)} → {int(p)}" for t, p in zip(ex["y"], ex["clean_prediction"])]
    html = R.image_grid(rows, titles, cols, bounds=bounds,
                        title="row 1: clean inputs (true → predicted label); below: the worst-case adversarial "
                              "example per ε (the clean input where no attack succeeded)")
    preds = [[titles[i + 1], *[int(p) for p in pr]] for i, pr in enumerate(ex["prediction"])]
    return html + R.table(["predicted label", *[f"#{j}" for j in range(len(cols))]],
                          [["clean", *[int(p) for p in ex["clean_prediction"]]], *preds])
