"""Privacy auditing with one training run (Steinke, Nasr & Jagielski, NeurIPS 2023).

``DPModel(..., audit_canaries=m)`` adds m canaries to the run, each included independently with probability
1/2 (the inclusion bits come from a recorded seed, so the audit can be replayed). After training the
canaries are scored, the auditor guesses "in" for the k₊ highest scores and "out" for the k₋ lowest,
abstaining on the rest, and the number of correct guesses becomes a lower bound on ε that holds with the
stated confidence: if training were (ε, δ)-DP, the number of correct guesses out of r would be dominated
by Binomial(r, e^ε/(1+e^ε)) up to a term in δ (the paper's Theorem for δ > 0; its Appendix D gives the
p-value). ε values whose p-value is below 1 − confidence are rejected; the bound is the largest of them.

Canaries:

* ``gradient`` (white-box, the strong kind): the paper's Dirac canaries. Canary j is a gradient of norm C
  (the current clip norm) on one coordinate c_j of the flattened parameters, distinct per canary. An
  included canary is a member of the dataset like any example: every step it joins the batch with the
  step's sampling rate q and is then added to the clipped sum, before the noise. Its score is the
  parameter change along c_j over training, θ_start − θ_end (gradient descent moves a parameter against
  its gradient).
* ``input`` (black-box): held-out examples with a random wrong label (:func:`make_canaries`, which the
  multi-run audit shares), taken from the training data unless a pool is given. All m canaries are in the
  sampling frame, so the sampling rate does not depend on the inclusion bits; batches simply drop the
  excluded ones. Score: the negative loss of the canary's (wrong) label under the trained network.

How many to guess is chosen as the paper does, by a sweep, but accounted: every (k₊, k₋) of a grid fixed
before training (:func:`guess_grid`) is tested at level (1 − confidence)/|grid| (a union bound), so the
largest bound over the grid still holds with the stated confidence. A fixed ``guesses=(k₊, k₋)`` is one
choice. A bound above the accountant's ε means the implementation or the accounting is wrong.
"""

from __future__ import annotations

import math
import secrets
import warnings
from typing import Any

import attrs
import numpy as np

from armour_core.errors import InvalidInputError

#: canary kinds
KINDS = ("gradient", "input")
METHOD = "one-run (Steinke, Nasr & Jagielski 2023)"


class PrivacyAuditWarning(UserWarning):
    """The empirical lower bound on ε exceeds the accountant's ε: the DP implementation or accounting is wrong."""


