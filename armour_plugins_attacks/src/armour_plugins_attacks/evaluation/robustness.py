"""``evaluate_robustness``: robust accuracy per ε under an ensemble of attacks, with reliability checks.

For each attack and ε the model is attacked on ``(x, y)``; a point counts as robust at ε only if it is
classified correctly before the attack and after it. The point-wise worst case over the ensemble — a point
is robust only if *every* attack failed on it — is what to report (as AutoAttack does). Minimum-norm
attacks run once and are read off at every ε (broken at ε when their perturbation's norm is ≤ ε).

Reliability warnings flag evaluations that are likely to overestimate robustness (Carlini et al. 2019;
Croce & Hein 2020): black-box attacks finding points white-box attacks missed, vanishing input gradients,
non-determinism under a fixed seed, and robust accuracy that does not decrease as ε grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from armour_core import registry
from armour_core.api.arrays import check_inputs, check_labels, to_numpy
from armour_core.api.model import as_classifier
from armour_core.api.norms import NORMS
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.progress import Progress

from .shards import AttackOutput, attack_output, grid_tasks, run_task
from .shards import create_attack as _create


@attrs.frozen(kw_only=True)
class ReliabilityWarning:
    """A sign the evaluation may overestimate robustness. ``kind``: ``black_box_beats_white_box``,
    ``vanishing_gradients``, ``non_deterministic`` or ``not_monotone_in_eps``."""

    kind: str
    message: str
    attack: str | None = None
    eps: float | None = None
    count: int = 0


@attrs.frozen(kw_only=True)
class AttackRun:
    """One attack at one ε: robust accuracy and the budget it used."""

    attack: str
    eps: float
    robust_accuracy: float
    success_rate: float  #: share of initially-correct points broken
    forward_calls: int
    backward_calls: int
    queries: int
    seconds: float
    reused: bool = False  #: read off the run at a smaller ε (minimum-norm attacks): its budget is not added again


@attrs.frozen(kw_only=True)
class RobustnessReport:
    """What :func:`evaluate_robustness` returns. Accuracies are over all ``n`` points."""

    n: int
    norm: str
    eps: tuple[float, ...]
    clean_accuracy: float
    robust_accuracy: dict[str, list[float]]  #: attack label -> robust accuracy per ε
    worst_case: list[float]  #: point-wise worst case over the attacks, per ε
    runs: list[AttackRun]
    budget: dict[str, dict[str, float]]  #: attack label -> forward/backward/queries/seconds in total
    threat_models: dict[str, str]
    warnings: list[ReliabilityWarning]
    robust_mask: np.ndarray = attrs.field(repr=False)  #: (len(eps), n) worst-case robustness per point
    examples: dict[str, Any] = attrs.field(factory=dict, repr=False)  #: clean/adversarial samples for reports

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no arrays but the small per-ε curves)."""
        return {"n": self.n, "norm": self.norm, "eps": list(self.eps), "clean_accuracy": self.clean_accuracy,
                "robust_accuracy": {k: list(v) for k, v in self.robust_accuracy.items()},
                "worst_case": list(self.worst_case), "threat_models": dict(self.threat_models),
                "budget": {k: dict(v) for k, v in self.budget.items()},
                "runs": [attrs.asdict(r) for r in self.runs],
                "warnings": [attrs.asdict(w) for w in self.warnings]}


