"""Shadow models as executor tasks (issue 11, section 2):

* cached by (model factory, data digest, recipe, seed): a rerun trains 0 shadows, going from 4 to 8 shadows
  trains 4, and RMIA with LiRA's settings reuses LiRA's shadows;
* a truncated or corrupt cache entry is detected and retrained, never loaded; two processes writing the
  same entry leave one complete, verified file;
* the same seeds give the same LiRA and RMIA scores on the local, processes and ray executors (exactly:
  each shadow is trained by the same deterministic single-process code wherever it runs, and the scores
  are computed in the calling process from the gathered logits);
* a shadow task whose worker dies is retried once; one that fails twice fails the run, naming the task.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import pytest

from armour_core.testing import requires_mindspore

pytestmark = requires_mindspore

N = 60
KW = dict(architecture="mlp", epochs=2, batch_size=32, seed=3)


@pytest.fixture(scope="module")
def data():
    from armour_core import registry

    d = registry.create("dataset", "digits")
    p = np.random.default_rng(1).permutation(len(d.x_train))[:3 * N]
    x, y = d.x_train[p], d.y_train[p]
    return {"m": (x[:N], y[:N]), "n": (x[N:2 * N], y[N:2 * N]), "p": (x[2 * N:], y[2 * N:])}


@pytest.fixture(scope="module")
def target(armour_mlp):
    return armour_mlp


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A fresh cache directory for one test."""
    monkeypatch.setenv("ARMOUR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _run(name, target, data, executor=None, **kw):
    from armour_core import registry

    (xm, ym), (xn, yn), (xp, yp) = data["m"], data["n"], data["p"]
    atk = registry.create("inference", name, model=target, executor=executor, **{**KW, **kw})
    atk.set_population(xp, yp)
    return atk, atk.score(np.concatenate([xm, xn]), np.concatenate([ym, yn]))


def test_rerun_trains_nothing_and_more_shadows_train_only_the_new_ones(target, data, own_cache):
    first, s1 = _run("lira", target, data, shadows=4)
    assert (first.shadows_trained_, first.shadows_loaded_) == (4, 0)
    again, s2 = _run("lira", target, data, shadows=4)
    assert (again.shadows_trained_, again.shadows_loaded_) == (0, 4)
    assert np.array_equal(s1, s2)
    more, _ = _run("lira", target, data, shadows=8)
    assert (more.shadows_trained_, more.shadows_loaded_) == (4, 4)
    # RMIA with the same shadow settings uses the very same models
    rmia, _ = _run("rmia", target, data, shadows=8)
    assert (rmia.shadows_trained_, rmia.shadows_loaded_) == (0, 8)
    assert len(list((own_cache / "shadows").glob("*.ckpt"))) == 8


def test_the_design_is_balanced_and_does_not_depend_on_the_number_of_shadows(target):
    from armour_core import registry

    four = registry.create("inference", "lira", model=target, shadows=4, seed=0)._design(50)
    eight = registry.create("inference", "lira", model=target, shadows=8, seed=0)._design(50)
    assert np.array_equal(four, eight[:4])
    assert np.all(eight.sum(axis=0) == 4)  # every pool example IN for exactly half of the shadows
    tenth = registry.create("inference", "lira", model=target, shadows=20, keep_fraction=0.3, seed=0)._design(50)
    assert np.all(tenth.sum(axis=0) == 6)  # blocks of 10 with 3 IN each


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_cache_entry_is_retrained_never_loaded(target, data, own_cache, damage):
    _, s1 = _run("lira", target, data, shadows=2)
    entry = sorted((own_cache / "shadows").glob("*.ckpt"))[0]
    raw = bytearray(entry.read_bytes())
    if damage == "truncate":
        raw = raw[:len(raw) // 2]
    else:  # same length, one weight byte changed: only the stamped digest can tell
        raw[len(raw) // 2] ^= 0xFF
    entry.write_bytes(bytes(raw))
    again, s2 = _run("lira", target, data, shadows=2)
    assert (again.shadows_trained_, again.shadows_loaded_) == (1, 1)
    assert np.array_equal(s1, s2)  # retrained from the same seed: the same shadow
    third, _ = _run("lira", target, data, shadows=2)
    assert (third.shadows_trained_, third.shadows_loaded_) == (0, 2)  # the entry was rewritten whole


def test_two_processes_writing_the_same_entry_leave_one_verified_file(data, own_cache):
    from armour_core.executors import get_executor
    from armour_plugins_privacy.inference.shadows import ShadowBuilder, shadow_task

    xm, ym = data["m"]
    task = {"builder": ShadowBuilder(model="mlp", input_shape=(1, 8, 8), num_classes=10), "x": xm, "y": ym,
            "recipe": {"epochs": 2, "batch_size": 32, "learning_rate": 1e-3, "weight_decay": 0.0}, "seed": 5,
            "cache": True, "cache_root": str(own_cache), "queries": [xm[:10]]}
    results = get_executor("processes", workers=2).map(shadow_task, [task, task])
    assert not all(r["loaded"] for r in results)  # usually both train and write the entry at the same time
    files = list((own_cache / "shadows").iterdir())
    assert len(files) == 1 and files[0].suffix == ".ckpt", files  # no temporary file left behind
    reread = shadow_task(task)
    assert reread["loaded"] and np.allclose(reread["logits"][0], results[0]["logits"][0], atol=1e-5)


def _executors():
    names = ["local", "processes"]
    if importlib.util.find_spec("ray") is not None:
        names.append("ray")
    return names


def test_every_executor_gives_the_same_scores(target, data, tmp_path, monkeypatch):
    from armour_core.executors import get_executor

    scores = {}
    for name in _executors():
        monkeypatch.setenv("ARMOUR_CACHE_DIR", str(tmp_path / name))  # each executor trains its own shadows
        ex = get_executor(name, workers=2)
        lira, s_lira = _run("lira", target, data, executor=ex, shadows=2)
        assert lira.shadows_trained_ == 2, name
        _, s_rmia = _run("rmia", target, data, executor=ex, shadows=2)
        scores[name] = (s_lira, s_rmia)
    for name, (s_lira, s_rmia) in scores.items():
        assert np.array_equal(s_lira, scores["local"][0]), name
        assert np.array_equal(s_rmia, scores["local"][1]), name


def test_a_dying_shadow_task_is_retried_then_a_broken_one_fails_the_run(target, data, own_cache, tmp_path):
    from armour_core.executors import TaskFailedError, get_executor
    from armour_core.testing.tasks import network_always_fails, network_dying_first_time

    dying = functools.partial(network_dying_first_time, str(tmp_path / "died"))
    atk, s = _run("lira", target, data, executor=get_executor("processes", workers=2), shadows=2,
                  network_fn=dying, architecture=None)
    assert (tmp_path / "died").exists() and atk.shadows_trained_ == 2 and np.all(np.isfinite(s))
    with pytest.raises(TaskFailedError, match=r"(?s)2 of 2 tasks failed.*broken on purpose"):
        _run("lira", target, data, shadows=2, network_fn=network_always_fails, architecture=None)


def test_a_network_fn_that_cannot_travel_is_refused_for_worker_executors(target, data, own_cache):
    from armour_core.errors import ConfigError

    with pytest.raises(ConfigError, match="network_fn"):
        _run("lira", target, data, executor="processes", shadows=2, architecture=None,
             network_fn=lambda: None)
    with pytest.raises(ConfigError, match="executor"):
        _run("lira", target, data, executor=3, shadows=2)
