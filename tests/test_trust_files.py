"""Files armour reads back, attacked the way an outsider breaks them (issue 9, items 13 and 9's corpus).

Caches (coverage profiles, the default model) must treat a missing, empty, truncated, edited or planted file as
a miss and rebuild it atomically; a user's fuzz corpus must be refused with one armour error naming the path.
No file is ever unpickled: a planted pickle whose loading would create a marker file must leave no marker.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from armour_core.api.coverage import Coverage, NeuronProfile, clear_profile_cache
from armour_core.api.model import Classifier
from armour_core.errors import InvalidInputError
from armour_core.testing import requires_mindspore
from armour_core.testing.markers import requires_dists


# ---------------------------------------------------------------------------------------- planted pickles
class _Plant:
    """Pickles into "call open(marker, 'w')": unpickling it would create ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickled_npz(marker: Path, **arrays) -> bytes:
    """An ``.npz`` holding a pickled object array under every name in ``arrays`` given as None."""
    buf = io.BytesIO()
    np.savez(buf, **{k: (np.array([_Plant(marker)], dtype=object) if v is None else v) for k, v in arrays.items()})
    return buf.getvalue()


def test_planted_pickle_would_run(tmp_path):
    """The planted file really is a payload: loading it the unsafe way creates the marker."""
    marker = tmp_path / "ran"
    path = tmp_path / "p.npz"
    path.write_bytes(_pickled_npz(marker, layers=None))
    with np.load(path, allow_pickle=True) as z:
        z["layers"]
    assert marker.exists()


# ---------------------------------------------------------------------------------------- coverage profiles
class TwoLayers(Classifier):
    """Numpy model: layer ``a`` is x, layer ``b`` is 2x; logits are x's first 2 columns."""

    capabilities = frozenset({"forward", "activations"})

    def __init__(self):
        super().__init__()
        self.input_shape = (3,)
        self.bounds = (0.0, 1.0)
        self.num_classes = 2
        self.activation_calls = 0

    def _logits(self, x):
        return x[:, :2].astype(np.float32)

    def layer_names(self):
        return ["a", "b"]

    def activations(self, x, layers=None):
        self.activation_calls += 1
        return {"a": x.astype(np.float32), "b": 2 * x.astype(np.float32)}

    def fingerprint(self):
        return "two-layers"


class Range(Coverage):
    """Minimal profiled criterion: fraction of neurons seen above their training maximum."""

    needs_profile = True
    state_attrs = ("hit",)

    def _reset(self):
        self.hit = {}

    def _update(self, acts):
        for k, v in acts.items():
            self.hit[k] = self.hit.get(k, np.zeros(v.shape[1], bool)) | (v > self.profile.high[k]).any(0)

    def _value(self):
        return float(np.mean(np.concatenate(list(self.hit.values())))) if self.hit else 0.0


X_TRAIN = np.random.default_rng(0).uniform(0, 1, (20, 3)).astype(np.float32)


def _fit(disk: Path) -> tuple[Range, TwoLayers]:
    clear_profile_cache()
    model = TwoLayers()
    cov = Range(model=model).fit(X_TRAIN, disk=disk)
    return cov, model


def _profile_file(disk: Path) -> Path:
    files = [p for p in disk.iterdir() if p.suffix == ".npz"]
    assert len(files) == 1, files
    return files[0]


def _same_profile(p: NeuronProfile, q: NeuronProfile) -> None:
    assert list(p.traces) == list(q.traces)
    for k in p.traces:
        np.testing.assert_array_equal(p.traces[k], q.traces[k])
    np.testing.assert_array_equal(p.classes, q.classes)


def test_profile_cache_round_trip_has_no_object_arrays(tmp_path):
    cov, model = _fit(tmp_path)
    path = _profile_file(tmp_path)
    with np.load(path, allow_pickle=False) as z:  # loads without pickle: no object array inside
        assert all(z[k].dtype != object for k in z.files)
    again, model2 = _fit(tmp_path)
    assert model2.activation_calls == 0  # served from disk
    _same_profile(cov.profile, again.profile)


