"""Issue 9, items 9-11: every user-facing failure of the ``armour`` command is one line and a documented exit
status, output paths and numbers are checked before any work, user models and data go through one loader
with one set of errors, and a normal run prints only armour's lines."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from armour_core import cli, cli_args
from armour_core.errors import InvalidInputError
from armour_core.testing import requires_mindspore
from armour_core.testing.markers import requires_dists
from armour_core.testing.cli import run

UNWRITABLE = "/proc/armour-trust-test"  # creating anything under /proc fails, even for root


# ----------------------------------------------------------------------------------- parse-time numbers
@pytest.mark.parametrize("fn, good, bad", [
    (cli_args.positive_int, {"1": 1, "256": 256}, ["0", "-3", "1.5", "x", ""]),
    (cli_args.nonnegative_int, {"0": 0, "7": 7}, ["-1", "2.0", "seven"]),
    (cli_args.positive_float, {"0.5": 0.5, "1e-3": 1e-3}, ["0", "-1", "nan", "inf", "x"]),
    (cli_args.nonnegative_float, {"0": 0.0, "0.1": 0.1}, ["-0.1", "nan", "-inf"]),
    (cli_args.probability, {"1e-5": 1e-5, "0.5": 0.5}, ["0", "1", "1.5", "nan"]),
    (cli_args.fraction, {"0": 0.0, "1": 1.0, "0.2": 0.2}, ["-0.01", "1.01", "nan"]),
    (cli_args.finite_float, {"-2": -2.0, "3.5": 3.5}, ["nan", "inf", "one"]),
])
def test_number_types_accept_their_range_and_name_the_bad_value(fn, good, bad):
    for text, value in good.items():
        assert fn(text) == value and type(fn(text)) is type(value)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match="expected") as info:
            fn(text)
        assert repr(text) in str(info.value)


@pytest.mark.parametrize("argv, flag", [
    (["demo", "--eps", "-1"], "--eps"), (["demo", "--seed", "x"], "--seed"), (["demo", "--eps", "nan"], "--eps"),
    (["audit", "--seed", "-2"], "--seed"), (["audit", "--profile", "huge"], "--profile"),
    (["demo", "--bogus"], "--bogus"),
])
def test_usage_errors_are_one_line_exit_2(argv, flag):
    r = run(argv)
    assert r.code == cli.EXIT_USAGE and r.out == []
    r.one_line_error(flag, f"armour {argv[0]} --help" if flag != "--bogus" else "--help")


# ------------------------------------------------------------------------------------------ output paths
def test_output_dir_check(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for bad, needle in [(afile, "is a file"), (afile / "sub", "is a file"), (UNWRITABLE, "not writable"),
                        ("", "expected a directory")]:
        with pytest.raises(InvalidInputError, match=needle) as info:
            cli_args.check_output_dir(bad, "--out")
        assert str(info.value).startswith("--out: ")
    deep = tmp_path / "a" / "b" / "c"
    assert cli_args.check_output_dir(deep, "--out") == deep
    assert not (tmp_path / "a").exists(), "checking must not create anything"
    assert cli_args.check_output_dir(tmp_path) == tmp_path


def test_output_file_and_input_file_checks(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for bad, needle in [(tmp_path, "is a directory"), (afile / "x.json", "is a file"),
                        (f"{UNWRITABLE}/x.json", "not writable")]:
        with pytest.raises(InvalidInputError, match=needle):
            cli_args.check_output_file(bad, "--json")
    assert cli_args.check_output_file(tmp_path / "new" / "x.json") == tmp_path / "new" / "x.json"
    assert cli_args.check_output_file(afile) == afile
    assert not (tmp_path / "new").exists()
    assert cli_args.optional_output_file("") == ""
    for bad, needle in [(tmp_path, "is a directory"), (tmp_path / "nope", "does not exist")]:
        with pytest.raises(InvalidInputError, match=needle):
            cli_args.check_input_file(bad, "--ledger")


def _never(name):
    calls = []

    def compute(args):
        calls.append(name)
        return 0

    return compute, calls


@pytest.fixture
def afile(tmp_path):
    p = tmp_path / "afile"
    p.write_text("not a directory")
    return p


@pytest.mark.parametrize("case", ["out-is-file", "out-under-file", "out-unwritable", "ledger-is-dir",
                                  "ledger-missing"])
def test_audit_paths_fail_in_one_line_before_any_work(case, tmp_path, afile, monkeypatch):
    compute, calls = _never("audit")
    monkeypatch.setattr(cli, "cmd_audit", compute)
    flag, path = {"out-is-file": ("--out", afile), "out-under-file": ("--out", afile / "report"),
                  "out-unwritable": ("--out", UNWRITABLE), "ledger-is-dir": ("--ledger", tmp_path),
                  "ledger-missing": ("--ledger", tmp_path / "none.ledger")}[case]
    r = run(["audit", flag, str(path)])
    assert r.code == cli.EXIT_USAGE and r.out == []
    r.one_line_error(flag, str(path))
    assert calls == [], "the command ran although its paths were bad"


def test_failing_on_a_path_never_imports_mindspore(tmp_path, afile):
    code = ("import sys\nfrom armour_core.cli import main\n"
            f"rc = main(['audit', '--out', {str(afile)!r}])\n"
            "print(rc, 'HEAVY' if 'mindspore' in sys.modules else 'LIGHT')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "LIGHT"]
    assert len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------- failures and exit codes
@pytest.mark.parametrize("exc, code, needles", [
    (InvalidInputError("--data: 'x.npz' is bad"), cli.EXIT_USAGE, ("--data", "x.npz")),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/nope/x.ckpt"), cli.EXIT_USAGE,
     ("No such file", "/nope/x.ckpt")),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "run.ledger"), cli.EXIT_USAGE, ("run.ledger",)),
    (ValueError("cannot parse file.npz\nsecond line\nthird"), cli.EXIT_USAGE, ("file.npz", "--debug")),
    (MemoryError(), cli.EXIT_USAGE, ("out of memory",)),
    (ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib"), cli.EXIT_USAGE,
     ("dependency is missing", "'matplotlib'")),
    (RuntimeError("boom\n" + "dump line\n" * 40), cli.EXIT_INTERNAL, ("internal error", "boom", "--debug")),
    (KeyError("k"), cli.EXIT_INTERNAL, ("internal error", "KeyError")),
])
def test_every_failure_is_one_line_with_its_exit_code(exc, code, needles, monkeypatch):
    def compute(args):
        raise exc

    monkeypatch.setattr(cli, "cmd_demo", compute)
    r = run(["demo"])
    assert r.code == code
    r.one_line_error(*needles)
    assert "Traceback" not in "\n".join(r.lines)


def test_debug_shows_the_traceback(monkeypatch):
    def compute(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "cmd_demo", compute)
    for argv, env in ((["demo", "--debug"], None), (["--debug", "demo"], None), (["demo"], "1")):
        if env:
            monkeypatch.setenv("ARMOUR_DEBUG", env)
        r = run(argv)
        assert r.code == cli.EXIT_INTERNAL
        text = "\n".join(r.err)
        assert "Traceback" in text and "RuntimeError: boom" in text and "rerun with --debug" not in text
        assert r.err[-1].startswith("armour: error: internal error")


def test_interrupt_exits_130(monkeypatch):
    def compute(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_demo", compute)
    r = run(["demo"])
    assert r.code == cli.EXIT_INTERRUPTED and r.err == ["armour: interrupted"]


@pytest.mark.parametrize("verdicts, code", [
    ({"pass"}, 0), ({"pass", "warn", "skipped", "not_installed"}, 0), ({"pass", "fail"}, 1),
    ({"warn", "error"}, 3), ({"fail", "error"}, 3),
])
def test_audit_exit_code_from_verdicts(verdicts, code):
    assert cli.audit_exit_code({"summary": [{"verdict": v} for v in verdicts]}) == code


def test_exit_codes_are_documented():
    top = cli.build_parser().format_help()
    audit = cli.build_parser("audit")._subparsers._group_actions[0].choices["audit"].format_help()
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "exit status" in top and "4 internal error" in " ".join(top.split())
    audit = " ".join(audit.split())
    assert "1 a section FAILed" in audit and "3 a section ended in ERROR" in audit
    assert "--debug" in top
    assert "exit status" in readme.lower() and "ARMOUR_DEBUG" in readme


@requires_mindspore
@pytest.mark.parametrize("verdict, code", [("pass", 0), ("fail", 1), ("error", 3)])
def test_audit_command_exits_with_the_verdict_code(verdict, code, tmp_path, monkeypatch):
    from armour_core.audit import runner

    def fake(ctx, command, **kwargs):
        return "r.html", "r.json", {"summary": [{"title": "Robustness", "verdict": "pass", "headline": "ok"},
                                                {"title": "Privacy", "verdict": verdict, "headline": "x"}]}

    monkeypatch.setattr(runner, "run_audit", fake)
    r = run(["audit", "--out", str(tmp_path / "rep")])
    assert r.code == code, r.lines
    assert any(verdict.upper() in line for line in r.out)


def test_strict_broken_plugin_fails_without_a_traceback(run_with):
    proc = run_with("import sys\nfrom armour_core.cli import main\nsys.exit(main(['plugins']))",
                    "armour-fixture-broken", env={"ARMOUR_PLUGINS_STRICT": "1"}, check=False)
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and 1 <= len(err) <= 2, err
    assert "fixture_broken" in proc.stderr


# ------------------------------------------------------------------------------------------- quietness
def test_output_policy_scopes_glog_warnings_and_library_loggers(monkeypatch, capsys):
    monkeypatch.delenv("GLOG_v", raising=False)
    absl = logging.getLogger("absl")
    before = absl.level
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with cli._output_policy(debug=False):
            assert os.environ["GLOG_v"] == "3"
            assert absl.getEffectiveLevel() >= logging.ERROR
            warnings.warn_explicit("old API", DeprecationWarning, "x.py", 1, module="mindspore.common")
            warnings.warn_explicit("noisy", UserWarning, "y.py", 1, module="dp_accounting.rdp")
            warnings.warn_explicit("armour's own", UserWarning, "z.py", 1, module="armour_core.registry")
        assert "GLOG_v" not in os.environ and absl.level == before
        warnings.warn_explicit("after", DeprecationWarning, "x.py", 1, module="mindspore.common")
    assert [str(w.message) for w in seen] == ["after"]  # libraries' warnings: silenced only inside
    # armour's own warning is one line, not Python's "file:line: Category: message" plus the source echo
    assert capsys.readouterr().err.splitlines() == ["armour: warning: armour's own"]

    monkeypatch.setenv("GLOG_v", "1")  # the user's setting wins
    with cli._output_policy(debug=False):
        assert os.environ["GLOG_v"] == "1"
    monkeypatch.delenv("GLOG_v")
    with cli._output_policy(debug=True):  # --debug: MindSpore's log as MindSpore configures it
        assert "GLOG_v" not in os.environ


FOREIGN = ("[WARNING]", "[ERROR]", "[INFO]", " ME(", "compiled again", "DeprecationWarning", "FutureWarning",
           "UserWarning", "WARNING:", "Traceback", "absl", "failed to converge")


def _armour(*argv: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess:
    full = {**os.environ, "ARMOUR_PROGRESS": "0", **(env or {})}
    full.pop("GLOG_v", None)
    full.pop("ARMOUR_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "armour_core.cli", *argv], capture_output=True, text=True,
                          env=full, cwd=cwd, timeout=600)


@requires_dists("attacks", "privacy")
def test_a_normal_run_prints_only_armours_lines(tmp_path):
    runs = [_armour("attack", "--n", "16", "--out", str(tmp_path / "atk"), cwd=tmp_path),
            _armour("train-dp", "--model", "mlp", "--epochs", "1", "--accountant", "rdp", "--plot", "", "--json",
                    str(tmp_path / "dp.json"), cwd=tmp_path),
            # defend builds a MindSpore optimizer whose import logs a deprecation through MindSpore's logger
            _armour("defend", "--train-n", "32", "--test-n", "16", "--epochs", "1", "--out", str(tmp_path / "df"),
                    cwd=tmp_path)]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
        for line in (proc.stdout + proc.stderr).splitlines():
            assert not any(f in line for f in FOREIGN), f"foreign line: {line!r}"
        for line in proc.stderr.splitlines():
            assert line.startswith("armour"), f"stderr line not armour's: {line!r}"
    assert json.loads((tmp_path / "dp.json").read_text())["steps"] >= 1
    assert (tmp_path / "atk" / "attack.json").is_file() and (tmp_path / "df" / "defense.json").is_file()
    assert not (tmp_path / "rank_0").exists()


# ------------------------------------------------------------------------------------ the shared loader
@requires_mindspore
def test_audit_loads_user_model_and_data_through_the_shared_loader(tmp_path, monkeypatch):
    from armour_core.audit import runner
    from armour_core.testing.cli import bad_model_inputs, user_files

    files = user_files(tmp_path / "user")
    for case, flags, needles in bad_model_inputs(files):
        r = run(["audit", *flags, "--out", str(tmp_path / case)])
        assert r.code == cli.EXIT_USAGE, (case, r.lines)
        r.one_line_error(*needles)
        assert not (tmp_path / case).exists()
    seen = {}

    def fake(ctx, command, **kwargs):
        seen.update(num_classes=ctx.num_classes, n=len(ctx.x_train), classes=ctx.model.num_classes)
        return "r.html", "r.json", {"summary": [{"title": "Robustness", "verdict": "pass", "headline": "ok"}]}

    monkeypatch.setattr(runner, "run_audit", fake)
    r = run(["audit", "--network", files.net(), "--checkpoint", str(files.ckpt), "--data", str(files.data),
             "--out", str(tmp_path / "ok")])
    assert r.code == 0, r.lines
    assert seen == {"num_classes": 10, "n": 12, "classes": 10}
