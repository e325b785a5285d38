"""``armour fuzz`` on the embedded default: report files, resumption, progress and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from armour_core.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_fuzz_command_runs_and_resumes(tmp_path, capsys, armour_lenet):
    corpus, out = tmp_path / "corpus", tmp_path / "report"
    args = ["fuzz", "--n", "12", "--max-iters", "6", "--mutants-per-seed", "6", "--beta", "0.5",
            "--corpus-dir", str(corpus), "--out", str(out), "--progress"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "6 iterations" in captured.out and "gaussian_blur" in captured.out
    assert "fuzz [" in captured.err  # the progress bar
    data = json.loads((out / "fuzz.json").read_text())
    assert data["iterations"] == 6 and len(data["coverage_history"]["neuron"]) == 7
    assert (out / "fuzz.html").read_text().startswith("<!DOCTYPE html>")
    assert (corpus / "state.json").exists()
    args[args.index("--max-iters") + 1] = "9"
    assert main(args) == 0
    assert "resumed from iteration 6" in capsys.readouterr().out
    assert json.loads((out / "fuzz.json").read_text())["iterations"] == 9


def test_fuzz_command_user_model_and_data(tmp_path, capsys, armour_digits, armour_lenet):
    import mindspore as ms

    ckpt = tmp_path / "net.ckpt"
    ms.save_checkpoint(armour_lenet.network, str(ckpt))
    data = tmp_path / "data.npz"
    np.savez(data, x=armour_digits.x_test[:8], y=armour_digits.y_test[:8])
    train = tmp_path / "train.npz"
    np.savez(train, x=armour_digits.x_train[:200])
    code = main(["fuzz", "--network", "armour_core.builtin.models:LeNet5", "--checkpoint", str(ckpt),
                 "--data", str(data), "--train-data", str(train), "--coverage", "neuron,k_multisection",
                 "--max-iters", "3", "--mutants-per-seed", "4", "--corpus-dir",
                 str(tmp_path / "c"), "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "r" / "fuzz.json").read_text())["seeds"] == 8


def test_fuzz_command_errors(tmp_path, capsys):
    base = ["--corpus-dir", str(tmp_path / "c"), "--out", str(tmp_path / "r"), "--max-iters", "1"]
    assert main(["fuzz", "--mutators", "no_such_mutator", *base]) == 2
    assert "no_such_mutator" in capsys.readouterr().err
    assert main(["fuzz", "--network", "armour_core.builtin.models:LeNet5", *base]) == 2
    assert "--network and --data" in capsys.readouterr().err
    assert main(["fuzz", "--n", "0", *base]) == 2
    assert "--n" in capsys.readouterr().err
