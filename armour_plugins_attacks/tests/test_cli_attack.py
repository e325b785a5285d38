"""``armour attack`` / ``armour evaluate`` end to end, and clear errors for malformed user input
(``armour_core.loading``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

os.environ.setdefault("ARMOUR_PLUGINS_STRICT", "1")
os.environ.setdefault("ARMOUR_PROGRESS", "0")

ms = pytest.importorskip("mindspore")

from armour_core.cli import main  # noqa: E402
from armour_core.errors import InvalidInputError  # noqa: E402
from armour_core import loading  # noqa: E402


def test_attack_on_the_default(tmp_path, capsys):
    out = tmp_path / "att"
    code = main(["attack", "--attack", "fgsm", "--eps", "0.1", "--n", "64", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "attack.json").read_text())
    with np.load(out / "adversarial.npz") as z:
        adv, y, success, norms = z["x_adv"], z["y"], z["success"], z["norms"]
    assert adv.shape == (64, 1, 8, 8) and y.shape == (64,) and norms.max() <= 0.1 + 1e-6
    m = report["metrics"]
    assert report["attack"] == "fgsm" and report["n"] == 64 and report["config"]["eps"] == 0.1
    assert m["attacked"] <= 64 and 0 <= m["misclassification_rate"] <= 1
    assert m["avg_linf"] == pytest.approx(0.1, abs=1e-6)  # FGSM spends the whole budget on every pixel
    assert report["success_rate"] == pytest.approx(success.mean())
    assert report["budget"]["backward_calls"] == 1
    assert not list(out.glob(".*tmp"))  # atomic writes leave no temporary files
    assert "robust accuracy" in capsys.readouterr().out


def test_attack_targeted_and_settings(tmp_path):
    out = tmp_path / "t"
    assert main(["attack", "--attack", "fgsm", "--eps", "0.3", "--target-class", "3", "--n", "40",
                 "--set", "seed=5", "--out", str(out)]) == 0
    report = json.loads((out / "attack.json").read_text())
    assert report["metrics"]["targeted"] and report["config"]["seed"] == 5
    with np.load(out / "adversarial.npz") as z:
        assert np.all(z["target"] == 3) and np.all(z["y"] != 3)


def test_evaluate_on_the_default_writes_json_and_html(tmp_path, capsys):
    out = tmp_path / "ev"
    code = main(["evaluate", "--attacks", "fgsm,pgd", "--set", "pgd.steps=5", "--eps", "0.05,0.2", "--n", "48",
                 "--examples", "4", "--out", str(out)])
    assert code == 0
    data = json.loads((out / "robustness.json").read_text())
    assert data["eps"] == [0.05, 0.2] and set(data["robust_accuracy"]) == {"fgsm", "pgd(steps=5)"}
    assert all(w <= min(a[i] for a in data["robust_accuracy"].values()) + 1e-12
               for i, w in enumerate(data["worst_case"]))
    html = (out / "robustness.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("data:image/png;base64,") == 2  # curves + grid
    assert "http://" not in html and "https://" not in html.replace("https://www.mindspore", "")  # self-contained
    assert "worst case" in capsys.readouterr().out


def _write_user_model(tmp_path):
    """A user's package: a factory module and a checkpoint of the network it builds."""
    pkg = tmp_path / "usernet.py"
    pkg.write_text(textwrap.dedent("""
        from mindspore import nn

        class Net(nn.Cell):
            def __init__(self):
                super().__init__()
                self.flatten = nn.Flatten()
                self.fc = nn.Dense(64, 10)

            def construct(self, x):
                return self.fc(self.flatten(x))

        def build():
            return Net()

        def broken():
            raise RuntimeError("boom")

        def not_a_cell():
            return 42
    """))
    sys.path.insert(0, str(tmp_path))
    import importlib

    mod = importlib.import_module("usernet")
    net = mod.build()
    ckpt = tmp_path / "net.ckpt"
    ms.save_checkpoint(net, str(ckpt))
    from armour_core import registry

    d = registry.create("dataset", "digits")
    data = tmp_path / "data.npz"
    np.savez(data, x=d.x_test[:32], y=d.y_test[:32])
    return ckpt, data, d


def test_attack_on_a_user_model(tmp_path):
    ckpt, data, _ = _write_user_model(tmp_path)
    out = tmp_path / "u"
    try:
        assert main(["attack", "--network", "usernet:build", "--checkpoint", str(ckpt), "--data", str(data),
                     "--attack", "fgsm", "--eps", "0.05", "--out", str(out)]) == 0
        assert json.loads((out / "attack.json").read_text())["n"] == 32
        # a file path works as well as a module name
        assert main(["attack", "--network", f"{tmp_path / 'usernet.py'}:build", "--checkpoint", str(ckpt),
                     "--data", str(data), "--out", str(out)]) == 0
        assert main(["evaluate", "--network", "usernet:build", "--checkpoint", str(ckpt), "--data", str(data),
                     "--attacks", "fgsm", "--eps", "0.1,0.3", "--out", str(out)]) == 0
        rep = json.loads((out / "robustness.json").read_text())
        assert rep["n"] == 32 and len(rep["worst_case"]) == 2 and "usernet:build" in rep["model"]
    finally:
        sys.path.remove(str(tmp_path))


