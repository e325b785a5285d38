"""``armour membership``, ``armour suppress`` and ``armour dp-audit`` end to end on the embedded default
(small settings): exit code 0, JSON and HTML written, numbers consistent with the printed summary."""

from __future__ import annotations

import json

import pytest

from armour_core.testing import requires_mindspore

pytestmark = requires_mindspore


@pytest.fixture(autouse=True)
def _cache(monkeypatch, tmp_path_factory):
    import os

    if "ARMOUR_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("ARMOUR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "armour-cache"))


def test_membership_cli(tmp_path, capsys):
    from armour_core.cli import main

    code = main(["membership", "--attacks", "loss_threshold,entropy,classifier", "--max-examples", "150",
                 "--out", str(tmp_path)])
    assert code == 0
    data = json.loads((tmp_path / "membership.json").read_text())
    assert [a["attack"] for a in data["attacks"]] == ["loss_threshold", "entropy", "classifier"]
    for a in data["attacks"]:
        assert 0 <= a["auc"] <= 1 and len(a["risk_member"]) == a["n_member"] == 150
    html = (tmp_path / "membership.html").read_text()
    assert "data:image/png;base64" in html and "TPR@0.1%FPR" in html
    assert "AUC" in capsys.readouterr().out


def test_membership_cli_shadows_on_an_executor(tmp_path, monkeypatch, capsys):
    """LiRA and RMIA with shadows trained as tasks on spawned workers (RMIA reuses LiRA's shadows)."""
    from armour_core.cli import main

    monkeypatch.setenv("ARMOUR_CACHE_DIR", str(tmp_path / "cache"))
    code = main(["membership", "--attacks", "lira,rmia", "--shadows", "2", "--epochs", "1", "--max-examples", "20",
                 "--executor", "processes", "--workers", "2", "--out", str(tmp_path / "out")])
    assert code == 0
    data = json.loads((tmp_path / "out" / "membership.json").read_text())
    assert [a["attack"] for a in data["attacks"]] == ["lira", "rmia"]
    assert all(0 <= a["auc"] <= 1 for a in data["attacks"])
    assert len(list((tmp_path / "cache" / "shadows").glob("*.ckpt"))) == 2  # one set of shadows for both
    assert main(["membership", "--ray-address", "10.0.0.1:6379", "--out", str(tmp_path / "x")]) == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err


def test_membership_cli_unknown_attack(tmp_path):
    from armour_core.cli import main

    assert main(["membership", "--attacks", "loss_threshold,bogus", "--out", str(tmp_path)]) == 2


def test_suppress_cli(tmp_path, capsys):
    from armour_core.cli import main

    code = main(["suppress", "--epochs", "3", "--start-epoch", "1", "--end-epoch", "2", "--mask-times", "4",
                 "--sparse-end", "0.5", "--no-baseline", "--out", str(tmp_path)])
    assert code == 0
    data = json.loads((tmp_path / "suppress.json").read_text())
    assert data["sparsity"]["fc2.weight"] == pytest.approx(0.5)
    assert 0 <= data["accuracy"] <= 1 and "membership_auc" in data
    assert (tmp_path / "suppress.html").exists()
    assert main(["suppress", "--sparse-end", "1.2", "--out", str(tmp_path)]) == 2


def test_dp_audit_cli(tmp_path, capsys):
    from armour_core.cli import main

    code = main(["dp-audit", "--runs", "2", "--canaries", "16", "--epochs", "3", "--train-size", "200",
                 "--out", str(tmp_path)])
    assert code == 0
    data = json.loads((tmp_path / "audit.json").read_text())
    assert data["epsilon_lower"] >= 0 and data["runs"] == 2 and data["trials"] == 16
    assert "empirical epsilon" in capsys.readouterr().out
