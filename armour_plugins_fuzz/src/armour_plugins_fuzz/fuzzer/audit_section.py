"""The testing section of ``armour audit``: a coverage-guided fuzzing run from correctly classified test
inputs, with coverage over time, failures found and per-mutator effectiveness."""

from __future__ import annotations

import numpy as np

from armour_core import registry
from armour_core.audit.context import AuditContext, SectionResult


def _mutators() -> list[str]:
    """Every installed pixel and affine mutator (grouped by the records' facets, not by name)."""
    out = []
    for name in registry.names("mutator"):
        facet = registry.spec("mutator", name).facet
        if facet is not None and facet.category in ("pixel", "affine"):
            out.append(name)
    return out


def testing_section(ctx: AuditContext) -> SectionResult:
    from .fuzzer import Fuzzer

    s = ctx.settings
    x, y = np.asarray(ctx.x_test), np.asarray(ctx.y_test)
    ok = np.asarray(ctx.model.predict(x)) == y
    n = min(int(s.get("seeds", 40)), int(ok.sum()))
    seeds_x, seeds_y = x[ok][:n], y[ok][:n]
    criteria = [c for c in s.get("coverage", ["neuron"]) if c in registry.names("coverage")] or ["neuron"]
    fuzzer = Fuzzer(ctx.model, mutators=_mutators(), coverage=criteria, scheduler="deephunter",
                    mutants_per_seed=int(s.get("batch", 16)), x_train=ctx.x_train[:1000], y_train=ctx.y_train[:1000],
                    seed=ctx.seed)
    rep = fuzzer.run(seeds_x, seeds_y, max_iters=int(s.get("max_iters", 30)), progress=ctx.progress)
    summary = rep.to_dict()
    with_failures = summary["seeds_with_failures"]
    share = with_failures / max(n, 1)
    # pass: fuzzing found no failing input; fail: a quarter or more of the seeds led to one.
    verdict = "pass" if rep.failures == 0 else ("warn" if share < 0.25 else "fail")
    cov = ", ".join(f"{k} {v:.3f}" for k, v in rep.coverage.items())
    headline = (f"{rep.failures} failing inputs from {with_failures}/{n} seeds in {rep.iterations} iterations; "
                f"coverage {cov}")
    metrics = {k: summary[k] for k in ("iterations", "seeds", "seeds_misclassified", "corpus_size", "failures",
                                       "failures_by_kind", "seeds_with_failures", "coverage", "coverage_history",
                                       "mutators")}
    return SectionResult(verdict=verdict, headline=headline, metrics=metrics, html=rep.html_section().body)
