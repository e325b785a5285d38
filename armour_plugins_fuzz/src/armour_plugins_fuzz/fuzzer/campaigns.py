"""Fuzzing campaigns: N fuzzers from the same seeds with different random seeds, run as independent tasks on
an executor (:mod:`armour_core.executors`) and merged into one report.

* Campaign ``i`` is exactly ``Fuzzer(..., seed=seed + i).run(...)`` (so ``armour fuzz --seed s+i`` reproduces
  it alone), with its own corpus directory ``<corpus_dir>/campaign-<i>`` (resumable one by one).
* Coverage: the union of the campaigns' covered sets (:meth:`Coverage.merge_state`): every valid mutant any
  campaign ran counts, as it does in one campaign.
* Corpus, merged by coverage gain: the initial seeds, then each campaign's mutants in campaign order, each
  kept when it raises some criterion's coverage — over everything kept before it — by more than the
  criterion's gain threshold (the rule a single campaign applies to its own mutants).
* Findings deduplicated by content: one entry per distinct failing input (its bytes and label), the first
  campaign that found it named in ``campaign``; seeds the model already fails are shared by all campaigns and
  reported once.

Every campaign is deterministic given its seed, so the merged report is the same on every executor.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from armour_core.errors import InvalidInputError

from .report import FuzzReport, MutatorStats


def campaign_seed(seed: int, i: int) -> int:
    """The random seed of campaign ``i`` of a job seeded with ``seed``."""
    return seed + i


def run_campaign(task: dict[str, Any]) -> dict[str, Any]:
    """The executor's task: one campaign; returns its report and every criterion's final covered set."""
    from armour_core.loading import loaded

    from .fuzzer import Fuzzer

    fz = Fuzzer(loaded(task["model"]), **task["fuzzer"], corpus_dir=task["corpus_dir"], x_train=task["x_train"],
                y_train=task["y_train"], seed=task["seed"])
    rep = fz.run(task["seeds_x"], task["seeds_y"], max_iters=task["max_iters"], resume=task["resume"],
                 progress=False)
    return {"report": rep, "states": {k: c.get_state() for k, c in fz.criteria.items()}}


def run_campaigns(model: Any, seeds_x: Any, seeds_y: Any, *, campaigns: int, executor: Any = "local",
                  max_iters: int = 1000, seed: int = 0, corpus_dir: Any = None, resume: bool = True,
                  x_train: Any = None, y_train: Any = None, **fuzzer: Any) -> FuzzReport:
    """Run ``campaigns`` fuzzers (``Fuzzer(model, **fuzzer)`` with seeds ``seed``, ``seed + 1``, ...) on
    ``executor`` and merge them (see the module docstring). ``fuzzer`` settings must be plain data (names,
    ``(name, config)`` pairs, numbers) for ``processes``/``ray``, which also need ``model`` as a
    :class:`~armour_core.loading.ModelRef`."""
    from armour_core.executors import Executor, get_executor
    from armour_core.loading import check_loadable, loaded

    from .fuzzer import Fuzzer

    if isinstance(campaigns, bool) or not isinstance(campaigns, int) or campaigns < 1:
        raise InvalidInputError(f"campaigns: expected a positive integer, got {campaigns!r}")
    ex = executor if isinstance(executor, Executor) else get_executor(executor)
    check_loadable(model, ex.name)
    # the driver's fuzzer checks the configuration before any task starts, and merges
    merger = Fuzzer(loaded(model), **fuzzer, x_train=x_train, y_train=y_train, seed=seed)
    t0 = time.perf_counter()
    tasks = [{"model": model, "fuzzer": dict(fuzzer), "seed": campaign_seed(seed, i),
              "corpus_dir": None if corpus_dir is None else str(Path(corpus_dir).resolve() / f"campaign-{i}"),
              "seeds_x": seeds_x, "seeds_y": seeds_y, "x_train": x_train, "y_train": y_train,
              "max_iters": max_iters, "resume": resume} for i in range(campaigns)]
    outputs = ex.map(run_campaign, tasks, desc="campaigns")
    return merge_campaigns(merger, outputs, seconds=time.perf_counter() - t0)


def merge_campaigns(fz: Any, outputs: list[dict[str, Any]], *, seconds: float) -> FuzzReport:
    """One report from the campaigns' outputs (in campaign order); ``fz``: a fuzzer configured like them."""
    reports: list[FuzzReport] = [o["report"] for o in outputs]
    first = reports[0]
    fz._layers = fz._capture_layers(first.seeds_x[:1])
    fz._prepare_criteria()
    corpus = _merge_corpora(fz, reports)
    for key, cov in fz.criteria.items():  # the union of what every campaign covered
        cov.reset()
        for o in outputs:
            cov.merge_state(o["states"][key])
    findings, findings_x = _dedup_findings(reports)
    stats: dict[str, MutatorStats] = {}
    for r in reports:
        for k, s in r.mutators.items():
            acc = stats.setdefault(k, MutatorStats())
            for field in ("tried", "valid", "kept", "failures"):
                setattr(acc, field, getattr(acc, field) + getattr(s, field))
    history = {}
    for key in fz.criteria:  # the best campaign at each iteration (the union is known only at the end)
        length = max(len(r.coverage_history[key]) for r in reports)
        padded = [np.pad(r.coverage_history[key], (0, length - len(r.coverage_history[key])), mode="edge")
                  for r in reports]
        history[key] = np.max(padded, axis=0)
    config = {**first.config, "campaigns": len(reports), "seed": fz.seed,
              "corpus_dir": None if first.config["corpus_dir"] is None
              else str(Path(first.config["corpus_dir"]).parent)}
    summary = [{"campaign": i, "seed": r.config["seed"], "iterations": r.iterations, "coverage": dict(r.coverage),
                "corpus_size": int(len(r.corpus_x)), "failures": r.failures, "resumed_from": r.resumed_from,
                "corpus_dir": r.config["corpus_dir"]} for i, r in enumerate(reports)]
    return FuzzReport(iterations=sum(r.iterations for r in reports), seconds=seconds, resumed_from=None,
                      seeds=first.seeds, seeds_misclassified=first.seeds_misclassified,
                      coverage={k: float(c.value) for k, c in fz.criteria.items()}, coverage_history=history,
                      mutators=stats, findings=findings, findings_x=findings_x, seeds_x=first.seeds_x,
                      bounds=first.bounds, config=config, campaigns=summary, **corpus)


