"""``armour defend`` end to end: trains, saves a loadable checkpoint, writes valid JSON and HTML."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("ARMOUR_PLUGINS_STRICT", "1")
os.environ.setdefault("ARMOUR_PROGRESS", "0")

ms = pytest.importorskip("mindspore")

from armour_core.cli import main  # noqa: E402


def test_defend_on_the_default(tmp_path):
    out = tmp_path / "d"
    code = main(["defend", "--defense", "pad", "--eps", "0.1", "--set", "steps=3", "--train-n", "256",
                 "--test-n", "64", "--eval-attack", "fgsm", "--out", str(out)])
    assert code == 0
    data = json.loads((out / "defense.json").read_text())
    assert data["defense"] == "pad" and data["config"]["steps"] == 3 and data["config"]["eps"] == 0.1
    assert len(data["history"]) == 1 and data["eval_attack"] == "FGSM"
    assert set(data["defense_metrics"]) == {"cav", "crr", "csr", "ccv", "cos"}
    assert data["after"]["clean_accuracy"] == data["history"][-1]["clean_accuracy"]
    html = (out / "defense.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("data:image/png;base64,") == 2
    # the checkpoint loads strictly into a fresh default network
    from armour_core.ms import pretrained as pt

    pre = pt.pretrained("lenet5", "digits")
    net = pt.build("lenet5", pre.dataset, seed=1)
    ms.load_param_into_net(net, ms.load_checkpoint(str(out / "defended.ckpt")), strict_load=True)
    z = net(ms.Tensor(pre.dataset.x_test[:64])).asnumpy()
    assert np.mean(z.argmax(1) == pre.dataset.y_test[:64]) == pytest.approx(data["after"]["clean_accuracy"])


def test_defend_errors(tmp_path, capsys):
    def err(*argv):
        assert main(["defend", *argv, "--out", str(tmp_path / "o")]) == 2
        return capsys.readouterr().err

    assert "no defense plugin named" in err("--defense", "padd")
    assert "--static" in err("--defense", "pad", "--static", "mlp")
    assert "--epochs" in err("--epochs", "0")
    assert "replace_ratio" in err("--defense", "pad", "--set", "replace_ratio=2", "--train-n", "64")
