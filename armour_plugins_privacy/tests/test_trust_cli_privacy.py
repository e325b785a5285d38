"""Issue 9, items 9-10 for ``armour membership``, ``train-dp``, ``suppress`` and ``dp-audit``: the user's
model and data go through the shared loader (a checkpoint of another network no longer yields a membership
AUC of a random network), and bad output paths or numbers fail in one line before any work."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mindspore")

from armour_core.testing.cli import bad_model_inputs, run, user_files  # noqa: E402

from armour_plugins_privacy.dp import cli as dp_cli  # noqa: E402
from armour_plugins_privacy.inference import cli as inference_cli  # noqa: E402
from armour_plugins_privacy.suppress import cli as suppress_cli  # noqa: E402

EXTRA = {"membership": ["--attacks", "loss_threshold", "--max-examples", "6"],
         "train-dp": ["--epochs", "1", "--batch-size", "6", "--noise-multiplier", "1.0", "--plot", ""]}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return user_files(tmp_path_factory.mktemp("user"))


@pytest.mark.parametrize("command", ["membership", "train-dp"])
def test_bad_model_or_data_is_one_line_naming_the_flag(command, files, tmp_path):
    for case, flags, needles in bad_model_inputs(files):
        out = ["--out", str(tmp_path / case)] if command == "membership" else [
            "--json", str(tmp_path / case / "dp.json"), "--ledger", str(tmp_path / case / "run.ledger")]
        r = run([command, *EXTRA[command], *flags, *out])
        assert r.code == 2, (case, r.lines)
        r.one_line_error(*needles)
        assert not (tmp_path / case).exists(), f"{case}: output written although the input was rejected"


def test_membership_needs_checkpoint_and_data(files):
    r = run(["membership", "--network", files.net(), "--data", str(files.data)])
    r.one_line_error("--checkpoint")


def test_membership_on_matching_user_files_runs(files, tmp_path):
    r = run(["membership", *EXTRA["membership"], "--network", files.net(), "--checkpoint", str(files.ckpt),
             "--data", str(files.data), "--out", str(tmp_path / "mem")])
    assert r.code == 0, r.lines
    rep = json.loads((tmp_path / "mem" / "membership.json").read_text())
    assert 0.0 <= rep["attacks"][0]["auc"] <= 1.0 and "small.ckpt" in rep["target"]


def test_train_dp_on_user_network_and_data(files, tmp_path):
    r = run(["train-dp", *EXTRA["train-dp"], "--network", files.net(), "--data", str(files.data), "--json",
             str(tmp_path / "dp.json")])
    assert r.code == 0, r.lines
    rep = json.loads((tmp_path / "dp.json").read_text())
    assert rep["steps"] >= 1 and rep["epsilon"] > 0 and rep["model"] == files.net()


@pytest.mark.parametrize("command, module, runner, flags, needles", [
    ("train-dp", dp_cli, "run", ["--batch-size", "0"], ("--batch-size", "'0'")),
    ("train-dp", dp_cli, "run", ["--delta", "1.5"], ("--delta",)),
    ("train-dp", dp_cli, "run", ["--noise-multiplier", "-1"], ("--noise-multiplier",)),
    ("train-dp", dp_cli, "run", ["--json", "{dir}"], ("--json", "is a directory")),
    ("train-dp", dp_cli, "run", ["--ledger", "{dir}"], ("--ledger", "is a directory")),
    ("train-dp", dp_cli, "run", ["--plot", "{file}/eps.png"], ("--plot", "is a file")),
    ("train-dp", dp_cli, "run", ["--json", "/proc/armour-test/dp.json"], ("--json", "not writable")),
    ("membership", inference_cli, "run", ["--out", "{file}"], ("--out", "is a file")),
    ("membership", inference_cli, "run", ["--shadows", "0"], ("--shadows",)),
    ("suppress", suppress_cli, "run", ["--out", "{file}"], ("--out", "is a file")),
    ("suppress", suppress_cli, "run", ["--sparse-end", "1.5"], ("--sparse-end",)),
    ("dp-audit", dp_cli, "run_audit", ["--delta", "0"], ("--delta",)),
    ("dp-audit", dp_cli, "run_audit", ["--out", "{file}/x"], ("--out", "is a file")),
])
def test_paths_and_numbers_fail_before_any_work(command, module, runner, flags, needles, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(module, runner, lambda args: calls.append(args) or 0)
    afile = tmp_path / "afile"
    afile.write_text("x")
    flags = [f.format(dir=tmp_path, file=afile) for f in flags]
    r = run([command, *flags])
    assert r.code == 2 and r.out == [], r.lines
    r.one_line_error(*needles)
    assert calls == []


def _without_checkpoint(flags: list[str]) -> list[str]:
    i = flags.index("--checkpoint")
    return flags[:i] + flags[i + 2:]


def test_suppress_loads_user_network_and_data_through_the_loader(files, tmp_path):
    """``suppress`` trains from scratch (no --checkpoint): every factory and data error is the loader's."""
    quick = ["--epochs", "2", "--start-epoch", "1", "--end-epoch", "2", "--mask-times", "2", "--no-baseline",
             "--batch-size", "4"]
    for case, flags, needles in bad_model_inputs(files):
        if "--checkpoint" in needles:
            continue
        r = run(["suppress", *quick, *_without_checkpoint(flags), "--out", str(tmp_path / case)])
        assert r.code == 2, (case, r.lines)
        r.one_line_error(*needles)
        assert not (tmp_path / case).exists()
    r = run(["suppress", *quick[:-2], "--network", files.net(), "--data", str(files.data), "--out", str(tmp_path)])
    r.one_line_error("--batch-size", "12")  # 32 > the 12 training points: no batch at all
    r = run(["suppress", *quick, "--network", files.net(), "--data", str(files.data), "--out", str(tmp_path / "ok")])
    assert r.code == 0, r.lines
    rep = json.loads((tmp_path / "ok" / "suppress.json").read_text())
    assert rep["model"] == files.net() and 0.0 <= rep["accuracy"] <= 1.0