def _merge_corpora(fz: Any, reports: list[FuzzReport]) -> dict[str, Any]:
    """The initial seeds, then each campaign's mutants kept by their coverage gain over what came before."""
    first = reports[0]
    seeds = np.array([not chain for chain in first.corpus_chains], dtype=bool)
    rows = [(0, j) for j in np.flatnonzero(seeds)]
    gains = [float(g) for g in first.corpus_gains[seeds]]
    for key in fz.criteria:
        fz.criteria[key].reset()
    _fold_all(fz, first.corpus_x[seeds])
    for c, r in enumerate(reports):
        mutants = np.flatnonzero([bool(chain) for chain in r.corpus_chains])
        for start in range(0, len(mutants), fz.batch_size):
            idx = mutants[start:start + fz.batch_size]
            g = _fold_all(fz, r.corpus_x[idx])
            keep = np.zeros(len(idx), bool)
            for k, key in enumerate(fz.criteria):
                keep |= g[k] > fz.thresholds[key]
            rows += [(c, int(j)) for j in idx[keep]]
            gains += [float(v) for v in g[:, keep].max(axis=0)]

    def take(attr: str) -> np.ndarray:
        return np.stack([getattr(reports[c], attr)[j] for c, j in rows]) if rows else getattr(first, attr)[:0]

    return {"corpus_x": take("corpus_x"), "corpus_refs": take("corpus_refs"), "corpus_labels": take("corpus_labels"),
            "corpus_roots": take("corpus_roots"), "corpus_gains": np.asarray(gains, dtype=np.float64),
            "corpus_chains": [reports[c].corpus_chains[j] for c, j in rows]}


def _fold_all(fz: Any, x: np.ndarray) -> np.ndarray:
    """Fold ``x`` into every criterion; (criteria, len(x)) per-input gains, in order."""
    if len(x) == 0:
        return np.zeros((len(fz.criteria), 0))
    logits, acts = fz._forward(np.ascontiguousarray(x, dtype=np.float32))
    return np.stack([fz._fold(key, acts, logits, len(x)) for key in fz.criteria])


def _dedup_findings(reports: list[FuzzReport]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """One finding per distinct failing input (bytes and label), first campaign first."""
    seen: set[str] = set()
    rows, xs = [], []
    for c, r in enumerate(reports):
        for row, x in zip(r.findings, r.findings_x):
            key = hashlib.sha256(np.ascontiguousarray(x).tobytes() + str(row["label"]).encode()).hexdigest()
            if key in seen:
                continue
            seen.add(key)
            rows.append({**row, "campaign": c})
            xs.append(x)
    return rows, (np.stack(xs) if xs else reports[0].findings_x[:0])