def _attack_items(attacks: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, registry name, config) per attack; labels are unique."""
    if isinstance(attacks, str):
        attacks = [attacks]
    items = []
    for item in attacks:
        if isinstance(item, str):
            name, cfg = item, {}
        elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str) \
                and isinstance(item[1], dict):
            name, cfg = item[0], dict(item[1])
        else:
            raise InvalidInputError(f"attacks: {item!r} is neither an attack name nor a (name, config) pair")
        if "eps" in cfg:
            raise InvalidInputError(f"attacks: {name!r} sets eps in its config; the eps values come from eps=")
        items.append((name, cfg))
    if not items:
        raise InvalidInputError("attacks: expected at least one attack")
    labels: list[str] = []
    out = []
    for name, cfg in items:
        label = name if not cfg else name + "(" + ",".join(f"{k}={v}" for k, v in sorted(cfg.items())) + ")"
        base, i = label, 2
        while label in labels:
            label, i = f"{base}#{i}", i + 1
        labels.append(label)
        out.append((label, name, cfg))
    return out


def _eps_values(eps: Any) -> tuple[float, ...]:
    values = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise InvalidInputError(f"eps: expected a non-empty list of budgets, got {eps!r}")
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise InvalidInputError(f"eps: budgets must be finite and >= 0, got {values.tolist()}")
    if len(set(values.tolist())) != values.size:
        raise InvalidInputError(f"eps: budgets must be distinct, got {values.tolist()}")
    return tuple(sorted(values.tolist()))


def evaluate_robustness(model: Any, x: Any, y: Any, *, attacks: Any = ("fgsm",), eps: Sequence[float] = (0.1,),
                        norm: str = "linf", seed: int = 0, batch_size: int = 256, check_determinism: bool = True,
                        determinism_samples: int = 16, check_gradients: bool = True, keep_examples: int = 8,
                        bounds: tuple[float, float] | None = None, progress: bool | None = None,
                        executor: Any = None, shard_size: int | None = None) -> RobustnessReport:
    """Robust accuracy of ``model`` on ``(x, y)`` under ``attacks`` at each budget in ``eps`` (``norm`` ball).

    ``attacks``: registry names or ``(name, config)`` pairs (config without ``eps``); every attack gets the
    same ``seed``. Returns a :class:`RobustnessReport` with robust accuracy per attack and per ε, the
    point-wise worst case, the forward/backward/query budget each attack used, and reliability warnings.

    ``executor`` (an :class:`~armour_core.executors.Executor` or its name): run the attacks as independent
    tasks, one per (attack, ε, shard of ``shard_size`` examples, whole batches; default one batch), merged
    point-wise; the report equals the one-process report (see :mod:`.shards`). ``processes`` and ``ray``
    need ``model`` as a :class:`~armour_core.loading.ModelRef` (workers load it); ``local`` also takes a
    live model.
    """
    return evaluate_models({"model": model}, x, y, attacks=attacks, eps=eps, norm=norm, seed=seed,
                           batch_size=batch_size, check_determinism=check_determinism,
                           determinism_samples=determinism_samples, check_gradients=check_gradients,
                           keep_examples=keep_examples, bounds=bounds, progress=progress, executor=executor,
                           shard_size=shard_size)["model"]


def evaluate_models(models: dict[str, Any], x: Any, y: Any, *, attacks: Any = ("fgsm",),
                    eps: Sequence[float] = (0.1,), norm: str = "linf", seed: int = 0, batch_size: int = 256,
                    check_determinism: bool = True, determinism_samples: int = 16, check_gradients: bool = True,
                    keep_examples: int = 8, bounds: tuple[float, float] | None = None, progress: bool | None = None,
                    executor: Any = None, shard_size: int | None = None) -> dict[str, RobustnessReport]:
    """:func:`evaluate_robustness` of several models (``{name: model or ModelRef}``) on the same data; with
    an ``executor`` the whole (model × attack × ε × shard) grid is one set of independent tasks."""
    if not isinstance(models, dict) or not models:
        raise InvalidInputError(f"models: expected a non-empty {{name: model}} dict, got {models!r}")
    plans = {name: _plan(m, x, y, attacks=attacks, eps=eps, norm=norm, seed=seed, batch_size=batch_size,
                         keep_examples=keep_examples, bounds=bounds) for name, m in models.items()}
    if executor is None:
        if shard_size is not None:
            raise InvalidInputError("shard_size: only used with executor= (the attacks run as sharded tasks)")
        outputs = {name: _local_outputs(p, progress) for name, p in plans.items()}
    else:
        from armour_core.executors import Executor, get_executor

        ex = executor if isinstance(executor, Executor) else get_executor(executor)
        tasks, spans = [], {}
        for name, p in plans.items():
            mine = _tasks(p, ex, shard_size)
            spans[name] = (len(tasks), len(tasks) + len(mine))
            tasks += mine
        results = ex.map(run_task, tasks, desc="evaluate")
        outputs = {name: _merge_outputs(p, results[slice(*spans[name])]) for name, p in plans.items()}
    return {name: _finish(p, outputs[name], check_gradients=check_gradients, check_determinism=check_determinism,
                          determinism_samples=determinism_samples) for name, p in plans.items()}


@attrs.frozen(kw_only=True)
class _Plan:
    """One model's evaluation, checked and ready: the inputs, the attack runs and the clean predictions."""

    clf: Any
    ref: Any  #: the ModelRef the model came from, or None for a live model
    x: np.ndarray
    y: np.ndarray
    items: list  #: (label, registry name, config) per attack
    eps: tuple[float, ...]
    minimum: dict[str, bool]  #: minimum-norm attacks run once, unbounded
    threat: dict[str, str]
    norm: str
    seed: int
    batch_size: int
    keep: int
    clean_pred: np.ndarray

    @property
    def keys(self) -> list[tuple[str, float | None]]:
        """One (label, ε) per attack run; ε is None for a minimum-norm attack."""
        return [(label, e) for label, _, _ in self.items
                for e in ((None,) if self.minimum[label] else self.eps)]

    def attack(self, label: str) -> tuple[str, dict[str, Any]]:
        return next((name, cfg) for lab, name, cfg in self.items if lab == label)