def test_malformed_user_input_gives_clear_errors(tmp_path, capsys):
    ckpt, data, d = _write_user_model(tmp_path)
    try:
        def err(*argv):
            assert main(["attack", *argv, "--out", str(tmp_path / "o")]) == 2
            return capsys.readouterr().err

        assert "lacks array(s) ['y']" in err("--network", "usernet:build", "--data", _npz(tmp_path, x=d.x_test[:4]))
        assert "not an .npz" in err("--network", "usernet:build", "--data", str(ckpt))
        assert "does not exist" in err("--network", "usernet:build", "--data", str(tmp_path / "none.npz"))
        assert "integer dtype" in err("--network", "usernet:build",
                                      "--data", _npz(tmp_path, x=(d.x_test[:4] * 16).astype(np.uint8), y=d.y_test[:4]))
        assert "one-hot" in err("--network", "usernet:build",
                                "--data", _npz(tmp_path, x=d.x_test[:4], y=np.eye(10)[d.y_test[:4]]))
        assert "outside the bounds" in err("--network", "usernet:build",
                                           "--data", _npz(tmp_path, x=d.x_test[:4] * 5, y=d.y_test[:4]))
        assert "to match x" in err("--network", "usernet:build",
                                   "--data", _npz(tmp_path, x=d.x_test[:4], y=d.y_test[:3]))
        assert "do not fit" in err("--network", "usernet:build",
                                   "--data", _npz(tmp_path, x=np.zeros((4, 1, 5, 5), np.float32), y=d.y_test[:4]))
        assert "no module named 'nosuchmod'" in err("--network", "nosuchmod:build", "--data", str(data))
        assert "did you mean 'build'" in err("--network", "usernet:buil", "--data", str(data))
        assert "calling 'usernet:broken' failed" in err("--network", "usernet:broken", "--data", str(data))
        assert "expected a mindspore.nn.Cell" in err("--network", "usernet:not_a_cell", "--data", str(data))
        assert "expected 'package.module:factory'" in err("--network", "usernet", "--data", str(data))
        assert "give both" in err("--network", "usernet:build")
        bad_ckpt = tmp_path / "bad.ckpt"
        bad_ckpt.write_bytes(b"not a checkpoint")
        assert "not a readable MindSpore checkpoint" in err("--network", "usernet:build", "--checkpoint",
                                                            str(bad_ckpt), "--data", str(data))
        from armour_core.ms import pretrained as pt

        other = pt.pretrained("lenet5", "digits").checkpoint
        assert "lacks" in err("--network", "usernet:build", "--checkpoint", other, "--data", str(data))
        assert "no attack plugin named" in err("--attack", "fgsmm")
        assert "--n" in err("--n", "0")
        assert "--target-class" in err("--target-class", "11", "--n", "8")
    finally:
        sys.path.remove(str(tmp_path))


_counter = [0]


def _npz(tmp_path, **arrays) -> str:
    _counter[0] += 1
    path = tmp_path / f"d{_counter[0]}.npz"
    np.savez(path, **arrays)
    assert zipfile.is_zipfile(path)
    return str(path)


def test_loading_api_directly(tmp_path):
    with pytest.raises(InvalidInputError, match="--bounds"):
        loading.user_target("x:y", "nope.npz", bounds=(1, 0))
    x, y = loading.validate_xy(np.zeros((3, 4), np.float64), np.array([0.0, 1.0, 2.0]), bounds=(0, 1))
    assert x.dtype == np.float32 and y.dtype == np.int64
    with pytest.raises(InvalidInputError, match="outside"):
        loading.validate_xy(np.zeros((3, 4)), np.array([0, 1, 12]), num_classes=10)


def test_load_data_splits(tmp_path):
    rng = np.random.default_rng(0)
    xa, xb = rng.uniform(0, 1, (6, 1, 4, 4)), rng.uniform(0, 1, (3, 1, 4, 4))
    both = loading.load_data(_npz(tmp_path, x_train=xa, y_train=np.arange(6) % 3, x_test=xb, y_test=np.arange(3)))
    assert both.x_train.shape == (6, 1, 4, 4) and both.x_test.shape == (3, 1, 4, 4) and both.num_classes == 3
    assert both.x_train.dtype == np.float32 and both.y_test.dtype == np.int64
    single = loading.load_data(_npz(tmp_path, x=xa, y=np.arange(6) % 2))
    assert np.array_equal(single.x_train, single.x_test)
    with pytest.raises(InvalidInputError, match="x_train, y_train"):
        loading.load_data(_npz(tmp_path, a=xa))
    with pytest.raises(InvalidInputError, match="x_test"):
        loading.load_data(_npz(tmp_path, x_train=xa, y_train=np.arange(6) % 3, x_test=xb[:, :, :2],
                               y_test=np.arange(3)))


def test_cli_help_does_not_import_mindspore():
    code = ("import sys; from armour_core.cli import build_parser; p = build_parser('evaluate'); "
            "assert 'mindspore' not in sys.modules, 'mindspore imported'; "
            "p.parse_args(['evaluate', '--attacks', 'fgsm'])")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
