"""Shared machinery of the black-box (query) attacks.

A black-box attack sees the model only through :class:`QueryOracle`: it sends a population of
candidate inputs, each owned by one sample of the batch, and gets logits (score-based attacks) or
decisions (decision-based attacks) back. The oracle

* evaluates the whole population of the whole batch in one forward call (split only to bound memory),
* charges each query to the sample that owns it and refuses to go over ``max_queries`` per sample,
  so attacks plan around :meth:`QueryOracle.remaining` and the budget is honoured exactly,
* pads every call to a power-of-two number of rows, because a compiled (``mindspore.jit``) forward
  recompiles for every new batch shape (~0.3 s each). Padding rows repeat a real row, carry no
  information and are not counted as queries.

Attacks work on flat ``(N, D)`` rows internally, so images and flat feature vectors are handled alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core.api.arrays import check_inputs, to_numpy
from armour_core.api.attack import Attack
from armour_core.api.batching import padded_logits
from armour_core.api.norms import lp_norm, project
from armour_core.errors import BudgetExceededError, InvalidInputError
from armour_core.progress import Progress

class QueryOracle:
    """Per-sample query accounting over a classifier, for one batch of ``n`` samples.

    ``labels`` are the true labels (untargeted) and ``target`` the target labels (targeted, or None).
    Every method takes ``rows`` of shape ``(M, D)`` and ``owner`` of shape ``(M,)`` naming the sample
    (index into the batch) each row is charged to.
    """

    def __init__(self, model: Any, sample_shape: tuple[int, ...], labels: np.ndarray,
                 target: np.ndarray | None, max_queries: int, progress: Any = None):
        self.model = model
        self.progress = progress
        self.sample_shape = tuple(sample_shape)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.target = None if target is None else np.asarray(target, dtype=np.int64)
        self.max_queries = int(max_queries)
        self.used = np.zeros(len(self.labels), dtype=np.int64)

    @property
    def targeted(self) -> bool:
        return self.target is not None

    def remaining(self) -> np.ndarray:
        """Queries each sample may still make."""
        return self.max_queries - self.used

    # ------------------------------------------------------------------ raw access
    def logits(self, rows: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Logits (float64) of ``rows``, charging one query per row to its owner."""
        rows = np.asarray(rows, dtype=np.float32)
        owner = np.asarray(owner, dtype=np.int64)
        if rows.shape[0] != owner.shape[0]:
            raise ValueError(f"rows ({rows.shape[0]}) and owner ({owner.shape[0]}) differ in length")
        m = rows.shape[0]
        if m == 0:
            return np.zeros((0, 0), dtype=np.float64)
        charge = np.bincount(owner, minlength=len(self.used))
        if np.any(self.used + charge > self.max_queries):
            worst = int(np.argmax(self.used + charge))
            raise BudgetExceededError(f"sample {worst} would use {int(self.used[worst] + charge[worst])} "
                                      f"queries; max_queries={self.max_queries}")
        self.used += charge
        if self.progress is not None:
            self.progress.update(m, exhausted=f"{np.mean(self.used >= self.max_queries):.2f}")
        return padded_logits(self.model, rows.reshape((m, *self.sample_shape)))

    # ------------------------------------------------------------------ decisions and objectives
    def _goal(self, owner: np.ndarray) -> np.ndarray:
        return (self.target if self.targeted else self.labels)[owner]

    def is_adversarial(self, logits: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Decision: misclassified (untargeted) or classified as the target (targeted)."""
        return self.is_adversarial_label(logits.argmax(axis=1), owner)

    def is_adversarial_label(self, pred: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """The same decision from top-1 labels."""
        goal = self._goal(owner)
        return pred == goal if self.targeted else pred != goal

    def decide(self, rows: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Query ``rows`` and return only the adversarial decision (what decision-based attacks see)."""
        if len(rows) == 0:
            return np.zeros(0, dtype=bool)
        return self.is_adversarial(self.logits(rows, owner), owner)

    def labels_of(self, rows: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Query ``rows`` and return the model's top-1 labels (the decision a label-only API gives)."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        return self.logits(rows, owner).argmax(axis=1)

    def log_odds(self, logits: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """``log P(wrong) - log P(label)`` (untargeted) or ``log P(target) - log P(other)`` (targeted).

        Higher is better for the attacker; computed from logits, as the softmax normaliser cancels.
        """
        goal = self._goal(owner)
        z = logits - logits.max(axis=1, keepdims=True)
        z_goal = z[np.arange(len(z)), goal]
        e = np.exp(z)
        e[np.arange(len(z)), goal] = 0.0
        rest = np.log(np.maximum(e.sum(axis=1), 1e-300))
        return z_goal - rest if self.targeted else rest - z_goal

    def margin(self, logits: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Logit margin to maximise: ``max_{j≠y} z_j - z_y`` or ``z_t - max_{j≠t} z_j``."""
        goal = self._goal(owner)
        idx = np.arange(len(logits))
        z_goal = logits[idx, goal]
        others = logits.copy()
        others[idx, goal] = -np.inf
        best_other = others.max(axis=1)
        return z_goal - best_other if self.targeted else best_other - z_goal

    def cross_entropy(self, logits: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Cross-entropy objective to maximise: CE(y) untargeted, -CE(t) targeted."""
        goal = self._goal(owner)
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        ce = -logp[np.arange(len(z)), goal]
        return -ce if self.targeted else ce


class BlackBoxAttack(Attack):
    """Base of the black-box attacks: no gradients, a per-sample query budget, flat rows inside."""


    def _oracle(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> QueryOracle:
        self._last_oracle = QueryOracle(self.model, x.shape[1:], y, target, self.config.max_queries,
                                        progress=getattr(self, "_progress", None))
        return self._last_oracle

    def batch_generate(self, *args: Any, **kwargs: Any):
        self._batched = True
        try:
            return super().batch_generate(*args, **kwargs)
        finally:
            self._batched = False

    def _run(self, x: Any, y: Any, target: Any, stream: int):
        """:meth:`Attack._run` with a query-budget progress bar (shown on a terminal only)."""
        n = int(np.shape(to_numpy(x, "x"))[0]) if np.ndim(to_numpy(x, "x")) else 0
        quiet = False if getattr(self, "_batched", False) else None  # batch_generate shows its own bar
        with Progress(n * self.config.max_queries, type(self).__name__, unit="queries", enabled=quiet) as bar:
            self._progress = bar
            try:
                return super()._run(x, y, target, stream)
            finally:
                self._progress = None

    @property
    def queries_per_sample(self) -> np.ndarray:
        """Queries each sample of the last :meth:`generate` batch used (sums to ``result.queries``)."""
        orc = getattr(self, "_last_oracle", None)
        return np.zeros(0, dtype=np.int64) if orc is None else orc.used.copy()

    @staticmethod
    def _flat(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=np.float32)

    def _clip(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` as float32 inside the model's bounds."""
        lo, hi = self.bounds
        return np.clip(np.asarray(rows, dtype=np.float32), np.float32(lo), np.float32(hi))

    def _project(self, rows: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """``rows`` projected onto the ε-ball (the attack's norm) around ``origin`` and the bounds."""
        delta = np.asarray(rows, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
        if self.config.eps is not None and delta.shape[0]:
            delta = project(delta, self.config.eps, self.config.norm)
        return self._clip(np.asarray(origin, dtype=np.float64) + delta)

    def _check_points(self, points: Any, x: np.ndarray, name: str) -> np.ndarray:
        """Validate user-given points (e.g. starting points) against the batch and the bounds."""
        arr = check_inputs(points, name=name, bounds=self.bounds, input_shape=x.shape[1:])
        if arr.shape != x.shape:
            raise InvalidInputError(f"{name}: expected shape {x.shape} to match x, got {arr.shape}")
        return self._flat(arr)


class StartingPointAttack(BlackBoxAttack):
    """A decision-based attack that walks from an adversarial starting point towards the input."""

    def generate(self, x: Any, y: Any = None, *, target: Any = None, starting_points: Any = None):
        """As :meth:`Attack.generate`; ``starting_points`` (same shape as ``x``) are adversarial inputs to
        start from (e.g. inputs of the target class). Samples whose point is not adversarial fall back to
        the attack's own search; targeted attacks also use batch members already labelled as a sample's
        target."""
        if starting_points is not None:
            xa = to_numpy(x, "x")
            sp = to_numpy(starting_points, "starting_points")
            if sp.shape != xa.shape:
                raise InvalidInputError(f"starting_points: expected shape {xa.shape} to match x, got {sp.shape}")
        self._starting_points = starting_points
        try:
            return super().generate(x, y, target=target)
        finally:
            self._starting_points = None

    def _given_starts(self, orc: QueryOracle, x: np.ndarray, xf: np.ndarray, labels: np.ndarray,
                      needed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Starting points from ``starting_points=`` (one query each to check) and, when targeted, from
        the batch."""
        start = xf.copy()
        found = np.zeros(len(xf), dtype=bool)
        given = getattr(self, "_starting_points", None)
        if given is not None:
            sp = self._check_points(given, x, "starting_points")
            i = np.flatnonzero(needed & (orc.remaining() >= 1))
            ok = orc.decide(sp[i], i)
            start[i[ok]] = sp[i[ok]]
            found[i[ok]] = True
        if orc.targeted:
            extra, got = batch_starting_points(xf, labels, orc.target, needed & ~found)
            start[got] = extra[got]
            found |= got
        return start, found


def batch_starting_points(xf: np.ndarray, labels: np.ndarray, target: np.ndarray,
                          needed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Targeted starting points taken from the batch itself: for each sample in ``needed``, the nearest
    (L2) other input whose already-observed label is that sample's target. Costs no query."""
    n = len(xf)
    start = xf.copy()
    found = np.zeros(n, dtype=bool)
    i = np.flatnonzero(needed)
    if i.size == 0:
        return start, found
    f = xf.astype(np.float64)
    sq = (f * f).sum(axis=1)
    dist = sq[i, None] + sq[None, :] - 2.0 * f[i] @ f.T
    dist[labels[None, :] != target[i, None]] = np.inf
    dist[np.arange(i.size), i] = np.inf
    j = dist.argmin(axis=1)
    ok = np.isfinite(dist[np.arange(i.size), j])
    start[i[ok]] = xf[j[ok]]
    found[i[ok]] = True
    return start, found


def row_norms(delta: np.ndarray, norm: str) -> np.ndarray:
    """Per-row norm of a flat ``(M, D)`` perturbation (float64)."""
    return lp_norm(delta, norm)