def _plan(model: Any, x: Any, y: Any, *, attacks: Any, eps: Any, norm: str, seed: int, batch_size: int,
          keep_examples: int, bounds: Any) -> _Plan:
    from armour_core.loading import ModelRef

    ref = model if isinstance(model, ModelRef) else None
    if ref is not None:
        model = ref.load()
    if norm not in NORMS:
        raise InvalidInputError(f"norm={norm!r}: expected one of {', '.join(NORMS)}")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidInputError(f"batch_size: expected a positive int, got {batch_size!r}")
    clf = as_classifier(model, bounds=tuple(bounds) if bounds is not None else None)
    xa = check_inputs(x, name="x", bounds=clf.bounds, input_shape=clf.input_shape)
    n = xa.shape[0]
    try:
        k = clf.num_classes
    except InvalidInputError:
        clf.predict(xa[:1])
        k = clf.num_classes
    ya = check_labels(y, n=n, num_classes=k)
    eps_values = _eps_values(eps)
    items = _attack_items(attacks)
    specs = {}
    for label, name, _cfg in items:
        spec = registry.spec("attack", name)
        facet = spec.facet
        if facet is not None and norm not in facet.norms:
            raise ConfigError(f"attacks: {name!r} does not support norm={norm!r} (supports "
                              f"{', '.join(facet.norms)})")
        specs[label] = spec
    threat = {lab: (specs[lab].facet.threat_model if specs[lab].facet is not None else "white_box")
              for lab, _, _ in items}
    minimum = {lab: bool(getattr(specs[lab].facet, "minimum_norm", False)) for lab, _, _ in items}
    return _Plan(clf=clf, ref=ref, x=xa, y=ya, items=items, eps=eps_values, minimum=minimum, threat=threat,
                 norm=norm, seed=seed, batch_size=batch_size, keep=min(int(keep_examples), n),
                 clean_pred=_predict(clf, xa, batch_size))


def _local_outputs(p: _Plan, progress: bool | None) -> dict[tuple[str, float | None], Any]:
    """``{(label, ε or None): AttackOutput}`` for every attack run, in this process (the reference)."""
    out = {}
    with Progress(len(p.keys), "evaluate", enabled=progress, unit="runs") as bar:
        for label, e in p.keys:
            name, cfg = p.attack(label)
            out[label, e] = attack_output(p.clf, p.x, p.y, attack=name, config=cfg, eps=e, norm=p.norm, seed=p.seed,
                                          batch_size=p.batch_size, keep=p.keep)
            bar.update(1, attack=label)
    return out


def _tasks(p: _Plan, ex: Any, shard_size: int | None) -> list[dict[str, Any]]:
    """The plan's runs as sharded tasks for ``ex``, run-major (every run has the same number of shards)."""
    from armour_core.loading import check_loadable

    model = p.ref if p.ref is not None else p.clf
    check_loadable(model, ex.name)
    return grid_tasks(model, p.x, p.y,
                      [(*p.attack(label), e) for label, e in p.keys], norm=p.norm, seed=p.seed,
                      batch_size=p.batch_size, shard_size=shard_size, keep=p.keep)


def _merge_outputs(p: _Plan, results: list[Any]) -> dict[tuple[str, float | None], Any]:
    per_run = len(results) // len(p.keys)
    return {key: AttackOutput.merge(results[i * per_run:(i + 1) * per_run]) for i, key in enumerate(p.keys)}


