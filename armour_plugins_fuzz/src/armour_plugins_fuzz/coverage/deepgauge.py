"""DeepGauge-family neuron coverage criteria (Ma et al., ASE 2018), exactly as the paper defines them.

A neuron's output φ(x, n) is the layer output for dense layers and the spatial mean of a channel for
convolutional ones. The training-set profile gives each neuron's range [low_n, high_n]:

* NC   — neurons with φ(x, n) > t for some input, over all neurons;
* KMNC — [low_n, high_n] cut into k equal sections; sections hit by some input, over k·|N|;
* NBC  — neurons with φ > high_n (upper corner) plus neurons with φ < low_n (lower corner), over 2·|N|;
* SNAC — upper-corner neurons over |N|;
* TKNC — neurons among the k most active of their layer for some input, over |N|;
* TKNP — distinct top-k patterns (the tuple of every layer's top-k set), over ``capacity``.

Every criterion keeps a covered set (bit sets here, a sorted pattern array for TKNP) that a batch is
folded into, so coverage is incremental and per-input gains are computed in one vectorised pass.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np

from armour_core.api.coverage import Activations, Coverage, NeuronProfile
from armour_core.errors import InvalidInputError

from .configs import BoundaryConfig, MultisectionConfig, NeuronCoverageConfig, TopKConfig, TopKPatternConfig


class SetCoverage(Coverage, abc.ABC):
    """A criterion whose items (neurons, sections, corners, buckets) form a fixed universe per layer.

    Subclasses say which items each input hits (:meth:`_hits`), as a dense (N, items) boolean array or,
    when the universe is large (KMNC with k = 1000, surprise buckets), as sparse ``(rows, items, width)``
    index arrays. The covered set is the union of the hits.
    """

    state_attrs = ("covered",)

    def _reset(self) -> None:
        self.covered: dict[str, np.ndarray] = {}

    @abc.abstractmethod
    def _hits(self, acts: Activations) -> dict[str, Any]:
        """Per layer: an (N, items) boolean array, or ``(rows, items, width)`` index arrays."""

    def _sparse(self, acts: Activations):
        for name, hit in self._hits(acts).items():
            if isinstance(hit, tuple):
                rows, cols, width = hit
            else:
                rows, cols = np.nonzero(hit)
                width = hit.shape[1]
            prev = self.covered.get(name)
            if prev is None:
                prev = np.zeros(int(width), dtype=bool)
            yield name, np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), prev

    def _update(self, acts: Activations) -> None:
        for name, _, cols, prev in self._sparse(acts):
            now = prev.copy()
            now[cols] = True
            self.covered[name] = now

    def _merge(self, state: dict[str, Any]) -> None:
        for name, other in state["covered"].items():
            prev = self.covered.get(name)
            if prev is not None and prev.shape != other.shape:
                raise InvalidInputError(f"state: layer {name!r} has {other.size} items, this criterion's "
                                        f"{prev.size} (a state of another criterion or model?)")
            self.covered[name] = np.array(other, dtype=bool) if prev is None else prev | other

    def _value(self) -> float:
        total = sum(c.size for c in self.covered.values())
        return sum(int(c.sum()) for c in self.covered.values()) / total if total else 0.0

    @property
    def covered_items(self) -> int:
        return sum(int(c.sum()) for c in self.covered.values())

    @property
    def total_items(self) -> int:
        return sum(c.size for c in self.covered.values())

    def _gain(self, acts: Activations) -> float:
        before = self.value
        covered, total = 0, 0
        for _, _, cols, prev in self._sparse(acts):
            covered += int(prev.sum()) + int(np.unique(cols[~prev[cols]]).size)
            total += prev.size
        after = min(1.0, max(0.0, covered / total)) if total else 0.0
        return after - before

    def _sample_gains(self, acts: Activations) -> np.ndarray:
        n = acts.size
        new = np.zeros(n, dtype=np.int64)
        total = 0
        for _, rows, cols, prev in self._sparse(acts):
            total += prev.size
            fresh = ~prev[cols]
            r, c = rows[fresh], cols[fresh]
            order = np.lexsort((r, c))  # by item, then by input: the first input to hit each new item
            _, first = np.unique(c[order], return_index=True)
            new += np.bincount(r[order][first], minlength=n)
        return new / total if total else np.zeros(n)


class NeuronCoverage(SetCoverage):
    """NC: the fraction of neurons whose output exceeded ``threshold`` for at least one input.

    With ``scaled=True`` each layer's outputs are min-max scaled per input first (DeepXplore's variant).
    """

    Config = NeuronCoverageConfig

    def _hits(self, acts):
        out = {}
        for name, a in acts.items():
            if self.config.scaled:
                lo = a.min(axis=1, keepdims=True)
                span = a.max(axis=1, keepdims=True) - lo
                a = np.where(span > 0, (a - lo) / np.where(span > 0, span, 1), 0.0)
            out[name] = a > self.config.threshold
        return out


def top_k_indices(a: np.ndarray, k: int) -> np.ndarray:
    """(N, min(k, units)) indices of each row's k largest values, sorted ascending (a set, as an array).

    Ties are broken towards the lower index, so the result is deterministic.
    """
    kk = min(k, a.shape[1])
    order = np.argsort(-a, axis=1, kind="stable")[:, :kk]
    return np.sort(order, axis=1)


class TopKNeuronCoverage(SetCoverage):
    """TKNC: the fraction of neurons that were among the ``k`` most active of their layer for some input."""

    Config = TopKConfig

    def _hits(self, acts):
        out = {}
        for name, a in acts.items():
            idx = top_k_indices(a, self.config.k)
            hit = np.zeros(a.shape, dtype=bool)
            np.put_along_axis(hit, idx, True, axis=1)
            out[name] = hit
        return out


class _ProfiledCoverage(SetCoverage):
    needs_profile = True

    def _range(self, name: str, scale: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        p: NeuronProfile = self.profile
        low, high = p.low[name].astype(np.float64), p.high[name].astype(np.float64)
        if scale:
            low, high = low - scale * p.std[name], high + scale * p.std[name]
        return low, high


class MultisectionCoverage(_ProfiledCoverage):
    """KMNC: each neuron's training range [low, high] is cut into ``k`` equal sections; the fraction of the
    k·|N| sections that some input's output fell into. Outputs outside [low, high] cover no section; a
    neuron constant on the training set (low == high) has k identical one-point sections, all covered by an
    output equal to that constant."""

    Config = MultisectionConfig

    def _hits(self, acts):
        k = self.config.k
        out = {}
        for name, a in acts.items():
            low, high = self._range(name)
            a = a.astype(np.float64)
            span = high - low
            flat = span <= 0
            inside = (a >= low) & (a <= high)
            idx = np.clip(np.floor((a - low) / np.where(flat, 1.0, span) * k), 0, k - 1).astype(np.int64)
            rows, units = np.nonzero(inside & ~flat)
            cols = units * k + idx[rows, units]
            frows, funits = np.nonzero(inside & flat)  # one-point range: all k sections at once
            funits, first = np.unique(funits, return_index=True)  # only a unit's first input can add them
            frows = np.repeat(frows[first], k)
            fcols = (np.repeat(funits, k) * k + np.tile(np.arange(k), funits.size))
            out[name] = (np.concatenate([rows, frows]), np.concatenate([cols, fcols]), a.shape[1] * k)
        return out


class NeuronBoundaryCoverage(_ProfiledCoverage):
    """NBC: (|upper-corner neurons| + |lower-corner neurons|) / (2·|N|), where an upper (lower) corner
    neuron had an output above high (below low) for some input."""

    Config = BoundaryConfig

    def _hits(self, acts):
        out = {}
        for name, a in acts.items():
            low, high = self._range(name, self.config.std_scale)
            a = a.astype(np.float64)
            out[name] = np.concatenate([a > high, a < low], axis=1)
        return out


class StrongNeuronActivationCoverage(_ProfiledCoverage):
    """SNAC: the fraction of neurons whose output exceeded their training maximum for some input."""

    Config = BoundaryConfig

    def _hits(self, acts):
        out = {}
        for name, a in acts.items():
            _, high = self._range(name, self.config.std_scale)
            out[name] = a.astype(np.float64) > high
        return out


class TopKPatternCoverage(Coverage):
    """TKNP: the number of distinct top-k patterns — for an input, the tuple of every layer's set of its k
    most active neurons — over ``capacity`` (default: every possible pattern, ∏ C(units, k)). The raw count
    is :attr:`patterns`."""

    Config = TopKPatternConfig
    state_attrs = ("seen", "_capacity")

    def _reset(self) -> None:
        self.seen = np.zeros(0, dtype="V1")
        if not hasattr(self, "_capacity"):
            self._capacity: float | None = None  # fixed by the layer widths on the first batch

    @property
    def patterns(self) -> int:
        return int(self.seen.size)

    def _keys(self, acts: Activations) -> np.ndarray:
        rows = np.concatenate([top_k_indices(a, self.config.k) for a in acts.values()], axis=1)
        rows = np.ascontiguousarray(rows.astype(np.int32))
        if self._capacity is None:
            possible = math.prod(math.comb(a.shape[1], min(self.config.k, a.shape[1])) for a in acts.values())
            cap = possible if self.config.capacity is None else min(self.config.capacity, possible)
            self._capacity = float(cap)
        return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()

    def _update(self, acts):
        keys = self._keys(acts)
        self.seen = np.unique(keys) if self.seen.size == 0 else np.union1d(self.seen, keys)

    def _merge(self, state: dict[str, Any]) -> None:
        other = state["seen"]
        self.seen = other.copy() if self.seen.size == 0 else np.union1d(self.seen, other) if other.size else self.seen
        if self._capacity is None:
            self._capacity = state["_capacity"]

    def _value(self) -> float:
        return self.seen.size / self._capacity if self._capacity else 0.0

    def _fresh(self, keys: np.ndarray) -> np.ndarray:
        """Per input: whether it is the first occurrence of a pattern not seen before."""
        _, first = np.unique(keys, return_index=True)
        is_first = np.zeros(keys.size, dtype=bool)
        is_first[first] = True
        if self.seen.size:
            is_first &= ~np.isin(keys, self.seen)
        return is_first

    def _gain(self, acts):
        before = self.value
        keys = self._keys(acts)
        after = (self.seen.size + int(self._fresh(keys).sum())) / self._capacity
        return min(1.0, after) - before

    def _sample_gains(self, acts):
        return self._fresh(self._keys(acts)) / self._capacity
