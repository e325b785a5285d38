"""The fuzz corpus attacked the way an outsider breaks it (issue 9, item 9's corpus): a missing, empty,
truncated, edited, swapped or planted file is refused with one armour error naming ``corpus_dir``, nothing is
ever unpickled, and a corpus in use by another process is refused."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from armour_core.errors import InvalidInputError
from armour_core.testing.files import pickled_npz
from armour_plugins_fuzz.fuzzer.corpus import Corpus, CorpusStore, Findings


def _store_with_two_checkpoints(directory: Path):
    rng = np.random.default_rng(1)
    corpus, findings = Corpus((2,), np.float32), Findings((2,), np.float32)
    store = CorpusStore(directory)

    def add(n, it):
        x = rng.uniform(0, 1, (n, 2)).astype(np.float32)
        corpus.add(x, x, [(("blur", {"sigma": 0.5}),)] * n, root=np.arange(n), parent=np.full(n, -1),
                   label=np.ones(n, np.int64), affine=np.zeros(n, bool), gain=np.full(n, 0.1),
                   added=np.full(n, it), depth=np.ones(n, np.int64))
        findings.add(x[:1], [{"label": 1, "iteration": it}])
        cov = {"neuron": {"covered": {"a": rng.uniform(0, 1, 4) > 0.5}, "count": len(corpus)}}
        store.save(it, corpus, findings, cov, {"fingerprint": "f", "history": {"neuron": [0.1] * (it + 1)}})
        return cov

    add(3, 0)
    cov = add(2, 5)
    return corpus, findings, cov


def _load(directory: Path):
    corpus, findings = Corpus((2,), np.float32), Findings((2,), np.float32)
    state, cov = CorpusStore(directory).load(corpus, findings)
    return corpus, findings, state, cov


def test_corpus_round_trip(tmp_path):
    corpus, findings, cov = _store_with_two_checkpoints(tmp_path)
    c2, f2, state, cov2 = _load(tmp_path)
    np.testing.assert_array_equal(c2.x, corpus.x)
    np.testing.assert_array_equal(f2.x, findings.x)
    assert c2.chains == corpus.chains and state["iteration"] == 5
    np.testing.assert_array_equal(cov2["neuron"]["covered"]["a"], cov["neuron"]["covered"]["a"])


def _chunk(d: Path, i: int) -> Path:
    return sorted((d / "chunks").glob("*.npz"))[i]


def _coverage_file(d: Path) -> Path:
    return next(d.glob("coverage-*.npz"))


def _edit_state(d: Path) -> None:
    state = json.loads((d / "state.json").read_text())
    state["iteration"] = 7  # still valid JSON, no longer what armour wrote
    (d / "state.json").write_text(json.dumps(state))


def _plant_pickle(path: Path, marker: Path) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    path.write_bytes(pickled_npz(marker, **{k: None if v.dtype.kind in "US" else v for k, v in arrays.items()}))


def _flip(path: Path) -> None:
    data = path.read_bytes()
    i = data.index(b"\x93NUMPY") + 140
    path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])


CORPUS_DAMAGE = {
    "state_empty": lambda d, m: (d / "state.json").write_bytes(b""),
    "state_truncated": lambda d, m: (d / "state.json").write_bytes((d / "state.json").read_bytes()[:40]),
    "state_edited": lambda d, m: _edit_state(d),
    "state_not_object": lambda d, m: (d / "state.json").write_text("[1, 2]"),
    "chunk_missing": lambda d, m: _chunk(d, 1).unlink(),
    "chunk_empty": lambda d, m: _chunk(d, 0).write_bytes(b""),
    "chunk_truncated": lambda d, m: _chunk(d, 1).write_bytes(_chunk(d, 1).read_bytes()[:100]),
    "chunk_edited": lambda d, m: _flip(_chunk(d, 0)),
    "chunk_swapped": lambda d, m: _chunk(d, 1).write_bytes(_chunk(d, 0).read_bytes()),
    "chunk_pickle": lambda d, m: _plant_pickle(_chunk(d, 1), m),
    "coverage_missing": lambda d, m: _coverage_file(d).unlink(),
    "coverage_edited": lambda d, m: _flip(_coverage_file(d)),
    "coverage_pickle": lambda d, m: _plant_pickle(_coverage_file(d), m),
}


@pytest.mark.parametrize("how", sorted(CORPUS_DAMAGE))
def test_damaged_corpus_is_refused_naming_the_file(tmp_path, how):
    d = tmp_path / "corpus"
    _store_with_two_checkpoints(d)
    marker = tmp_path / "pwned"
    CORPUS_DAMAGE[how](d, marker)
    with pytest.raises(InvalidInputError, match="corpus_dir") as info:
        _load(d)
    assert not marker.exists()
    assert str(d) in str(info.value)
    assert "\n" not in str(info.value)


def _hold_corpus_lock(directory: str, ready, release) -> None:
    with CorpusStore(directory).locked():
        ready.set()
        release.wait(60)


def test_corpus_written_by_two_processes_is_refused(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_corpus_lock, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(60)
        with pytest.raises(InvalidInputError, match="in use by another process"):
            with CorpusStore(tmp_path).locked():
                pass
    finally:
        release.set()
        proc.join(60)
    with CorpusStore(tmp_path).locked():  # free again once the other process is done
        pass