# ------------------------------------------------------------------------------------------ statistics
def _check_counts(m: int, r: int, v: int) -> tuple[int, int, int]:
    for name, value in (("canaries", m), ("guesses", r), ("correct", v)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise InvalidInputError(f"{name}: expected an int, got {value!r}")
    if not 0 <= v <= r <= m:
        raise InvalidInputError(f"expected 0 <= correct <= guesses <= canaries, got correct={v}, guesses={r}, "
                                f"canaries={m}")
    return int(m), int(r), int(v)


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """Probability of ``v`` or more correct guesses out of ``r`` (on ``m`` canaries) if training is
    (ε, δ)-DP: P[Binomial(r, q) ≥ v] + 2mδ · max_{1≤i≤v} P[v−i ≤ Binomial(r, q) < v] / i with
    q = e^ε/(1+e^ε) (Steinke, Nasr & Jagielski 2023, the (ε, δ) theorem of Section 5, computed as in Appendix D)."""
    from scipy.special import expit
    from scipy.stats import binom

    m, r, v = _check_counts(m, r, v)
    if not (epsilon >= 0 and math.isfinite(epsilon)):
        raise InvalidInputError(f"epsilon: expected a finite value >= 0, got {epsilon!r}")
    if not 0.0 <= delta < 1.0:
        raise InvalidInputError(f"delta: expected a value in [0, 1), got {delta!r}")
    q = float(expit(epsilon))
    tail = float(binom.sf(v - 1, r, q))
    if delta == 0 or v == 0:
        return min(tail, 1.0)
    below = np.cumsum(binom.pmf(np.arange(v - 1, -1, -1), r, q))  # i-th entry: P[v-i <= B < v]
    alpha = float(np.max(below / np.arange(1, v + 1)))
    return min(tail + alpha * delta * 2 * m, 1.0)


def epsilon_lower_bound(m: int, r: int, v: int, *, delta: float, confidence: float = 0.95,
                        choices: int = 1) -> float:
    """The largest ε that ``v`` correct of ``r`` guesses on ``m`` canaries rejects at level
    (1 − confidence)/choices; 0 when even ε = 0 is not rejected. ``choices`` is the number of (k₊, k₋)
    settings the guesses were picked from after seeing the scores (the union bound keeps the stated
    confidence)."""
    from scipy.optimize import brentq

    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"confidence: expected a level in (0, 1), got {confidence!r}")
    if not isinstance(choices, (int, np.integer)) or choices < 1:
        raise InvalidInputError(f"choices: expected an int >= 1, got {choices!r}")
    level = (1.0 - confidence) / int(choices)

    def excess(eps: float) -> float:
        return p_value(m, r, v, eps, delta) - level

    if excess(0.0) >= 0:
        return 0.0
    hi = 1.0
    while excess(hi) < 0:  # the p-value tends to 1 as ε grows whenever r >= 1
        hi *= 2.0
        if hi > 1e4:
            raise InvalidInputError(f"no finite bound: {v} correct of {r} guesses reject every ε up to 1e4")
    return float(brentq(excess, 0.0, hi, xtol=1e-12, rtol=1e-12))


