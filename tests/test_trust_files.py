"""Files armour reads back, attacked the way an outsider breaks them (issue 9, items 13 and 9's corpus).

Caches (coverage profiles, the default model) must treat a missing, empty, truncated, edited or planted file as
a miss and rebuild it atomically (the fuzz corpus, refused with one armour error naming the path, is tested in
``armour_plugins_fuzz/tests/test_trust_corpus_files.py``).
No file is ever unpickled: a planted pickle whose loading would create a marker file must leave no marker.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from armour_core.api.coverage import Coverage, NeuronProfile, clear_profile_cache
from armour_core.api.model import Classifier
from armour_core.testing import requires_mindspore
from armour_core.testing.files import pickled_npz


def test_planted_pickle_would_run(tmp_path):
    """The planted file really is a payload: loading it the unsafe way creates the marker."""
    marker = tmp_path / "ran"
    path = tmp_path / "p.npz"
    path.write_bytes(pickled_npz(marker, layers=None))
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
        path.write_bytes(pickled_npz(marker, **{k: None if v.dtype.kind in "USO" else v for k, v in arrays.items()}))
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