def _finish(p: _Plan, outputs: dict[tuple[str, float | None], Any], *, check_gradients: bool,
            check_determinism: bool, determinism_samples: int) -> RobustnessReport:
    """The report from every run's per-example outputs: masks, point-wise worst case, warnings, budgets."""
    clf, xa, ya, items, eps_values, keep = p.clf, p.x, p.y, p.items, p.eps, p.keep
    n = len(xa)
    correct = p.clean_pred == ya
    robust: dict[str, np.ndarray] = {}  # label -> (len(eps), n)
    adv_store: dict[str, list[np.ndarray]] = {}
    runs: list[AttackRun] = []
    for label, _name, _cfg in items:
        masks, advs = [], []
        if p.minimum[label]:
            out = outputs[label, None]
            for i, e in enumerate(eps_values):
                broken = (out.predictions != ya) & (out.distances <= e * (1 + 1e-6) + 1e-12)
                mask = correct & ~broken
                masks.append(mask)
                advs.append(np.where(broken[:keep].reshape((-1,) + (1,) * (xa.ndim - 1)), out.head, xa[:keep]))
                runs.append(_run(label, e, mask, correct, out, reused=i > 0))
        else:
            for e in eps_values:
                out = outputs[label, e]
                mask = correct & (out.predictions == ya)
                masks.append(mask)
                advs.append(out.head)
                runs.append(_run(label, e, mask, correct, out))
        robust[label] = np.stack(masks)
        adv_store[label] = advs

    worst = np.logical_and.reduce([robust[lab] for lab, _, _ in items])
    warnings = _monotonicity_warnings(robust, worst, eps_values)
    warnings += _black_box_warnings(robust, p.threat, eps_values)
    if check_gradients and "gradients" in clf.capabilities:
        warnings += _gradient_warnings(clf, xa, ya, p.batch_size)
    if check_determinism:
        warnings += _determinism_warnings(clf, xa, ya, items, eps_values, p.norm, p.seed,
                                          min(int(determinism_samples), n), p.minimum)

    budget = {}
    for label, _, _ in items:
        mine = [r for r in runs if r.attack == label and not r.reused]
        budget[label] = {"forward_calls": float(sum(r.forward_calls for r in mine)),
                         "backward_calls": float(sum(r.backward_calls for r in mine)),
                         "queries": float(sum(r.queries for r in mine)),
                         "seconds": float(sum(r.seconds for r in mine))}
    examples = _worst_examples(xa, ya, p.clean_pred, robust, adv_store, items, eps_values, keep, clf, p.batch_size)
    return RobustnessReport(
        n=n, norm=p.norm, eps=eps_values, clean_accuracy=float(correct.mean()),
        robust_accuracy={lab: [float(m.mean()) for m in robust[lab]] for lab, _, _ in items},
        worst_case=[float(m.mean()) for m in worst], runs=runs, budget=budget, threat_models=p.threat,
        warnings=warnings, robust_mask=worst, examples=examples)


