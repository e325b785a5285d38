"""Issue 9, items 9-10 for ``armour attack``, ``evaluate`` and ``defend``: a wrong checkpoint, bad data or a
bad factory is one line naming the flag (the shared loader), and a bad output path or number fails before any
work."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mindspore")

from armour_core.testing.cli import bad_model_inputs, run, user_files  # noqa: E402

from armour_plugins_attacks.cli import commands as attacks_cli  # noqa: E402

COMMANDS = ("attack", "evaluate", "defend")
EXTRA = {"attack": ["--attack", "fgsm", "--eps", "0.1"], "evaluate": ["--attacks", "fgsm", "--eps", "0.1"],
         "defend": ["--epochs", "1"]}
RUNNERS = {"attack": "run_attack", "evaluate": "run_evaluate", "defend": "run_defend"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return user_files(tmp_path_factory.mktemp("user"))


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_model_or_data_is_one_line_naming_the_flag(command, files, tmp_path):
    for case, flags, needles in bad_model_inputs(files):
        r = run([command, *EXTRA[command], *flags, "--out", str(tmp_path / case)])
        assert r.code == 2, (case, r.lines)
        r.one_line_error(*needles)
        assert not (tmp_path / case).exists(), f"{case}: output written although the input was rejected"


@pytest.mark.parametrize("command", COMMANDS)
def test_output_path_and_numbers_fail_before_any_work(command, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(attacks_cli, RUNNERS[command], lambda args: calls.append(args) or 0)
    afile = tmp_path / "afile"
    afile.write_text("x")
    number = {"attack": ["--batch-size", "0"], "evaluate": ["--batch-size", "-5"], "defend": ["--epochs", "0"]}
    cases = [(["--out", str(afile)], ("--out", str(afile), "is a file")),
             (["--out", str(afile / "sub")], ("--out", str(afile))),
             (["--out", "/proc/armour-test"], ("--out", "not writable")),
             (number[command], (number[command][0],)),
             (["--n" if command != "defend" else "--train-n", "0"], ("-n",)),
             (["--bounds", "0", "nan"], ("--bounds",))]
    for flags, needles in cases:
        r = run([command, *flags])
        assert r.code == 2 and r.out == [], (flags, r.lines)
        r.one_line_error(*needles)
    assert calls == []


def test_good_user_files_run_end_to_end(files, tmp_path):
    """The same loader accepts a matching checkpoint and clean data (the checks are not simply refusing)."""
    r = run(["attack", *EXTRA["attack"], "--network", files.net(), "--checkpoint", str(files.ckpt), "--data",
             str(files.data), "--out", str(tmp_path / "atk")])
    assert r.code == 0, r.lines
    report = json.loads((tmp_path / "atk" / "attack.json").read_text())
    assert report["n"] == 24 and "small" in report["model"]
    r = run(["evaluate", *EXTRA["evaluate"], "--network", files.net(), "--checkpoint", str(files.ckpt), "--data",
             str(files.data), "--no-determinism-check", "--out", str(tmp_path / "ev")])
    assert r.code == 0, r.lines
    assert (tmp_path / "ev" / "robustness.json").is_file()
