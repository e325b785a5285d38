"""Robustness evaluation as independent tasks: one per (model, attack, ε, shard of examples), for an executor
(:mod:`armour_core.executors`), merged back into what one process computes.

A shard is a run of *whole* batches of the evaluation set, and batch ``b`` of the set draws its randomness
from stream ``b`` wherever it runs (``Attack.batch_generate(first_batch=...)``), so every batch sees the same
inputs, shape and random draws as in the unsharded run: the merged per-example predictions, distances and
adversarial examples are equal bit for bit, and so is everything computed from them (robust accuracy per
attack and ε, the point-wise worst case, warnings). Only the measured seconds differ.

A task is plain data: the model as a :class:`~armour_core.loading.ModelRef` (a worker loads it once and
keeps it), the shard's inputs and labels, the attack's registry name and config, ε, norm and seed.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from armour_core.api.arrays import to_numpy
from armour_core.api.norms import lp_norm
from armour_core.errors import InvalidInputError


@attrs.frozen(kw_only=True)
class AttackOutput:
    """One attack at one ε (or unbounded, for a minimum-norm attack) on a run of examples."""

    predictions: np.ndarray  #: the model's labels on the adversarial examples
    head: np.ndarray  #: the adversarial examples of the first ``keep`` rows (for reports)
    distances: np.ndarray | None  #: minimum-norm attacks: the perturbation's norm per example
    forward_calls: int
    backward_calls: int
    queries: int
    seconds: float

    @classmethod
    def merge(cls, parts: list[AttackOutput]) -> AttackOutput:
        """Shards in example order -> the whole set's output (counters add up; heads are concatenated)."""
        dist = None if parts[0].distances is None else np.concatenate([p.distances for p in parts])
        return cls(predictions=np.concatenate([p.predictions for p in parts]),
                   head=np.concatenate([p.head for p in parts]), distances=dist,
                   forward_calls=sum(p.forward_calls for p in parts),
                   backward_calls=sum(p.backward_calls for p in parts),
                   queries=sum(p.queries for p in parts), seconds=sum(p.seconds for p in parts))


def create_attack(name: str, model: Any, config: dict[str, Any], eps: float | None, norm: str, seed: int) -> Any:
    """The attack at budget ``eps`` (``None``: a minimum-norm attack, run unbounded); ``config`` may set its
    own seed and norm."""
    from armour_core import registry

    options = dict(config)
    options.setdefault("seed", seed)
    options.setdefault("norm", norm)
    options["eps"] = eps
    return registry.create("attack", name, model=model, **options)


def attack_output(model: Any, x: np.ndarray, y: np.ndarray, *, attack: str, config: dict[str, Any],
                  eps: float | None, norm: str, seed: int, batch_size: int, first_batch: int = 0,
                  keep: int = 0) -> AttackOutput:
    """Run ``attack`` at ``eps`` (``None``: unbounded, minimum-norm) on ``(x, y)``, batch ``i`` of which is
    batch ``first_batch + i`` of the whole evaluation set."""
    atk = create_attack(attack, model, config, eps, norm, seed)
    res = atk.batch_generate(x, y, batch_size=batch_size, progress=False, first_batch=first_batch)
    adv = np.asarray(to_numpy(res.adversarial))
    dist = lp_norm(adv.astype(np.float64) - x.astype(np.float64), norm) if eps is None else None
    return AttackOutput(predictions=np.asarray(res.predictions), head=adv[:keep], distances=dist,
                        forward_calls=int(res.forward_calls), backward_calls=int(res.backward_calls),
                        queries=int(res.queries), seconds=float(res.seconds))


def run_task(task: dict[str, Any]) -> AttackOutput:
    """The executor's task function: load the referenced model (once per worker) and run the shard."""
    from armour_core.loading import loaded

    return attack_output(loaded(task["model"]), task["x"], task["y"], attack=task["attack"], config=task["config"],
                         eps=task["eps"], norm=task["norm"], seed=task["seed"], batch_size=task["batch_size"],
                         first_batch=task["first_batch"], keep=task["keep"])


def shard_bounds(n: int, batch_size: int, shard_size: int | None) -> list[tuple[int, int]]:
    """``(start, stop)`` of each shard: ``shard_size`` examples (a multiple of ``batch_size``; default one
    batch), the last one shorter."""
    size = batch_size if shard_size is None else shard_size
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0 or size % batch_size:
        raise InvalidInputError(f"shard_size: expected a positive multiple of batch_size={batch_size} (a shard is "
                                f"whole batches, so it draws the randomness the unsharded run draws), got "
                                f"{shard_size!r}")
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def grid_tasks(model: Any, x: np.ndarray, y: np.ndarray, runs: list[tuple[str, dict[str, Any], float | None]], *,
               norm: str, seed: int, batch_size: int, shard_size: int | None, keep: int) -> list[dict[str, Any]]:
    """One task per (attack run, shard), run-major: ``runs`` lists ``(attack, config, eps)``."""
    tasks = []
    for attack, config, eps in runs:
        for start, stop in shard_bounds(len(x), batch_size, shard_size):
            tasks.append({"model": model, "x": x[start:stop], "y": y[start:stop], "attack": attack,
                          "config": dict(config), "eps": eps, "norm": norm, "seed": seed,
                          "batch_size": batch_size, "first_batch": start // batch_size,
                          "keep": max(0, min(keep, stop) - start)})
    return tasks