# ------------------------------------------------------------------------------------------ pieces
def _predict(clf: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([np.asarray(to_numpy(clf.predict(x[i:i + batch_size])))
                           for i in range(0, len(x), batch_size)])


def _run(label: str, eps: float, mask: np.ndarray, correct: np.ndarray, res: Any, reused: bool = False) -> AttackRun:
    broken = correct & ~mask
    return AttackRun(attack=label, eps=float(eps), robust_accuracy=float(mask.mean()),
                     success_rate=float(broken.sum() / max(correct.sum(), 1)), forward_calls=int(res.forward_calls),
                     backward_calls=int(res.backward_calls), queries=int(res.queries), seconds=float(res.seconds),
                     reused=reused)


def _monotonicity_warnings(robust: dict[str, np.ndarray], worst: np.ndarray,
                           eps_values: tuple[float, ...]) -> list[ReliabilityWarning]:
    """The ε-balls are nested, so a sound attack's robust accuracy cannot rise with ε."""
    out = []
    for label, masks in [*robust.items(), ("worst case", worst)]:
        for i in range(1, len(eps_values)):
            lo, hi = masks[i - 1], masks[i]
            if hi.sum() > lo.sum():
                out.append(ReliabilityWarning(
                    kind="not_monotone_in_eps", attack=label, eps=eps_values[i], count=int(hi.sum() - lo.sum()),
                    message=(f"{label}: robust accuracy rises from {lo.mean():.3f} at eps={eps_values[i - 1]:g} to "
                             f"{hi.mean():.3f} at eps={eps_values[i]:g}; a larger ball contains the smaller one, "
                             "so the attack is not finding the adversarial points it should (increase its "
                             "iterations or restarts)")))
    return out


def _black_box_warnings(robust: dict[str, np.ndarray], threat: dict[str, str],
                        eps_values: tuple[float, ...]) -> list[ReliabilityWarning]:
    white = [lab for lab in robust if threat[lab] == "white_box"]
    black = [lab for lab in robust if threat[lab] == "black_box"]
    if not white or not black:
        return []
    wb = np.logical_and.reduce([robust[lab] for lab in white])
    out = []
    for lab in black:
        for i, e in enumerate(eps_values):
            extra = wb[i] & ~robust[lab][i]
            if extra.any():
                out.append(ReliabilityWarning(
                    kind="black_box_beats_white_box", attack=lab, eps=e, count=int(extra.sum()),
                    message=(f"{lab} (black-box) broke {int(extra.sum())} point(s) at eps={e:g} that every white-box "
                             "attack missed: the gradients may be masked or obfuscated, so white-box robust "
                             "accuracy overestimates robustness")))
    return out


def _gradient_warnings(clf: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> list[ReliabilityWarning]:
    """Points whose cross-entropy input gradient is exactly zero (or not finite) give gradient attacks
    nothing to follow (saturated softmax, non-differentiable layers)."""
    zero = bad = 0
    with clf.uncounted():  # the check is not an attack's budget
        for i in range(0, len(x), batch_size):
            _, g = clf.loss_gradient(x[i:i + batch_size], y[i:i + batch_size], loss="ce")
            g = np.asarray(to_numpy(g), dtype=np.float64).reshape(len(g), -1)
            finite = np.all(np.isfinite(g), axis=1)
            bad += int((~finite).sum())
            zero += int((finite & (np.abs(g).max(axis=1) == 0)).sum())
    out = []
    if zero:
        out.append(ReliabilityWarning(
            kind="vanishing_gradients", count=zero,
            message=(f"the loss gradient with respect to the input is exactly zero at {zero} of {len(x)} points: "
                     "gradient attacks cannot move them, so their robustness is not tested (try the margin/DLR "
                     "loss, a black-box attack, or check for saturated or non-differentiable layers)")))
    if bad:
        out.append(ReliabilityWarning(
            kind="vanishing_gradients", count=bad,
            message=f"the input gradient is NaN or infinite at {bad} of {len(x)} points"))
    return out


def _determinism_warnings(clf: Any, x: np.ndarray, y: np.ndarray, items: list, eps_values: tuple[float, ...],
                          norm: str, seed: int, m: int, minimum: dict[str, bool]) -> list[ReliabilityWarning]:
    """Two runs with the same seed must agree: the model's outputs, and every attack's examples."""
    with clf.uncounted():  # the check is not an attack's budget
        return _determinism_checks(clf, x[:m], y[:m], items, eps_values, norm, seed, m, minimum)


def _determinism_checks(clf, xs, ys, items, eps_values, norm, seed, m, minimum) -> list[ReliabilityWarning]:
    out = []
    z1 = np.asarray(to_numpy(clf.logits(xs)))
    z2 = np.asarray(to_numpy(clf.logits(xs)))
    if not np.array_equal(z1, z2):
        out.append(ReliabilityWarning(
            kind="non_deterministic", count=int(np.any(z1 != z2, axis=1).sum()),
            message=("the model returns different outputs for the same input (dropout or batch statistics in "
                     "training mode? call set_train(False)); robust accuracy then varies between runs")))
    e = eps_values[-1]
    for label, name, cfg in items:
        runs = []
        for _ in range(2):
            atk = _create(name, clf, cfg, None if minimum[label] else e, norm, seed)
            runs.append(np.asarray(to_numpy(atk.generate(xs, ys).adversarial)))
        if not np.array_equal(runs[0], runs[1]):
            diff = int(np.any((runs[0] != runs[1]).reshape(m, -1), axis=1).sum())
            out.append(ReliabilityWarning(
                kind="non_deterministic", attack=label, eps=None if minimum[label] else e, count=diff,
                message=(f"{label}: two runs with seed={seed} produced different adversarial examples for {diff} "
                         f"of {m} points; results are not reproducible")))
    return out


def _worst_examples(x, y, clean_pred, robust, adv_store, items, eps_values, keep, clf, batch_size) -> dict:
    """For the first ``keep`` points and each ε: the adversarial example of the first attack that broke it
    (the clean input where none did), with the model's prediction."""
    if keep == 0:
        return {}
    out: dict[str, Any] = {"x": x[:keep], "y": y[:keep], "clean_prediction": clean_pred[:keep],
                           "adversarial": [], "prediction": []}
    for i in range(len(eps_values)):
        chosen = x[:keep].copy()
        done = np.zeros(keep, dtype=bool)
        for label, _, _ in items:
            take = ~robust[label][i][:keep] & ~done
            chosen[take] = adv_store[label][i][take]
            done |= take
        out["adversarial"].append(chosen)
        out["prediction"].append(_predict(clf, chosen, batch_size))
    return out
