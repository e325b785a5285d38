"""``armour train-dp``: trains privately, prints ε and accuracy, writes the plot and JSON."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mindspore")

from armour_core.cli import main  # noqa: E402


def test_train_dp_cli(tmp_path, capsys):
    plot, out = tmp_path / "eps.png", tmp_path / "dp.json"
    code = main(["train-dp", "--model", "mlp", "--epochs", "1", "--batch-size", "256", "--target-epsilon", "2",
                 "--accountant", "rdp", "--plot", str(plot), "--json", str(out), "--ledger", str(tmp_path / "l")])
    assert code == 0
    text = capsys.readouterr().out
    assert "calibrated noise multiplier" in text and "test accuracy" in text and "epsilon" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads(out.read_text())
    assert 0 < result["epsilon"] <= 2.0
    curve = result["epsilon_curve"]
    assert curve["steps"][-1] == result["steps"] and curve["epsilon"] == sorted(curve["epsilon"])


def test_train_dp_cli_rejects_bad_input(capsys):
    assert main(["train-dp", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
    assert main(["train-dp", "--epochs", "1", "--delta", "2"]) == 2
    assert "delta" in capsys.readouterr().err
