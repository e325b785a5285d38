"""The fuzzer's corpus, its findings, and their on-disk checkpoints.

In memory the corpus is a set of growable numpy arrays (inputs, lineage references, labels, per-entry
statistics) plus one mutation chain per entry. On disk (``corpus_dir``) a checkpoint is:

* ``chunks/NNNNNNNN.npz``: the corpus entries and findings added since the previous checkpoint (arrays plus
  their metadata as JSON), written atomically and never rewritten;
* ``coverage-NNNNNNNN.npz``: every criterion's covered-set state at that iteration;
* ``state.json``: iteration, the list of chunks, per-entry fuzz counts, histories, per-mutator counters and
  the scheduler's state. Written last and atomically: it is the commit point, so a run killed at any moment
  resumes from the last complete checkpoint (files a killed run wrote after it are ignored and overwritten).

No pickle is used: coverage states are encoded as JSON trees whose arrays live in the ``.npz``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import InvalidInputError

FORMAT = 1
Chain = tuple  # tuple of (mutator name, {param: value}) steps


class _Grow:
    """A growable array (amortised O(1) appends of whole batches)."""

    def __init__(self, shape: tuple[int, ...], dtype: Any):
        self.a = np.empty((16, *shape), dtype=dtype)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        m = len(values)
        if self.n + m > len(self.a):
            cap = max(2 * len(self.a), self.n + m)
            b = np.empty((cap, *self.a.shape[1:]), dtype=self.a.dtype)
            b[: self.n] = self.a[: self.n]
            self.a = b
        self.a[self.n: self.n + m] = values
        self.n += m

    @property
    def view(self) -> np.ndarray:
        return self.a[: self.n]


class Corpus:
    """Entries the fuzzer may mutate: each with its input, lineage reference and statistics."""

    META = ("root", "parent", "label", "affine", "gain", "added", "depth")

    def __init__(self, sample_shape: tuple[int, ...], dtype: Any):
        self.sample_shape, self.dtype = tuple(sample_shape), np.dtype(dtype)
        self._x = _Grow(self.sample_shape, self.dtype)
        self._ref = _Grow(self.sample_shape, self.dtype)
        self._cols = {"root": _Grow((), np.int64), "parent": _Grow((), np.int64), "label": _Grow((), np.int64),
                      "affine": _Grow((), bool), "gain": _Grow((), np.float64), "added": _Grow((), np.int64),
                      "depth": _Grow((), np.int64), "fuzz_count": _Grow((), np.int64)}
        self.chains: list[Chain] = []

    def __len__(self) -> int:
        return self._x.n

    def add(self, x: np.ndarray, ref: np.ndarray, chains: list[Chain], **meta: np.ndarray) -> None:
        self._x.extend(x)
        self._ref.extend(ref)
        for k in self.META:
            self._cols[k].extend(np.asarray(meta[k]))
        self._cols["fuzz_count"].extend(np.asarray(meta.get("fuzz_count", np.zeros(len(x), np.int64))))
        self.chains.extend(chains)

    @property
    def x(self) -> np.ndarray:
        return self._x.view

    @property
    def ref(self) -> np.ndarray:
        return self._ref.view

    def col(self, name: str) -> np.ndarray:
        return self._cols[name].view

    def stats(self, iteration: int) -> dict[str, np.ndarray]:
        n = len(self)
        return {"fuzz_count": self.col("fuzz_count").copy(), "gain": self.col("gain").copy(),
                "age": iteration - self.col("added"), "order": np.arange(n), "depth": self.col("depth").copy()}

    def meta_rows(self, start: int) -> list[dict[str, Any]]:
        rows = []
        for i in range(start, len(self)):
            row = {k: self.col(k)[i].item() for k in self.META}
            row["chain"] = chain_to_json(self.chains[i])
            rows.append(row)
        return rows


class Findings:
    """Failing inputs with what produced them."""

    def __init__(self, sample_shape: tuple[int, ...], dtype: Any):
        self._x = _Grow(tuple(sample_shape), dtype)
        self.meta: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.meta)

    def add(self, x: np.ndarray, rows: list[dict[str, Any]]) -> None:
        self._x.extend(x)
        self.meta.extend(rows)

    @property
    def x(self) -> np.ndarray:
        return self._x.view


def chain_to_json(chain: Chain) -> list[dict[str, Any]]:
    return [{"mutator": name, "params": {k: float(v) for k, v in params.items()}} for name, params in chain]


def chain_from_json(rows: list[dict[str, Any]]) -> Chain:
    return tuple((r["mutator"], dict(r["params"])) for r in rows)


# ------------------------------------------------------------------ JSON + npz encoding of coverage states
def encode_state(obj: Any, arrays: dict[str, np.ndarray], where: str = "state") -> Any:
    """``obj`` as a JSON tree; arrays are moved into ``arrays`` and referenced by key."""
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise InvalidInputError(f"corpus_dir: cannot persist {where}: dictionary keys must be strings")
        return {"__dict__": {k: encode_state(v, arrays, f"{where}.{k}") for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [encode_state(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if isinstance(obj, (set, frozenset)):
        return {"__set__": [encode_state(v, arrays, where) for v in sorted(obj)]}
    raise InvalidInputError(f"corpus_dir: cannot persist {where} of type {type(obj).__name__}")


def decode_state(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, dict):
        if "__array__" in obj:
            return np.array(arrays[obj["__array__"]])
        if "__dict__" in obj:
            return {k: decode_state(v, arrays) for k, v in obj["__dict__"].items()}
        if "__list__" in obj:
            items = [decode_state(v, arrays) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
        if "__set__" in obj:
            return {decode_state(v, arrays) for v in obj["__set__"]}
    return obj


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# ------------------------------------------------------------------ the checkpoint store
class CorpusStore:
    """Checkpoints of one fuzzing run in a directory (see the module docstring for the layout)."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        if self.dir.exists() and not self.dir.is_dir():
            raise InvalidInputError(f"corpus_dir: {str(self.dir)!r} exists and is not a directory")
        self.saved_entries = 0
        self.saved_findings = 0
        self.chunks: list[str] = []
        self._coverage_file: str | None = None

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def has_checkpoint(self) -> bool:
        return self.state_path.exists()

    def clear(self) -> None:
        """Remove this store's own files (a fresh run in a used directory); nothing else is touched."""
        for p in list((self.dir / "chunks").glob("*.npz")) + list(self.dir.glob("coverage-*.npz")):
            p.unlink()
        if self.state_path.exists():
            self.state_path.unlink()

    def save(self, iteration: int, corpus: Corpus, findings: Findings, coverage_states: dict[str, Any],
             state: dict[str, Any]) -> None:
        """Write one checkpoint: new chunk, coverage states, then ``state.json`` (the commit point)."""
        new_e, new_f = len(corpus) - self.saved_entries, len(findings) - self.saved_findings
        chunks = list(self.chunks)
        if new_e or new_f or not chunks:
            name = f"{iteration:08d}.npz"
            arrays = {"x": corpus.x[self.saved_entries:], "ref": corpus.ref[self.saved_entries:],
                      "finding_x": findings.x[self.saved_findings:],
                      "meta": np.array(json.dumps({"entries": corpus.meta_rows(self.saved_entries),
                                                   "findings": findings.meta[self.saved_findings:]}))}
            atomic_write_bytes(self.dir / "chunks" / name, _npz_bytes(arrays))
            if name not in chunks:
                chunks.append(name)
        arrays: dict[str, np.ndarray] = {}
        tree = encode_state(coverage_states, arrays, "coverage")
        arrays["tree"] = np.array(json.dumps(tree))
        cov_name = f"coverage-{iteration:08d}.npz"
        atomic_write_bytes(self.dir / cov_name, _npz_bytes(arrays))
        payload = dict(state, format=FORMAT, iteration=iteration, chunks=chunks, coverage_file=cov_name,
                       entries=len(corpus), findings=len(findings),
                       fuzz_count=corpus.col("fuzz_count").tolist())
        atomic_write_text(self.state_path, json.dumps(payload, allow_nan=False))
        old = self._coverage_file
        self.chunks, self._coverage_file = chunks, cov_name
        self.saved_entries, self.saved_findings = len(corpus), len(findings)
        if old and old != cov_name and (self.dir / old).exists():
            (self.dir / old).unlink()

    def load(self, corpus: Corpus, findings: Findings) -> tuple[dict[str, Any], dict[str, Any]]:
        """Fill ``corpus`` and ``findings`` from the last checkpoint; returns (state, coverage states)."""
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"corpus_dir: cannot read {self.state_path}: {exc}") from None
        if state.get("format") != FORMAT:
            raise InvalidInputError(f"corpus_dir: {self.state_path} has format {state.get('format')!r}; "
                                    f"this armour writes format {FORMAT}")
        for name in state["chunks"]:
            with np.load(self.dir / "chunks" / name, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                rows = meta["entries"]
                if rows:
                    corpus.add(z["x"], z["ref"], [chain_from_json(r["chain"]) for r in rows],
                               **{k: np.array([r[k] for r in rows]) for k in Corpus.META})
                if meta["findings"]:
                    findings.add(z["finding_x"], meta["findings"])
        if len(corpus) != state["entries"] or len(findings) != state["findings"]:
            raise InvalidInputError(f"corpus_dir: checkpoint of {self.dir} is inconsistent "
                                    f"({len(corpus)} entries in chunks, state says {state['entries']})")
        corpus.col("fuzz_count")[:] = np.asarray(state["fuzz_count"], dtype=np.int64)
        with np.load(self.dir / state["coverage_file"], allow_pickle=False) as z:
            coverage_states = decode_state(json.loads(str(z["tree"])), z)
        self.chunks = list(state["chunks"])
        self._coverage_file = state["coverage_file"]
        self.saved_entries, self.saved_findings = len(corpus), len(findings)
        return state, coverage_states
