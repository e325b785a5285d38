"""What a fuzzing run returns: coverage over time, findings with their mutation chains, per-mutator
effectiveness, the corpus; as JSON and as a section of armour's HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np

from armour_core import report as rpt

from .corpus import chain_to_json


@attrs.define
class MutatorStats:
    """Per-mutator counters: mutants made, valid ones (DeepHunter's constraints), kept in the corpus,
    failures found (the mutator was the chain's last step)."""

    tried: int = 0
    valid: int = 0
    kept: int = 0
    failures: int = 0

    def asdict(self) -> dict[str, int]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class FuzzReport:
    """The result of :meth:`armour_plugins_fuzz.fuzzer.Fuzzer.run`.

    ``coverage_history[c][i]`` is criterion ``c`` after iteration ``i`` (index 0: after the initial seeds).
    ``findings[j]`` describes ``findings_x[j]``: which oracles failed (``kinds``), the seed's label, the
    model's prediction, the initial seed's index, the parent corpus entry and the mutation chain.
    """

    iterations: int
    seconds: float
    resumed_from: int | None
    seeds: int
    seeds_misclassified: int  #: initial seeds that already fail an oracle (reported, not fuzzed)
    coverage: dict[str, float]
    coverage_history: dict[str, np.ndarray]
    mutators: dict[str, MutatorStats]
    findings: list[dict[str, Any]]
    findings_x: np.ndarray
    corpus_x: np.ndarray
    corpus_refs: np.ndarray  #: each entry's lineage reference (its seed, moved by the lineage's affine step)
    corpus_labels: np.ndarray
    corpus_roots: np.ndarray
    corpus_gains: np.ndarray  #: largest per-criterion coverage gain each entry brought when it joined
    corpus_chains: list[list[dict[str, Any]]]
    seeds_x: np.ndarray
    bounds: tuple[float, float]
    config: dict[str, Any]
    #: a merged job (:mod:`.campaigns`): one summary per campaign; ``coverage`` is then the union of theirs and
    #: ``coverage_history`` the best campaign's coverage at each iteration
    campaigns: list[dict[str, Any]] = attrs.field(factory=list)

    @classmethod
    def build(cls, fuzzer: Any, corpus: Any, findings: Any, history: dict[str, list[float]],
              stats: dict[str, MutatorStats], *, iterations: int, seconds: float, seeds: int,
              seeds_misclassified: int, resumed_from: int | None, seeds_x: np.ndarray | None = None) -> "FuzzReport":
        config = {"mutators": {m.key: {"name": m.name, "category": m.category,
                                       "config": {k: repr(v) for k, v in m.config.items()}} for m in fuzzer.mutators},
                  "criteria": list(fuzzer.criteria), "gain_threshold": dict(fuzzer.thresholds),
                  "scheduler": type(fuzzer.scheduler).__name__, "mutants_per_seed": fuzzer.mutants_per_seed,
                  "alpha": fuzzer.alpha, "beta": fuzzer.beta, "oracles": list(fuzzer.oracles), "seed": fuzzer.seed,
                  "corpus_dir": None if fuzzer.corpus_dir is None else str(fuzzer.corpus_dir)}
        return cls(iterations=iterations, seconds=seconds, resumed_from=resumed_from, seeds=seeds,
                   seeds_misclassified=seeds_misclassified,
                   coverage={k: float(v[-1]) for k, v in history.items()},
                   coverage_history={k: np.asarray(v, dtype=np.float64) for k, v in history.items()},
                   mutators={k: MutatorStats(**s.asdict()) for k, s in stats.items()},
                   findings=list(findings.meta), findings_x=findings.x.copy(), corpus_x=corpus.x.copy(),
                   corpus_refs=corpus.ref.copy(),
                   corpus_labels=corpus.col("label").copy(), corpus_roots=corpus.col("root").copy(),
                   corpus_gains=corpus.col("gain").copy(),
                   corpus_chains=[chain_to_json(c) for c in corpus.chains],
                   seeds_x=np.empty((0,)) if seeds_x is None else seeds_x, bounds=tuple(fuzzer.bounds),
                   config=config)

    # ------------------------------------------------------------------ summaries
    @property
    def failures(self) -> int:
        """Failing mutants found (initial seeds the model already fails on are not counted)."""
        return sum(1 for f in self.findings if f["chain"])

    @property
    def iterations_per_second(self) -> float:
        done = self.iterations - (self.resumed_from or 0)
        return done / self.seconds if self.seconds > 0 else 0.0

    def failures_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            if f["chain"]:
                for k in f["kinds"]:
                    out[k] = out.get(k, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (arrays of inputs are left out; see ``findings_x`` and ``corpus_x``)."""
        return {"iterations": self.iterations, "seconds": self.seconds, "resumed_from": self.resumed_from,
                "iterations_per_second": self.iterations_per_second, "seeds": self.seeds,
                "seeds_misclassified": self.seeds_misclassified, "corpus_size": int(len(self.corpus_x)),
                "failures": self.failures, "failures_by_kind": self.failures_by_kind(),
                "seeds_with_failures": len({f["seed_index"] for f in self.findings if f["chain"]}),
                "coverage": self.coverage,
                "coverage_history": {k: v.tolist() for k, v in self.coverage_history.items()},
                "mutators": {k: s.asdict() for k, s in self.mutators.items()},
                "findings": self.findings, "config": self.config,
                **({"campaigns": self.campaigns} if self.campaigns else {})}

    # ------------------------------------------------------------------ HTML
    def _coverage_plot(self) -> str:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 3.2))
        for k, v in self.coverage_history.items():
            ax.plot(np.arange(len(v)), v, label=k)
        ax.set_xlabel("iteration")
        ax.set_ylabel("coverage")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return rpt.img(rpt.figure_uri(fig), "coverage per criterion over iterations")

    def _failure_grid(self, limit: int = 10) -> str:
        mutated = [j for j, f in enumerate(self.findings) if f["chain"]][:limit]
        sample = self.findings_x.shape[1:] if self.findings_x.ndim > 1 else ()
        if not mutated or len(self.seeds_x) == 0 or len(sample) not in (2, 3) or \
                (len(sample) == 3 and sample[0] not in (1, 3)):
            return ""
        seeds = [self.seeds_x[self.findings[j]["seed_index"]] for j in mutated]
        fails = [self.findings_x[j] for j in mutated]
        titles = [f"{self.findings[j]['label']}→{self.findings[j]['prediction']}" for j in mutated]
        return rpt.image_grid([np.stack(seeds), np.stack(fails)], ["seed", "failing"], titles, bounds=self.bounds,
                              title="failing inputs (bottom) and the seeds they came from (top): label→prediction")

    def html_section(self, section_id: str = "fuzzing") -> rpt.Section:
        summary = rpt.table(["quantity", "value"], [
            ("iterations", self.iterations), ("iterations / second", self.iterations_per_second),
            ("initial seeds (already failing)", f"{self.seeds} ({self.seeds_misclassified})"),
            ("corpus size", int(len(self.corpus_x))), ("failing mutants", self.failures),
            ("seeds with a failing mutant", len({f["seed_index"] for f in self.findings if f["chain"]})),
            *((f"coverage: {k}", v) for k, v in self.coverage.items()),
            *((f"failures: {k}", v) for k, v in self.failures_by_kind().items())])
        muts = rpt.table(["mutator", "category", "tried", "valid", "kept", "failures", "kept / valid"],
                         [(k, self.config["mutators"][k]["category"], s.tried, s.valid, s.kept, s.failures,
                           (s.kept / s.valid) if s.valid else 0.0) for k, s in self.mutators.items()])
        chains = ""
        examples = [f for f in self.findings if f["chain"]][:10]
        if examples:
            rows = [(f["seed_index"], ", ".join(f["kinds"]), f"{f['label']}→{f['prediction']}",
                     " → ".join(s["mutator"] for s in f["chain"])) for f in examples]
            chains = "<h3>First failures and their mutation chains</h3>" + rpt.table(
                ["seed", "oracle", "label→prediction", "mutation chain"], rows)
        runs = ""
        if self.campaigns:
            runs = ("<h3>Campaigns (merged above: coverage is their union, the corpus merged by coverage gain, "
                    "findings deduplicated)</h3>" + rpt.table(
                        ["campaign", "seed", "iterations", "corpus", "failures", "coverage"],
                        [(c["campaign"], c["seed"], c["iterations"], c["corpus_size"], c["failures"],
                          ", ".join(f"{k} {v:.4f}" for k, v in c["coverage"].items())) for c in self.campaigns]))
        body = (summary + self._coverage_plot() + runs + "<h3>Mutators</h3>" + muts + self._failure_grid() + chains)
        return rpt.Section(id=section_id, title="Coverage-guided fuzzing", body=body)

    def write(self, out_dir: str | Path, name: str = "fuzz") -> tuple[Path, Path]:
        """``name.html`` and ``name.json`` in ``out_dir`` (atomically)."""
        section = self.html_section()
        return rpt.write(out_dir, name, rpt.page("armour fuzzing report", [section]), self.to_dict())