def guess_grid(m: int) -> tuple[tuple[int, int], ...]:
    """The (k₊, k₋) settings swept by default, fixed before training: k₊ = m/2, m/4, ... down to 4, each
    with k₋ = k₊ (guess both ways) and k₋ = 0 (guess only "in")."""
    grid = []
    k = m // 2
    while k >= 4:
        grid += [(k, k), (k, 0)]
        k //= 2
    return tuple(grid) or ((max(1, m // 2), m - max(1, m // 2)),)


def count_correct(scores: np.ndarray, included: np.ndarray, k_pos: int, k_neg: int) -> int:
    """Correct guesses when the ``k_pos`` highest scores are guessed "in" and the ``k_neg`` lowest "out"
    (ties are broken by canary index, which is independent of the inclusion bits)."""
    order = np.argsort(scores, kind="stable")
    return int(included[order[len(order) - k_pos:]].sum() if k_pos else 0) + int((~included[order[:k_neg]]).sum())


def best_guesses(scores: np.ndarray, included: np.ndarray, *, delta: float, confidence: float,
                 grid: tuple[tuple[int, int], ...]) -> dict[str, Any]:
    """The (k₊, k₋) of ``grid`` with the largest bound, each tested at level (1 − confidence)/|grid|."""
    m = len(scores)
    best: dict[str, Any] | None = None
    for k_pos, k_neg in grid:
        if k_pos < 0 or k_neg < 0 or k_pos + k_neg > m or k_pos + k_neg == 0:
            raise InvalidInputError(f"guesses: (k_pos, k_neg) = ({k_pos}, {k_neg}) must be >= 0 with 1 <= k_pos + "
                                    f"k_neg <= {m} canaries")
        v = count_correct(scores, included, k_pos, k_neg)
        eps = epsilon_lower_bound(m, k_pos + k_neg, v, delta=delta, confidence=confidence, choices=len(grid))
        if best is None or eps > best["epsilon_lower"]:
            best = {"k_pos": int(k_pos), "k_neg": int(k_neg), "guesses": int(k_pos + k_neg), "correct": v,
                    "epsilon_lower": eps}
    return best


def check_record(rec: dict[str, Any]) -> None:
    """Recompute the bound of a ledger ``audit`` record from its counts; raise ``ValueError`` saying what
    disagrees (a reader then refuses the ledger, as for any inconsistent record)."""
    try:
        m, r, v = _check_counts(rec["canaries"], rec["guesses"], rec["correct"])
        if rec["k_pos"] + rec["k_neg"] != r or rec["kind"] not in KINDS or rec["choices"] < 1:
            raise ValueError("inconsistent guesses, kind or choices")
        eps = epsilon_lower_bound(m, r, v, delta=rec["delta"], confidence=rec["confidence"], choices=rec["choices"])
    except (KeyError, TypeError, InvalidInputError) as exc:
        raise ValueError(f"malformed audit record ({exc})") from None
    if not math.isclose(eps, rec["epsilon_lower"], rel_tol=1e-6, abs_tol=1e-9):
        raise ValueError(f"its epsilon_lower {rec['epsilon_lower']!r} is not what {v} correct of {r} guesses on {m} "
                         f"canaries give ({eps!r})")


# ------------------------------------------------------------------------------------------ canaries
def make_canaries(x: np.ndarray, y: np.ndarray, n: int, *, num_classes: int, kind: str = "mislabel",
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` canaries drawn from ``(x, y)``; ``mislabel`` gives each a uniformly random wrong label."""
    if kind not in ("mislabel", "clean"):
        raise InvalidInputError(f"kind: expected 'mislabel' or 'clean', got {kind!r}")
    if not 1 <= n <= len(x):
        raise InvalidInputError(f"canaries: expected 1..{len(x)} (the candidate pool), got {n}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xCA]))
    idx = rng.choice(len(x), size=n, replace=False)
    cx, cy = x[idx].copy(), y[idx].astype(np.int64).copy()
    if kind == "mislabel":
        cy = (cy + rng.integers(1, num_classes, size=n)) % num_classes
    return cx, cy


# ------------------------------------------------------------------------------------------ the result
@attrs.frozen(kw_only=True)
class OneRunAudit:
    """A one-run audit: ``epsilon_lower`` holds with probability >= ``confidence``; ``claimed_epsilon`` is
    the accountant's ε for the same steps and δ."""

    kind: str
    canaries: int
    included: int
    k_pos: int
    k_neg: int
    guesses: int
    correct: int
    choices: int
    epsilon_lower: float
    claimed_epsilon: float
    delta: float
    confidence: float
    steps: int
    seed: int

    @property
    def violated(self) -> bool:
        """Whether the empirical lower bound exceeds the claimed ε (the implementation or accounting is wrong)."""
        return self.epsilon_lower > self.claimed_epsilon

    def summary(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "violated": self.violated, "method": METHOD}

    def describe(self) -> str:
        verdict = ("FAIL: the empirical lower bound exceeds the claimed epsilon, so the DP implementation or its "
                   "accounting is wrong" if self.violated else "ok: below the claimed epsilon")
        return (f"one-run privacy audit, {self.canaries} {self.kind} canaries ({self.included} included): "
                f"{self.correct} of {self.guesses} guesses correct (k+={self.k_pos}, k-={self.k_neg}); "
                f"empirical epsilon >= {self.epsilon_lower:.3f} ({self.confidence:.0%} confidence, delta="
                f"{self.delta:g}) vs claimed epsilon {self.claimed_epsilon:.3f} — {verdict}")


def ledger_audits(ledger: Any, accountant: Any = "pld") -> list[OneRunAudit]:
    """The audits recorded in ``ledger`` (already verified when it was read), each against the claimed ε
    recomputed from the ledger's steps up to the audit, at the audit's δ, with ``accountant``."""
    fields = {f.name for f in attrs.fields(OneRunAudit)}
    return [OneRunAudit(**{**{k: v for k, v in rec.items() if k in fields},
                           "claimed_epsilon": ledger.epsilon(rec["delta"], accountant, upto=rec["steps"])})
            for rec in ledger.audits]


# ------------------------------------------------------------------------------------------ canaries in a run
class CanaryAudit:
    """The canaries of one DPModel and the hooks through which DPModel runs them (see the module doc)."""

    def __init__(self, canaries: int, *, kind: str = "gradient", seed: int | None = None,
                 confidence: float = 0.95, guesses: tuple[int, int] | None = None, pool: Any = None):
        if not isinstance(canaries, int) or isinstance(canaries, bool) or canaries < 2:
            raise InvalidInputError(f"canaries (DPModel's audit_canaries): expected an int >= 2, got {canaries!r}")
        if kind not in KINDS:
            raise InvalidInputError(f"kind (DPModel's audit_kind): expected one of {KINDS}, got {kind!r}")
        if not 0.0 < confidence < 1.0:
            raise InvalidInputError(f"confidence: expected a level in (0, 1), got {confidence!r}")
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise InvalidInputError(f"seed: expected an int >= 0 or None, got {seed!r}")
        if guesses is not None:
            ok = (isinstance(guesses, tuple) and len(guesses) == 2
                  and all(isinstance(k, int) and k >= 0 for k in guesses) and 1 <= sum(guesses) <= canaries)
            if not ok:
                raise InvalidInputError(f"guesses: expected (k_pos, k_neg), ints >= 0 with 1 <= k_pos + k_neg <= "
                                        f"{canaries}, got {guesses!r}")
        if pool is not None and kind != "input":
            raise InvalidInputError("pool: only input canaries are drawn from a pool")
        self.m = canaries
        self.kind = kind
        self.seed = secrets.randbits(62) if seed is None else seed  # recorded: the audit can be replayed
        self.confidence = float(confidence)
        self.grid = (guesses,) if guesses is not None else guess_grid(canaries)
        self.pool = pool
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x1C]))
        self.included = rng.random(canaries) < 0.5
        self.coords: np.ndarray | None = None  # gradient canaries: flat parameter coordinates
        self.start: np.ndarray | None = None  # gradient canaries: parameters at those coordinates before training
        self.canary_x = self.canary_y = None  # input canaries
        self._taken: np.ndarray | None = None  # input canaries drawn from the training data: their indices there
        self._keep: np.ndarray | None = None  # input canaries: which positions of the sampling frame may be batched
        self._rng: np.random.Generator | None = None
        self._size = 0  # parameter coordinates of the network (set by check)

    # ---------------------------------------------------------------- hooks, in the order DPModel calls them
    def check(self, params: list) -> None:
        """Before anything is trained or recorded: gradient canaries need one parameter coordinate each."""
        size = sum(int(np.prod(p.shape)) if p.shape else 1 for p in params)
        if self.kind == "gradient" and size < self.m:
            raise InvalidInputError(f"canaries={self.m}: gradient canaries need one parameter coordinate each; "
                                    f"the network has {size}")
        self._size = size

    def training_data(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input canaries: the dataset with all m canaries appended (drawn and mislabelled on the first call,
        from ``pool`` or from ``x`` itself, then removed from it). Gradient canaries: unchanged."""
        if self.kind != "input":
            return x, y
        if self.canary_x is None:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xDA7A]))
            src = (np.asarray(self.pool[0], np.float32), np.asarray(self.pool[1])) if self.pool is not None else (x, y)
            if len(src[0]) < self.m + (0 if self.pool is not None else 1):
                raise InvalidInputError(f"canaries={self.m}: the canary pool has only {len(src[0])} examples")
            classes = int(np.max(np.asarray(y))) + 1
            if classes < 2:
                raise InvalidInputError("kind='input': mislabelled canaries need at least two classes in y")
            take = rng.choice(len(src[0]), size=self.m, replace=False)
            self.canary_x, self.canary_y = make_canaries(src[0][take], src[1][take], self.m, num_classes=classes,
                                                         seed=self.seed)
            self._taken = None if self.pool is not None else np.sort(take)
        if self._taken is not None:
            keep = np.ones(len(x), bool)
            keep[self._taken[self._taken < len(x)]] = False
            x, y = x[keep], y[keep]
        self._keep = np.concatenate([np.ones(len(x), bool), self.included])
        return np.concatenate([x, self.canary_x.astype(x.dtype)]), np.concatenate([y, self.canary_y.astype(y.dtype)])

    def training_source(self, data: Any) -> Any:
        """:meth:`training_data` on DPModel's training source: input canaries need the data in memory (a
        random-access source is refused by name), gradient canaries leave any source unchanged."""
        if self.kind != "input":
            return data
        if data.lazy:
            raise InvalidInputError("train_dataset: input canaries (audit_kind='input') need (x, y) arrays in memory, "
                                    "not a random-access source; use audit_kind='gradient'")
        from .data import ArraySource

        return ArraySource(*self.training_data(data.x, data.y), data.batch_size)

    def sampler(self, sampler: Any) -> Any:
        """Input canaries: the batches without the excluded canaries (the frame, hence q, is the same whatever
        the inclusion bits are). Gradient canaries: the sampler itself."""
        return sampler if self.kind != "input" else _Dropping(sampler, self._keep)

    def begin(self, params: list, session_seed: tuple) -> None:
        """Start of a training session: per-session stream for the canaries' batch sampling; on the first
        session, gradient canaries get their coordinates and the parameters there are recorded."""
        self._rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5A, *session_seed]))
        if self.kind != "gradient" or self.start is not None:
            return
        self.check(params)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xC0]))
        self.coords = np.sort(rng.choice(self._size, size=self.m, replace=False))
        self.start = _flat(params)[self.coords]

    def inject(self, noise: np.ndarray, *, q: float, clip_norm: float, scale: float) -> np.ndarray:
        """Gradient canaries: each included canary joins this step's batch with probability ``q`` and adds
        ``clip_norm`` on its coordinate to the clipped sum. The step adds ``noise * scale`` to that sum, so the
        canaries go into ``noise`` divided by ``scale``. Input canaries: ``noise`` unchanged."""
        if self.kind != "gradient":
            return noise
        sampled = self.included & (self._rng.random(self.m) < q)
        if sampled.any():
            noise = noise.copy()
            noise[self.coords[sampled]] += np.float32(clip_norm / scale)
        return noise

    def finish(self, *, network: Any, params: list, ledger: Any, claimed_epsilon: float, delta: float) -> OneRunAudit:
        """Score the canaries, pick the guesses, bound ε, record the audit in the ledger, and warn loudly if the
        bound exceeds ``claimed_epsilon``."""
        scores = self.scores(network, params)
        best = best_guesses(scores, self.included, delta=delta, confidence=self.confidence, grid=self.grid)
        result = OneRunAudit(kind=self.kind, canaries=self.m, included=int(self.included.sum()), choices=len(self.grid),
                             claimed_epsilon=float(claimed_epsilon), delta=float(delta), confidence=self.confidence,
                             steps=int(ledger.num_steps), seed=int(self.seed), **best)
        ledger.record_audit(**{k: v for k, v in result.summary().items() if k not in ("violated",)})
        if result.violated:
            warnings.warn("PRIVACY AUDIT FAILED: " + result.describe(), PrivacyAuditWarning, stacklevel=3)
        return result

    def scores(self, network: Any, params: list) -> np.ndarray:
        """Membership scores, higher = more likely included."""
        if self.kind == "gradient":
            if self.start is None:
                raise InvalidInputError("audit: no training session ran, so the canaries cannot be scored")
            return (self.start - _flat(params)[self.coords]).astype(np.float64)
        from armour_core.api.inference import true_class_loss
        from armour_core.api.model import as_classifier

        logits = np.asarray(as_classifier(network).logits(self.canary_x), dtype=np.float64)
        return -true_class_loss(logits, self.canary_y.astype(np.int64))


def _flat(params: list) -> np.ndarray:
    return np.concatenate([p.asnumpy().reshape(-1) for p in params])


class _Dropping:
    """A sampler whose batches skip the frame positions that ``keep`` marks False (excluded canaries)."""

    def __init__(self, sampler: Any, keep: np.ndarray):
        self._sampler = sampler
        self._keep = keep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sampler, name)

    def epoch(self):
        for idx in self._sampler.epoch():
            yield idx[self._keep[idx]]