def _damage(path: Path, how: str, marker: Path) -> None:
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "edited":  # one byte of array data flipped (the zip CRC no longer matches)
        i = data.index(b"\x93NUMPY") + 200
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "pickle":
        with np.load(path, allow_pickle=True) as z:  # our own file: its text/object arrays become payloads
            arrays = {k: z[k] for k in z.files}
        path.write_bytes(_pickled_npz(marker, **{k: None if v.dtype.kind in "USO" else v for k, v in arrays.items()}))
    elif how == "other_key":  # a valid profile of other data copied under this name
        other = NeuronProfile.from_traces({"a": np.zeros((2, 3), np.float32), "b": np.ones((2, 3), np.float32)},
                                          np.zeros(2, np.int64), key="0" * 32)
        path.write_bytes(other.to_bytes())
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["empty", "truncated", "edited", "garbage", "pickle", "other_key"])
def test_damaged_profile_cache_is_a_miss_and_is_rebuilt(tmp_path, how):
    disk = tmp_path / "profiles"
    ref, _ = _fit(disk)
    path = _profile_file(disk)
    marker = tmp_path / "pwned"
    _damage(path, how, marker)
    cov, model = _fit(disk)
    assert not marker.exists()
    assert model.activation_calls >= 1  # recomputed, not read from the damaged file
    _same_profile(cov.profile, ref.profile)
    # rebuilt in place: the next fit reads it from disk again
    again, model3 = _fit(disk)
    assert model3.activation_calls == 0
    _same_profile(again.profile, ref.profile)
    assert [p.name for p in disk.iterdir()] == [path.name]  # no temporary files left behind


def test_missing_profile_cache_directory_is_created(tmp_path):
    disk = tmp_path / "a" / "b"
    cov, model = _fit(disk)
    assert model.activation_calls >= 1 and _profile_file(disk).exists()


def _fit_in_process(disk: str, out: str) -> None:
    cov, _ = _fit(Path(disk))
    np.save(out, cov.profile.traces["b"])


def test_profile_cache_written_by_two_processes(tmp_path):
    disk = tmp_path / "profiles"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_fit_in_process, args=(str(disk), str(tmp_path / f"out{i}.npy"))) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ref, model = _fit(disk)
    assert model.activation_calls == 0
    for i in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"out{i}.npy"), ref.profile.traces["b"])
    assert [p.name for p in disk.iterdir()] == [_profile_file(disk).name]


# ---------------------------------------------------------------------------------------- fuzz corpus
def _store_with_two_checkpoints(directory: Path):
    from armour_core.wrappers.fuzz_corpus import Corpus, CorpusStore, Findings

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
    from armour_core.wrappers.fuzz_corpus import Corpus, CorpusStore, Findings

    corpus, findings = Corpus((2,), np.float32), Findings((2,), np.float32)
    state, cov = CorpusStore(directory).load(corpus, findings)
    return corpus, findings, state, cov


@requires_dists("fuzz")  # the Fuzzer's corpus moves to armour-plugins-fuzz (issue 10)
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
    path.write_bytes(_pickled_npz(marker, **{k: None if v.dtype.kind in "US" else v for k, v in arrays.items()}))


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


@requires_dists("fuzz")
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
    from armour_core.wrappers.fuzz_corpus import CorpusStore

    with CorpusStore(directory).locked():
        ready.set()
        release.wait(60)


@requires_dists("fuzz")
def test_corpus_written_by_two_processes_is_refused(tmp_path):
    from armour_core.wrappers.fuzz_corpus import CorpusStore

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


# ---------------------------------------------------------------------------------------- default model cache
KEY = "mlp-digits-seed0-ep1-r1"


def _pretrained(cache: Path, seed: int = 0):
    os.environ["ARMOUR_CACHE_DIR"] = str(cache)
    from armour_core.ms.pretrained import pretrained

    return pretrained("mlp", "digits", seed=seed, epochs=1, progress=False)


