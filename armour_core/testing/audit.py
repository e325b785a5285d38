"""Audit checks for first-party distributions: with a distribution installed alone, its own audit section
runs and its siblings' sections say which ``pip install`` adds them, the rest of the report intact."""

from __future__ import annotations

from pathlib import Path

#: a small audit: the quick profile's code paths on fewer points and iterations
SMALL = {"robustness": {"n": 40, "eps": [0.1], "steps": 3},
         "testing": {"max_iters": 3, "seeds": 12, "batch": 6},
         "privacy": {"n": 80}}


def check_audit_alone(section: str, out_dir: Path) -> dict:
    """Run a small audit on the default model; ``section`` must run, every missing distribution's section
    must be a "not installed" section naming its ``pip install``. Returns the report."""
    from ..audit.context import AuditContext
    from ..audit.runner import run_audit
    from ..audit.schema import validate
    from ..ms import pretrained as pt
    from ..registry import FIRST_PARTY, _dist_installed

    pre = pt.pretrained("lenet5", "digits")
    d = pre.dataset
    ctx = AuditContext(model=pre.model, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
                       num_classes=d.num_classes, bounds=d.bounds, profile="quick", seed=0, out_dir=out_dir,
                       model_name="lenet5", dataset_name="digits", train_fn=pt.trainer("lenet5", d))
    html, _, report = run_audit(ctx, progress=False, overrides=SMALL)
    validate(report)
    sections = report["sections"]
    assert sections[section]["verdict"] in ("pass", "warn", "fail"), sections[section]
    page = html.read_text()
    for dist in FIRST_PARTY:
        if not _dist_installed(dist):
            assert sections[dist]["verdict"] == "not_installed", sections[dist]
            assert f"pip install {dist}" in page
    return report
