"""The fuzzer's corpus, its findings, and their on-disk checkpoints.

In memory the corpus is a set of growable numpy arrays (inputs, lineage references, labels, per-entry
statistics) plus one mutation chain per entry. On disk (``corpus_dir``) a checkpoint is:

* ``chunks/NNNNNNNN.npz``: the corpus entries and findings added since the previous checkpoint (arrays plus
  their metadata as JSON), written atomically and never rewritten;
* ``coverage-NNNNNNNN.npz``: every criterion's covered-set state at that iteration;
* ``state.json``: iteration, the list of chunks, per-entry fuzz counts, histories, per-mutator counters and
  the scheduler's state. Written last and atomically: it is the commit point, so a run killed at any moment
  resumes from the last complete checkpoint (files a killed run wrote after it are ignored and overwritten).

No pickle is used: coverage states are encoded as JSON trees whose arrays live in the ``.npz``, read with
``allow_pickle=False``. ``state.json`` records the SHA-256 of every file of the checkpoint and of its own
content, so a missing, truncated, edited or swapped file is refused with an error naming it (this detects
damage and mix-ups, not a forger who recomputes the digests). A run holds an exclusive lock on the
directory (:meth:`CorpusStore.locked`), so two processes never write one corpus.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from armour_core.atomic import atomic_write_bytes, atomic_write_text, exclusive_lock
from armour_core.errors import InvalidInputError

#: 2: per-file and state digests (format-1 checkpoints are refused: start afresh)
FORMAT = 2
_CHUNK_NAME = re.compile(r"\d{8}\.npz")
_COVERAGE_NAME = re.compile(r"coverage-\d{8}\.npz")
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _state_digest(state: dict[str, Any]) -> str:
    """SHA-256 of ``state`` without its ``digest`` entry, in canonical JSON (of its JSON round trip, so the
    state as written and as read back give the same digest: tuples become lists, keys strings)."""
    body = json.loads(json.dumps({k: v for k, v in state.items() if k != "digest"}, allow_nan=False))
    return _sha256(json.dumps(body, sort_keys=True).encode())


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
        self._digests: dict[str, str] = {}  # chunk name -> SHA-256 of its bytes
        self._coverage_file: str | None = None

    @contextlib.contextmanager
    def locked(self):
        """Be the only process writing this corpus for the ``with`` block (another one gets an error)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(exclusive_lock(self.dir))
            except BlockingIOError:
                raise InvalidInputError(f"corpus_dir: {str(self.dir)!r} is in use by another process (another "
                                        "fuzzing run holds its lock); wait for it or use another directory") from None
            yield self

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
        digests = dict(self._digests)
        if new_e or new_f or not chunks:
            name = f"{iteration:08d}.npz"
            arrays = {"x": corpus.x[self.saved_entries:], "ref": corpus.ref[self.saved_entries:],
                      "finding_x": findings.x[self.saved_findings:],
                      "meta": np.array(json.dumps({"entries": corpus.meta_rows(self.saved_entries),
                                                   "findings": findings.meta[self.saved_findings:]}))}
            data = _npz_bytes(arrays)
            atomic_write_bytes(self.dir / "chunks" / name, data)
            digests[name] = _sha256(data)
            if name not in chunks:
                chunks.append(name)
        arrays: dict[str, np.ndarray] = {}
        tree = encode_state(coverage_states, arrays, "coverage")
        arrays["tree"] = np.array(json.dumps(tree))
        cov_name = f"coverage-{iteration:08d}.npz"
        data = _npz_bytes(arrays)
        atomic_write_bytes(self.dir / cov_name, data)
        payload = dict(state, format=FORMAT, iteration=iteration, chunks=chunks, coverage_file=cov_name,
                       entries=len(corpus), findings=len(findings),
                       fuzz_count=corpus.col("fuzz_count").tolist(),
                       files={**{c: digests[c] for c in chunks}, cov_name: _sha256(data)})
        payload["digest"] = _state_digest(payload)
        atomic_write_text(self.state_path, json.dumps(payload, allow_nan=False))
        old = self._coverage_file
        self.chunks, self._coverage_file, self._digests = chunks, cov_name, {c: digests[c] for c in chunks}
        self.saved_entries, self.saved_findings = len(corpus), len(findings)
        if old and old != cov_name and (self.dir / old).exists():
            (self.dir / old).unlink()

    def load(self, corpus: Corpus, findings: Findings) -> tuple[dict[str, Any], dict[str, Any]]:
        """Fill ``corpus`` and ``findings`` from the last checkpoint; returns (state, coverage states).

        Every file is checked against the digests in ``state.json`` before it is parsed; anything missing,
        damaged or inconsistent raises one :class:`InvalidInputError` naming the file.
        """
        state = self._read_state()
        where = str(self.state_path)
        try:
            for name in state["chunks"]:
                with self._open_npz(self.dir / "chunks" / name, state["files"].get(name)) as z:
                    meta = json.loads(str(z["meta"][()]))
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
            cov_name = state["coverage_file"]
            with self._open_npz(self.dir / cov_name, state["files"].get(cov_name)) as z:
                coverage_states = decode_state(json.loads(str(z["tree"][()])), z)
        except InvalidInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed entry is a damaged corpus, whatever it raises
            raise InvalidInputError(f"corpus_dir: checkpoint {where!r} is damaged ({type(exc).__name__}: {exc})") \
                from None
        self.chunks = list(state["chunks"])
        self._digests = {c: state["files"][c] for c in self.chunks}
        self._coverage_file = cov_name
        self.saved_entries, self.saved_findings = len(corpus), len(findings)
        return state, coverage_states

    def _read_state(self) -> dict[str, Any]:
        """``state.json``, checked: format, its own digest, and the names of the files it lists."""
        where = str(self.state_path)
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"corpus_dir: cannot read {where!r}: {exc}") from None
        if not isinstance(state, dict):
            raise InvalidInputError(f"corpus_dir: {where!r} is not a checkpoint (a JSON object was expected)")
        if state.get("format") != FORMAT:
            raise InvalidInputError(f"corpus_dir: {where!r} has format {state.get('format')!r}; this armour reads "
                                    f"format {FORMAT}: start afresh (resume=False, armour fuzz --fresh)")
        if state.get("digest") != _state_digest(state):
            raise InvalidInputError(f"corpus_dir: {where!r} was changed after armour wrote it (its checksum "
                                    "does not match); restore it or start afresh")
        chunks, files, cov = state.get("chunks"), state.get("files"), state.get("coverage_file")
        names_ok = (isinstance(chunks, list) and isinstance(files, dict) and isinstance(cov, str)
                    and all(isinstance(c, str) and _CHUNK_NAME.fullmatch(c) for c in chunks)
                    and _COVERAGE_NAME.fullmatch(cov) is not None)
        if not names_ok:
            raise InvalidInputError(f"corpus_dir: {where!r} lists malformed checkpoint files")
        return state

    @staticmethod
    def _open_npz(path: Path, digest: Any):
        """The arrays of ``path`` (no pickle), once its bytes match ``digest``."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"corpus_dir: checkpoint file {str(path)!r} cannot be read "
                                    f"({exc.strerror or type(exc).__name__})") from None
        if _sha256(data) != digest:
            raise InvalidInputError(f"corpus_dir: checkpoint file {str(path)!r} is not the one the checkpoint "
                                    "recorded (truncated, edited or replaced)")
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise InvalidInputError(f"corpus_dir: checkpoint file {str(path)!r} cannot be parsed "
                                    f"({type(exc).__name__}: {exc})") from None
