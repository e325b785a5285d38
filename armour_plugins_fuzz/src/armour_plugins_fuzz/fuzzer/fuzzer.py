"""``Fuzzer``: coverage-guided fuzz testing of a classifier (DeepHunter's loop, MindArmour's interface).

One iteration: the scheduler picks a corpus entry; ``mutants_per_seed`` mutants are made from it in one
vectorised pass per mutator (mutators drawn uniformly among those the entry's lineage may still use); the
mutants that violate DeepHunter's validity constraints are dropped; the rest go through one forward pass
that captures logits and every layer's activations at once, which all coverage criteria share; the oracles
flag failures (recorded as findings with their mutation chain) and the passing mutants that raise some
criterion's coverage by more than its gain threshold join the corpus.

Mutators, coverage criteria and schedulers come from the registry; a mutator's role comes from its record
(``MutatorSpec.category``: ``pixel``, ``affine`` or ``adversarial``). An affine transform is applied at
most once per lineage (it also moves the lineage's reference image, so later pixel changes are measured
against the transformed seed), as in DeepHunter.

Differences from MindArmour 2.0's ``Fuzzer`` (each a bug there): it runs on NumPy >= 1.24, needs no
``TensorSummary`` in the network, validates pixel changes relative to the data range, honours the gain
threshold of every criterion, updates coverage incrementally (MindArmour recomputes it on every prefix of
the mutant batch), and persists and resumes its corpus.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import time
from typing import Any

import numpy as np

from armour_core import registry
from armour_core.api.arrays import check_inputs, check_labels, to_numpy
from armour_core.api.model import as_classifier
from ..mutators.resolve import create_mutator, mutator_category, mutator_names
from armour_core.errors import ArmourError, CapabilityError, ConfigError, InvalidInputError, UnknownPluginError
from armour_core.progress import Progress
from . import oracles as oracles_mod
from .corpus import Corpus, CorpusStore, Findings, chain_to_json
from .report import FuzzReport, MutatorStats

CATEGORIES = ("pixel", "affine", "adversarial")


def _split_named(item: Any, what: str) -> tuple[str, dict[str, Any]]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], dict):
        return item[0], dict(item[1])
    raise InvalidInputError(f"{what}: expected a name, a (name, {{config}}) pair or an instance, got {item!r}")


class _Mutator:
    """A mutator instance with the facts the loop needs."""

    def __init__(self, key: str, name: str, impl: Any, category: str, config: dict[str, Any]):
        self.key, self.name, self.impl, self.category, self.config = key, name, impl, category, config


class Fuzzer:
    """Coverage-guided fuzzer.

    Args:
        model: an ``nn.Cell`` or an armour classifier exposing layer activations.
        mutators: names, ``(name, {config})`` pairs (e.g. ``("rotate", {"degrees": (-15, 15)})``) or mutator
            instances. At least one must not be affine.
        coverage: one criterion or a list (names, ``(name, {config})`` or ``Coverage`` instances).
        scheduler: a seed scheduler (name, ``(name, {config})`` or instance): ``deephunter``,
            ``coverage_gain``, ``uniform``, ``recency``.
        corpus_dir: where the corpus, findings and checkpoints go (``None``: in memory only).
        mutants_per_seed: mutants made from the chosen entry per iteration (MindArmour's
            ``mutate_num_per_seed``).
        alpha, beta: DeepHunter's validity constraints (changed-element fraction; L_inf as a fraction of the
            input range). ``change_tol``: smallest change counted in L0 (default: range / 510).
        gain_threshold: a mutant joins the corpus when some criterion's coverage rises by more than its
            threshold: one float for all, ``{criterion: float}``, or None for each criterion's own ``min_gain``.
        oracles: any of ``misclassification``, ``nan_inf``, ``differential``.
        differential: ``"graph"`` (PyNative vs compiled) or ``"float16"`` (float32 vs float16); setting it
            enables the differential oracle. ``differential_tol``: also flag logit differences above it.
        x_train, y_train: training inputs (and labels, optional) for criteria that need a profile (KMNC,
            NBC, SNAC, LSA, DSA...); criteria already fitted are used as they are.
        checkpoint_every: iterations between checkpoints to ``corpus_dir``.
        keep_failures: failing mutants that raise coverage also join the corpus and are mutated further, as in
            MindArmour (default False: as in DeepHunter, failures are set aside, so one failure does not breed
            many trivial descendants).
        batch_size: forward-pass batch size for the initial seeds.
        seed: the run's randomness (iteration ``i`` uses a generator seeded by ``(seed, i)``, so a resumed
            run makes the same choices as an uninterrupted one).
    """

    def __init__(self, model: Any, mutators: Any, coverage: Any = "neuron", scheduler: Any = "deephunter", *,
                 corpus_dir: Any = None, mutants_per_seed: int = 20, alpha: float = 0.02, beta: float = 0.2,
                 change_tol: float | None = None, gain_threshold: float | dict[str, float] | None = None,
                 oracles: Any = ("misclassification", "nan_inf"), differential: str | None = None,
                 differential_tol: float | None = None, x_train: Any = None, y_train: Any = None,
                 checkpoint_every: int = 10, keep_failures: bool = False,
                 batch_size: int = 256, seed: int = 0):
        self.model = as_classifier(model)
        if "activations" not in self.model.capabilities:
            raise CapabilityError(f"model: {type(self.model).__name__} lacks the 'activations' capability (layer "
                                  "outputs) that coverage-guided fuzzing needs; it declares "
                                  f"{sorted(self.model.capabilities)}")
        self.bounds = tuple(float(b) for b in self.model.bounds)

        def number(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        checks = (("mutants_per_seed", mutants_per_seed, isinstance(mutants_per_seed, int) and mutants_per_seed >= 1),
                  ("checkpoint_every", checkpoint_every, isinstance(checkpoint_every, int) and checkpoint_every >= 1),
                  ("batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 1),
                  ("seed", seed, isinstance(seed, int) and seed >= 0),
                  ("alpha", alpha, number(alpha) and 0 <= alpha <= 1),
                  ("beta", beta, number(beta) and 0 <= beta <= 1),
                  ("change_tol", change_tol, change_tol is None or (number(change_tol) and change_tol >= 0)))
        for name, value, ok in checks:
            if not ok:
                raise InvalidInputError(f"{name}: invalid value {value!r}")
        self.mutants_per_seed, self.checkpoint_every, self.batch_size = mutants_per_seed, checkpoint_every, batch_size
        self.alpha, self.beta, self.change_tol, self.seed = float(alpha), float(beta), change_tol, seed
        self.mutators = self._build_mutators(mutators)
        self.criteria = self._build_coverage(coverage)
        self.thresholds = self._build_thresholds(gain_threshold)
        self.scheduler, self._scheduler_desc = self._build_scheduler(scheduler)
        self.oracles = oracles_mod.check_oracles(oracles)
        if differential is not None and "differential" not in self.oracles:
            self.oracles = (*self.oracles, "differential")
        self.differential = None
        if "differential" in self.oracles:
            self.differential = oracles_mod.Differential(self.model, differential or "graph", differential_tol)
        self.x_train, self.y_train = x_train, y_train
        if not isinstance(keep_failures, bool):
            raise InvalidInputError(f"keep_failures: expected a bool, got {keep_failures!r}")
        self.keep_failures = keep_failures
        self.corpus_dir = corpus_dir

    # ------------------------------------------------------------------ construction
    def _build_mutators(self, mutators: Any) -> list[_Mutator]:
        if isinstance(mutators, (str, tuple)) and not (isinstance(mutators, tuple) and len(mutators) == 2
                                                       and isinstance(mutators[1], dict)):
            mutators = [mutators] if isinstance(mutators, str) else list(mutators)
        elif isinstance(mutators, tuple):
            mutators = [mutators]
        if not isinstance(mutators, list) or not mutators:
            raise InvalidInputError("mutators: expected a non-empty list of mutator names, (name, {config}) pairs "
                                    f"or instances; available: {', '.join(mutator_names())}")
        out: list[_Mutator] = []
        used: dict[str, int] = {}
        for i, item in enumerate(mutators):
            if hasattr(item, "mutate") and hasattr(item, "category"):
                impl, name, config = item, type(item).__name__.lower(), {}
                category = item.category
            else:
                name, config = _split_named(item, f"mutators[{i}]")
                try:
                    category = mutator_category(name)  # from the record; fuzzing attacks are "adversarial"
                    kind = "mutator" if name in registry.names("mutator") or category != "adversarial" else "attack"
                    try:
                        name = registry.spec(kind, name).name
                    except UnknownPluginError:
                        pass
                except UnknownPluginError as exc:
                    raise UnknownPluginError(f"mutators[{i}]: {exc}", kind="mutator", name=name,
                                             suggestions=exc.suggestions) from None
                try:
                    impl = create_mutator(name, model=self.model, bounds=self.bounds, **config)
                except ArmourError as exc:
                    raise ConfigError(f"mutators[{i}] ({name!r}): {exc}") from None
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"mutators[{i}] ({name!r}): invalid config {config!r}: {exc}") from None
            if category not in CATEGORIES:
                raise ConfigError(f"mutators[{i}] ({name!r}): unknown category {category!r}")
            used[name] = used.get(name, 0) + 1
            key = name if used[name] == 1 else f"{name}#{used[name]}"
            out.append(_Mutator(key, name, impl, category, config))
        if all(m.category == "affine" for m in out):
            raise ConfigError("mutators: at least one pixel-value or adversarial mutator is needed (after an "
                              "affine transform a lineage may only take those)")
        return out

    def _build_coverage(self, coverage: Any) -> dict[str, Any]:
        items = coverage if isinstance(coverage, list) else [coverage]
        if not items:
            raise InvalidInputError("coverage: expected at least one criterion")
        out: dict[str, Any] = {}
        for i, item in enumerate(items):
            if hasattr(item, "update_activations"):
                cov, name = item, type(item).__name__
                if getattr(cov, "model", self.model) is not self.model and hasattr(cov, "model"):
                    cov.model = self.model
            else:
                name, config = _split_named(item, f"coverage[{i}]" if isinstance(coverage, list) else "coverage")
                try:
                    name = registry.spec("coverage", name).name
                except UnknownPluginError as exc:
                    raise UnknownPluginError(f"coverage: {exc}", kind="coverage", name=name,
                                             suggestions=exc.suggestions) from None
                try:
                    cov = registry.create("coverage", name, model=self.model, **config)
                except ArmourError as exc:
                    raise ConfigError(f"coverage {name!r}: {exc}") from None
            key = name if name not in out else f"{name}#{i}"
            out[key] = cov
        return out

    def _build_thresholds(self, gain_threshold: Any) -> dict[str, float]:
        own = {k: float(getattr(getattr(c, "config", None), "min_gain", 0.0)) for k, c in self.criteria.items()}
        if gain_threshold is None:
            return own
        if isinstance(gain_threshold, dict):
            unknown = set(gain_threshold) - set(self.criteria)
            if unknown:
                raise InvalidInputError(f"gain_threshold: unknown criteria {sorted(unknown)}; "
                                        f"criteria in use: {sorted(self.criteria)}")
            th = {k: float(gain_threshold.get(k, own[k])) for k in self.criteria}
        else:
            try:
                th = {k: float(gain_threshold) for k in self.criteria}
            except (TypeError, ValueError):
                raise InvalidInputError(f"gain_threshold: expected a float or a dict, got {gain_threshold!r}") from None
        bad = {k: v for k, v in th.items() if not (np.isfinite(v) and 0.0 <= v < 1.0)}
        if bad:
            raise InvalidInputError(f"gain_threshold: values must lie in [0, 1), got {bad}")
        return th

    def _build_scheduler(self, scheduler: Any) -> tuple[Any, Any]:
        if hasattr(scheduler, "select"):
            return scheduler, type(scheduler).__name__
        name, config = _split_named(scheduler, "scheduler")
        config.setdefault("seed", self.seed)
        try:
            name = registry.spec("scheduler", name).name
            return registry.create("scheduler", name, **config), [name, config]
        except UnknownPluginError as exc:
            raise UnknownPluginError(f"scheduler: {exc}", kind="scheduler", name=name,
                                     suggestions=exc.suggestions) from None
        except ArmourError as exc:
            raise ConfigError(f"scheduler {name!r}: {exc}") from None

    def _capture_layers(self, x: np.ndarray) -> tuple[str, ...] | None:
        """The union of the layers the criteria count (captured once per batch for all of them); ``x``: a
        batch to learn the model's layers from (every call of a cell is a layer)."""
        layers: list[str] = []
        for cov in self.criteria.values():
            resolve = getattr(cov, "resolve_layers", None)
            chosen = resolve(x) if resolve is not None else getattr(cov, "layers", None)
            if chosen is None:
                chosen = getattr(getattr(cov, "config", None), "layers", None)
            if chosen is None:
                return None
            layers.extend(n for n in chosen if n not in layers)
        return tuple(layers)

    # ------------------------------------------------------------------ one forward pass for everything
    def _forward(self, x: np.ndarray, pad_to: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Logits and the activations of every layer any criterion needs, from one forward pass.

        ``pad_to``: run a batch of exactly that many rows (repeating the first) so a compiled capture sees
        one batch size however many mutants were valid; the padding rows are dropped from the results.
        """
        n = len(x)
        if pad_to is not None and n < pad_to:
            x = np.concatenate([x, np.repeat(x[:1], pad_to - n, axis=0)])
        acts = self.model.activations(x, layers=self._layers)
        logits = getattr(acts, "logits", None)
        if logits is None:  # a classifier whose capture does not return the logits of the same pass
            logits = to_numpy(self.model.logits(x))
        logits = np.asarray(logits)
        if len(x) != n:
            return logits[:n], {k: np.asarray(v)[:n] for k, v in acts.items()}
        return logits, dict(acts)

    # ------------------------------------------------------------------ coverage bookkeeping
    @staticmethod
    def _snapshot(cov: Any) -> dict[str, Any]:
        if hasattr(cov, "get_state"):
            return cov.get_state()
        snap = {k: copy.deepcopy(getattr(cov, k)) for k in getattr(cov, "state_attrs", ())}
        snap["count"] = cov.count
        return snap

    @staticmethod
    def _restore(cov: Any, snap: dict[str, Any]) -> None:
        if hasattr(cov, "set_state"):
            cov.set_state(snap)
            return
        for k, v in snap.items():
            setattr(cov, k, v)

    def _fold(self, key: str, acts: dict[str, np.ndarray], logits: np.ndarray, n: int) -> np.ndarray:
        """Fold the batch into ``key``'s criterion and return each input's gain in order (input i's rise in
        coverage once inputs 0..i-1 are in). A criterion is monotone, so when the whole batch gains no more
        than the threshold no input can, and the per-input pass is skipped (most iterations)."""
        cov = self.criteria[key]
        snap = self._snapshot(cov)
        before = cov.value
        cov.update_activations(acts, logits=logits)
        total = cov.value - before
        if total <= self.thresholds[key] or n == 1:
            g = np.zeros(n)
            g[0] = total if n == 1 else 0.0
            return g
        self._restore(cov, snap)
        gains = np.asarray(cov.sample_gains(acts, logits=logits), dtype=np.float64)
        cov.update_activations(acts, logits=logits)
        return gains

    # ------------------------------------------------------------------ the run
    def _fingerprint(self, x: np.ndarray, y: np.ndarray) -> str:
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(x).tobytes())
        h.update(np.ascontiguousarray(y).tobytes())
        desc = {"mutators": [[m.key, m.name, {k: repr(v) for k, v in m.config.items()}] for m in self.mutators],
                "coverage": [[k, repr(getattr(c, "config", None))] for k, c in self.criteria.items()],
                "scheduler": repr(self._scheduler_desc), "mutants_per_seed": self.mutants_per_seed,
                "alpha": self.alpha, "beta": self.beta, "change_tol": self.change_tol, "seed": self.seed,
                "thresholds": self.thresholds, "oracles": list(self.oracles), "keep_failures": self.keep_failures}
        h.update(json.dumps(desc, sort_keys=True).encode())
        return h.hexdigest()

    def _prepare_criteria(self) -> None:
        for key, cov in self.criteria.items():
            if getattr(cov, "needs_profile", False) and not getattr(cov, "fitted", True):
                if self.x_train is None:
                    raise InvalidInputError(f"x_train: coverage {key!r} needs a training-set profile; pass "
                                            "x_train= (training inputs) to the Fuzzer or fit the criterion first")
                cov.fit(self.x_train, self.y_train)
            cov.reset()

    def run(self, seeds_x: Any, seeds_y: Any, *, max_iters: int = 1000, resume: bool = True,
            progress: bool | None = None) -> FuzzReport:
        """Fuzz from the initial seeds ``(seeds_x, seeds_y)`` until ``max_iters`` iterations in total.

        With ``corpus_dir`` holding a checkpoint of the same configuration and seeds, the run resumes from it
        (``resume=False`` starts afresh, replacing the directory's checkpoint).
        """
        if not isinstance(max_iters, int) or max_iters < 0:
            raise InvalidInputError(f"max_iters: expected a non-negative int, got {max_iters!r}")
        xs = check_inputs(seeds_x, name="seeds_x", bounds=self.bounds,
                          input_shape=getattr(self.model, "input_shape", None))
        num_classes = self.model.num_classes_for(xs[:1])  # a never-called network learns it from one seed
        ys = check_labels(seeds_y, n=xs.shape[0], num_classes=num_classes, name="seeds_y")
        xs = np.ascontiguousarray(xs, dtype=np.float32)
        self._layers = self._capture_layers(xs[:1])
        self._prepare_criteria()
        store = CorpusStore(self.corpus_dir) if self.corpus_dir is not None else None
        # one process at a time writes a corpus: a second run on the same directory is refused
        with store.locked() if store is not None else contextlib.nullcontext():
            return self._run(xs, ys, store, max_iters=max_iters, resume=resume, progress=progress)

    def _run(self, xs: np.ndarray, ys: np.ndarray, store: CorpusStore | None, *, max_iters: int, resume: bool,
             progress: bool | None) -> FuzzReport:
        t0 = time.perf_counter()
        shape = xs.shape[1:]
        corpus, findings = Corpus(shape, np.float32), Findings(shape, np.float32)
        stats = {m.key: MutatorStats() for m in self.mutators}
        history: dict[str, list[float]] = {k: [] for k in self.criteria}
        fingerprint = self._fingerprint(xs, ys)
        start = 0
        resumed = False
        if store is not None and store.has_checkpoint():
            if resume:
                state, cov_states = store.load(corpus, findings)
                if state.get("fingerprint") != fingerprint:
                    raise InvalidInputError(
                        f"corpus_dir: {store.dir} holds a run with different seeds or configuration; use another "
                        "directory, or resume=False (armour fuzz --fresh) to start afresh there")
                for key, cov in self.criteria.items():
                    self._restore(cov, cov_states[key])
                self.scheduler.load_state(state.get("scheduler", {}))
                history = {k: list(v) for k, v in state["history"].items()}
                for k, v in state["mutator_stats"].items():
                    stats[k] = MutatorStats(**v)
                start = int(state["iteration"])
                seeds_misclassified = int(state["seeds_misclassified"])
                resumed = True
            else:
                store.clear()
        if not resumed:
            self.scheduler.load_state({})  # a fresh run starts the scheduler afresh too
            seeds_misclassified = self._dry_run(xs, ys, corpus, findings, history)
            if store is not None:
                self._checkpoint(store, 0, corpus, findings, history, stats, fingerprint, seeds_misclassified)
        if len(corpus) == 0:
            raise InvalidInputError("seeds_x: the model misclassifies every seed (or every output is NaN/Inf), so "
                                    "there is nothing to fuzz; give seeds it classifies correctly")
        first = next(iter(history))
        with Progress(max(max_iters - start, 0), "fuzz", enabled=progress, unit="it") as bar:
            for it in range(start, max_iters):
                self._iteration(it, corpus, findings, stats, history)
                done = it + 1
                if store is not None and (done % self.checkpoint_every == 0 or done == max_iters):
                    self._checkpoint(store, done, corpus, findings, history, stats, fingerprint, seeds_misclassified)
                bar.update(1, corpus=len(corpus), failures=len(findings), **{first: f"{history[first][-1]:.3f}"})
        return FuzzReport.build(self, corpus, findings, history, stats, iterations=max(max_iters, start),
                                seconds=time.perf_counter() - t0, seeds=len(xs),
                                seeds_misclassified=seeds_misclassified, resumed_from=start if resumed else None,
                                seeds_x=xs)

    def _checkpoint(self, store: CorpusStore, iteration: int, corpus: Corpus, findings: Findings,
                    history: dict[str, list[float]], stats: dict[str, Any], fingerprint: str,
                    seeds_misclassified: int) -> None:
        cov_states = {k: self._snapshot(c) for k, c in self.criteria.items()}
        state = {"fingerprint": fingerprint, "history": history, "scheduler": self.scheduler.state(),
                 "mutator_stats": {k: s.asdict() for k, s in stats.items()},
                 "seeds_misclassified": seeds_misclassified,
                 "criteria": list(self.criteria), "mutators": [m.key for m in self.mutators]}
        store.save(iteration, corpus, findings, cov_states, state)

    def _dry_run(self, xs: np.ndarray, ys: np.ndarray, corpus: Corpus, findings: Findings,
                 history: dict[str, list[float]]) -> int:
        """Run the initial seeds: fold them into coverage, report the ones that already fail, keep the rest."""
        misclassified = 0
        for start in range(0, len(xs), self.batch_size):
            xb, yb = xs[start:start + self.batch_size], ys[start:start + self.batch_size]
            n = len(xb)
            logits, acts = self._forward(xb)
            fail, kinds, detail = self._oracles(xb, yb, logits)
            gains = np.zeros(n)
            for key in self.criteria:
                gains = np.maximum(gains, self._fold(key, acts, logits, n))
            idx = np.arange(start, start + n)
            if fail.any():
                misclassified += int(fail.sum())
                self._record_findings(findings, xb[fail], yb[fail], logits[fail], kinds, detail, fail,
                                      chains=[()] * int(fail.sum()), roots=idx[fail], parents=np.full(fail.sum(), -1),
                                      iteration=0)
            ok = ~fail
            m = int(ok.sum())
            if m:
                corpus.add(xb[ok], xb[ok], [()] * m, root=idx[ok], parent=np.full(m, -1), label=yb[ok],
                           affine=np.zeros(m, bool), gain=gains[ok], added=np.zeros(m, np.int64),
                           depth=np.zeros(m, np.int64))
        for key, cov in self.criteria.items():
            history[key].append(cov.value)
        return misclassified

    def _oracles(self, x: np.ndarray, y: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, dict, dict]:
        kinds: dict[str, np.ndarray] = {}
        detail: dict[str, np.ndarray] = {}
        if "nan_inf" in self.oracles:
            kinds["nan_inf"] = oracles_mod.nan_inf(logits)
        if "misclassification" in self.oracles:
            kinds["misclassification"] = oracles_mod.misclassification(logits, y)
        if self.differential is not None:
            bad, diff = self.differential.compare(x)
            kinds["differential"], detail["max_abs_logit_diff"] = bad, diff
        fail = np.zeros(len(x), bool)
        for mask in kinds.values():
            fail |= mask
        return fail, kinds, detail

    @staticmethod
    def _record_findings(findings: Findings, x: np.ndarray, y: np.ndarray, logits: np.ndarray,
                         kinds: dict[str, np.ndarray], detail: dict[str, np.ndarray], fail: np.ndarray, *,
                         chains: list, roots: np.ndarray, parents: np.ndarray, iteration: int) -> None:
        idx = np.flatnonzero(fail)
        pred = np.argmax(np.where(np.isfinite(logits), logits, -np.inf), axis=1)
        rows = []
        for j, i in enumerate(idx):
            row = {"kinds": [k for k, m in kinds.items() if m[i]], "iteration": int(iteration),
                   "label": int(y[j]), "prediction": int(pred[j]), "seed_index": int(roots[j]),
                   "parent": int(parents[j]), "chain": chain_to_json(chains[j])}
            for k, v in detail.items():
                val = float(v[i])
                row[k] = val if np.isfinite(val) else None
            rows.append(row)
        findings.add(x, rows)

    def _iteration(self, it: int, corpus: Corpus, findings: Findings, stats: dict[str, Any],
                   history: dict[str, list[float]]) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, it]))
        e = self.scheduler.select(corpus.stats(it), rng)
        corpus.col("fuzz_count")[e] += 1
        k = self.mutants_per_seed
        affine_done = bool(corpus.col("affine")[e])
        allowed = [i for i, m in enumerate(self.mutators) if not (affine_done and m.category == "affine")]
        choice = np.asarray(allowed)[rng.integers(len(allowed), size=k)]
        x0, r0 = corpus.x[e], corpus.ref[e]
        label = int(corpus.col("label")[e])
        cand = np.empty((k, *x0.shape), dtype=np.float32)
        refs = np.broadcast_to(r0, cand.shape).copy()
        groups: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        pos = np.empty(k, np.int64)
        affine_now = np.zeros(k, bool)
        for mi in np.unique(choice):
            idx = np.flatnonzero(choice == mi)
            m = self.mutators[mi]
            n = len(idx)
            params = m.impl.sample_params(n, rng)
            xin = np.broadcast_to(x0, (n, *x0.shape))
            if m.category == "affine":  # the same transform (params and inner randomness) moves the reference
                stream = int(rng.integers(2**63))
                cand[idx] = np.asarray(to_numpy(m.impl.mutate(np.ascontiguousarray(xin), params,
                                                              rng=np.random.default_rng(stream))))
                rin = np.ascontiguousarray(np.broadcast_to(r0, (n, *r0.shape)))
                refs[idx] = np.asarray(to_numpy(m.impl.mutate(rin, params, rng=np.random.default_rng(stream))))
                affine_now[idx] = True
            elif m.category == "adversarial":
                cand[idx] = np.asarray(to_numpy(self._adversarial(m, np.ascontiguousarray(xin), label, params, rng)))
            else:
                cand[idx] = np.asarray(to_numpy(m.impl.mutate(np.ascontiguousarray(xin), params, rng=rng)))
            groups[int(mi)] = (idx, params)
            pos[idx] = np.arange(n)
            stats[m.key].tried += n
        valid, _, _ = oracles_mod.validity(cand, refs, bounds=self.bounds, alpha=self.alpha, beta=self.beta,
                                           change_tol=self.change_tol)
        for mi in np.unique(choice):
            stats[self.mutators[mi].key].valid += int(valid[choice == mi].sum())
        vi = np.flatnonzero(valid)
        if vi.size:
            vx = cand[vi]
            logits, acts = self._forward(vx, pad_to=k)
            ys = np.full(len(vi), label, np.int64)
            fail, kinds, detail = self._oracles(vx, ys, logits)
            gains = np.zeros((len(self.criteria), len(vi)))
            keep = np.zeros(len(vi), bool)
            for c, key in enumerate(self.criteria):
                gains[c] = self._fold(key, acts, logits, len(vi))
                keep |= gains[c] > self.thresholds[key]
            if not self.keep_failures:
                keep &= ~fail
            base_chain = corpus.chains[e]

            def chain_of(j: int) -> tuple:
                i = vi[j]
                params = groups[int(choice[i])][1]
                return (*base_chain, (self.mutators[choice[i]].key, {p: float(v[pos[i]]) for p, v in params.items()}))

            root, depth = int(corpus.col("root")[e]), int(corpus.col("depth")[e])
            if fail.any():
                fj = np.flatnonzero(fail)
                self._record_findings(findings, vx[fail], ys[fail], logits[fail], kinds, detail, fail,
                                      chains=[chain_of(j) for j in fj], roots=np.full(len(fj), root),
                                      parents=np.full(len(fj), e), iteration=it + 1)
                for j in fj:
                    stats[self.mutators[choice[vi[j]]].key].failures += 1
            if keep.any():
                kj = np.flatnonzero(keep)
                n = len(kj)
                corpus.add(vx[kj], refs[vi[kj]], [chain_of(j) for j in kj], root=np.full(n, root),
                           parent=np.full(n, e), label=np.full(n, label), affine=affine_done | affine_now[vi[kj]],
                           gain=gains[:, kj].max(axis=0), added=np.full(n, it + 1), depth=np.full(n, depth + 1))
                for j in kj:
                    stats[self.mutators[choice[vi[j]]].key].kept += 1
        for key, cov in self.criteria.items():
            history[key].append(cov.value)

    def _adversarial(self, m: _Mutator, x: np.ndarray, label: int, params: dict[str, np.ndarray],
                     rng: np.random.Generator) -> Any:
        """Adversarial mutators attack the seed's label when their ``mutate`` accepts labels (``y=``)."""
        import inspect

        if "y" in inspect.signature(m.impl.mutate).parameters:
            return m.impl.mutate(x, params, rng=rng, y=np.full(len(x), label, np.int64))
        return m.impl.mutate(x, params, rng=rng)