def _params(pre) -> dict[str, np.ndarray]:
    return {p.name: p.asnumpy() for p in pre.model.network.get_parameters()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    saved = os.environ.get("ARMOUR_CACHE_DIR")
    cache = tmp_path_factory.mktemp("ref_cache")
    try:
        ref = _pretrained(cache)
        other = _pretrained(cache, seed=1)
    finally:
        if saved is not None:
            os.environ["ARMOUR_CACHE_DIR"] = saved
    assert ref.trained_now and other.trained_now
    return cache, ref, other


def _edit_accuracy(meta: Path) -> None:
    info = json.loads(meta.read_text())
    info["test_accuracy"] = 0.999
    meta.write_text(json.dumps(info))


MODEL_DAMAGE = {
    "ckpt_missing": lambda d: (d / f"{KEY}.ckpt").unlink(),
    "json_missing": lambda d: (d / f"{KEY}.json").unlink(),
    "ckpt_empty": lambda d: (d / f"{KEY}.ckpt").write_bytes(b""),
    "ckpt_truncated": lambda d: (d / f"{KEY}.ckpt").write_bytes((d / f"{KEY}.ckpt").read_bytes()[:5000]),
    "ckpt_edited": lambda d: _flip_middle(d / f"{KEY}.ckpt"),
    "ckpt_of_other_model": lambda d: (d / f"{KEY}.ckpt").write_bytes(
        (d / "mlp-digits-seed1-ep1-r1.ckpt").read_bytes()),
    "json_empty": lambda d: (d / f"{KEY}.json").write_bytes(b""),
    "json_garbage": lambda d: (d / f"{KEY}.json").write_bytes(b"\x00{not json"),
    "json_accuracy_edited": lambda d: _edit_accuracy(d / f"{KEY}.json"),
    "json_not_object": lambda d: (d / f"{KEY}.json").write_text("[0.9]"),
}


def _flip_middle(path: Path) -> None:
    data = path.read_bytes()
    i = len(data) // 2
    path.write_bytes(data[:i] + bytes([data[i] ^ 0x10]) + data[i + 1:])


@requires_mindspore
@pytest.mark.parametrize("how", sorted(MODEL_DAMAGE))
def test_damaged_default_model_cache_is_retrained(reference, tmp_path, monkeypatch, how):
    ref_cache, ref, _ = reference
    cache = tmp_path / "cache"
    cache.mkdir()
    for p in ref_cache.iterdir():
        if p.suffix in (".ckpt", ".json"):
            (cache / p.name).write_bytes(p.read_bytes())
    monkeypatch.setenv("ARMOUR_CACHE_DIR", str(cache))
    assert not _pretrained(cache).trained_now  # the intact pair is served from the cache
    MODEL_DAMAGE[how](cache)
    pre = _pretrained(cache)
    assert pre.trained_now  # a miss: retrained, never loaded from the damaged pair
    assert pre.test_accuracy == ref.test_accuracy
    for k, v in _params(ref).items():
        np.testing.assert_array_equal(_params(pre)[k], v, err_msg=k)
    again = _pretrained(cache)  # rewritten whole: served from the cache again
    assert not again.trained_now and again.test_accuracy == ref.test_accuracy
    assert not [p.name for p in cache.iterdir() if p.name.endswith(".tmp") or ".ckpt." in p.name]


def _pretrained_in_process(cache: str, out: str) -> None:
    pre = _pretrained(Path(cache))
    np.savez(out, trained=pre.trained_now, **{k.replace(".", "_"): v for k, v in _params(pre).items()})


@requires_mindspore
def test_default_model_cache_filled_by_two_processes(reference, tmp_path):
    _, ref, _ = reference
    cache = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_pretrained_in_process, args=(str(cache), str(tmp_path / f"out{i}.npz")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    outs = [np.load(tmp_path / f"out{i}.npz") for i in range(2)]
    assert sorted(bool(o["trained"]) for o in outs) == [False, True]  # trained once; the other waited and loaded
    for k, v in _params(ref).items():
        for o in outs:
            np.testing.assert_array_equal(o[k.replace(".", "_")], v, err_msg=k)
