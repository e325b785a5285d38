"""Run the audit sections and write ``report.html`` and ``report.json``."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path
from collections.abc import Iterable
from typing import Any

from .. import __version__, registry
from ..report import Raw, Section, esc, page, table, write
from ..specs import AuditSectionSpec
from .context import AuditContext, SectionResult
from .profiles import PROFILES
from .schema import SCHEMA_VERSION


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _badge(verdict: str) -> str:
    css = {"pass": "verdict-pass", "warn": "verdict-warn", "fail": "verdict-fail"}.get(verdict, "muted")
    return f'<span class="{css}">{esc(verdict.replace("_", " ").upper())}</span>'


def missing_first_party(sections: Iterable[AuditSectionSpec]) -> list[str]:
    """First-party distributions that contribute no section (absent, broken or too old): each gets a "not
    installed" section keyed by its distribution name, after the sections that ran. Every first-party
    distribution contributes one (its record gives title, order and profiles; core knows only the name)."""
    have = {s.dist for s in sections}
    return [d for d in registry.FIRST_PARTY if d not in have]


def run_audit(ctx: AuditContext, *, command: str = "", title: str | None = None,
              progress: bool | None = None,
              overrides: dict[str, dict[str, Any]] | None = None) -> tuple[Path, Path, dict[str, Any]]:
    """Run every installed section for ``ctx`` and write the report into ``ctx.out_dir``.

    ``overrides`` replaces individual profile settings per section (e.g. a smaller sample in tests).
    Returns the HTML path, the JSON path and the report data.
    """
    if ctx.profile not in PROFILES:
        raise ValueError(f"profile: expected one of {', '.join(PROFILES)}, got {ctx.profile!r}")
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    specs = {s.name: s for s in registry.audit_sections()}
    missing = missing_first_party(specs.values())
    results: dict[str, dict[str, Any]] = {}
    timing: dict[str, float] = {}
    for name in [*specs, *missing]:
        spec = specs.get(name)
        if spec is None:
            title_ = dist = name
            from ..registry import _dist_installed

            disabled = [st for st in registry.status() if st.dist == dist and st.state != "ok"]
            if disabled:
                why = f"is installed but {disabled[0].state} ({disabled[0].error})"
            elif _dist_installed(dist):
                why = "is installed but provides no audit section (upgrade it)"
            else:
                why = "is not installed"
            res = SectionResult(verdict="not_installed", headline=f"{dist} {why}",
                                html=f"<p>This section needs <code>{esc(dist)}</code>: "
                                     f"<code>pip install {esc(dist)}</code>.</p>")
            seconds, install = 0.0, f"pip install {dist}"
        else:
            title_, dist, install = spec.title, spec.dist, ""
            ctx.settings = {**spec.profiles.get(ctx.profile, {}), **(overrides or {}).get(name, {})}
            if progress is not False:
                print(f"[audit] {title_} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                res = registry.import_target(spec.target)(ctx)
                if not isinstance(res, SectionResult):
                    raise TypeError(f"section {name!r} returned {type(res).__name__}, not SectionResult")
            except Exception as exc:  # noqa: BLE001 - one failing section must not lose the others
                res = SectionResult(verdict="error", headline=f"{type(exc).__name__}: {exc}",
                                    html=f"<pre>{esc(traceback.format_exc())}</pre>")
            seconds = time.perf_counter() - t0
            if progress is not False:
                print(f"[audit] {title_}: {res.verdict} ({seconds:.1f} s)", file=sys.stderr, flush=True)
        timing[name] = round(seconds, 3)
        results[name] = {"title": title_, "verdict": res.verdict, "headline": res.headline, "metrics": res.metrics,
                         "warnings": list(res.warnings), "seconds": round(seconds, 3), "dist": dist,
                         **({"install": install} if install else {}),
                         **({"criteria": res.criteria} if res.criteria else {}), "_html": res.html}
    manifest = {
        "armour_core": __version__,
        "plugins": {d: _version(d) for d in sorted({s.dist for s in registry.specs()} - {"armour-core"})},
        "mindspore": _version("mindspore"), "numpy": _version("numpy"), "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}", "profile": ctx.profile, "seed": ctx.seed,
        "command": command, "model": ctx.model_name, "dataset": ctx.dataset_name, "timing_seconds": timing,
        "started_at": started,
    }
    summary = [{"section": k, "title": v["title"], "verdict": v["verdict"], "headline": v["headline"]}
               for k, v in results.items()]
    title = title or f"armour audit: {ctx.model_name} on {ctx.dataset_name} ({ctx.profile})"
    html_sections = [Section("summary", "Summary", table(
        ["area", "verdict", "figure"], [(s["title"], Raw(_badge(s["verdict"])), s["headline"]) for s in summary]))]
    for name, v in results.items():
        warn = "".join(f'<div class="warning">{esc(w)}</div>' for w in v["warnings"])
        rule = f'<p class="criteria">{esc(v["criteria"]["rule"])}</p>' if v.get("criteria") else ""
        html_sections.append(Section(name, v["title"], f"<p>{_badge(v['verdict'])} {esc(v['headline'])}</p>"
                                     f"{rule}{warn}{v['_html']}"))
    html_sections.append(Section("manifest", "Manifest", table(
        ["item", "value"], [(k, v if not isinstance(v, dict) else ", ".join(f"{a}: {b}" for a, b in v.items()))
                            for k, v in manifest.items()])))
    data = {"schema_version": SCHEMA_VERSION, "title": title, "manifest": manifest, "summary": summary,
            "sections": {k: {kk: vv for kk, vv in v.items() if kk != "_html"} for k, v in results.items()}}
    html_path, json_path = write(ctx.out_dir, "report", page(title, html_sections), data)
    return html_path, json_path, data
