"""Issue 9, items 9-10 for ``armour fuzz``: the user's model and data through the shared loader, bad paths and
numbers before any work, and a damaged corpus is one line naming it (not a traceback)."""

from __future__ import annotations

import pytest

pytest.importorskip("mindspore")

from armour_core.testing.cli import bad_model_inputs, run, user_files  # noqa: E402

from armour_plugins_fuzz.fuzzer import cli as fuzz_cli  # noqa: E402

QUICK = ["--n", "4", "--max-iters", "2", "--mutants-per-seed", "2", "--mutators", "gaussian_noise"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return user_files(tmp_path_factory.mktemp("user"))


def test_bad_model_or_data_is_one_line_naming_the_flag(files, tmp_path):
    for case, flags, needles in bad_model_inputs(files):
        r = run(["fuzz", *QUICK, *flags, "--corpus-dir", str(tmp_path / case / "corpus"), "--out",
                 str(tmp_path / case / "rep")])
        assert r.code == 2, (case, r.lines)
        r.one_line_error(*needles)
        assert not (tmp_path / case).exists()


def test_train_data_labels_are_checked_against_the_network(files, tmp_path):
    r = run(["fuzz", *QUICK, "--network", files.net(), "--checkpoint", str(files.ckpt), "--data", str(files.data),
             "--train-data", str(files.data_label_range), "--corpus-dir", str(tmp_path / "c"), "--out",
             str(tmp_path / "r")])
    r.one_line_error("--train-data", "12")


def test_paths_and_numbers_fail_before_any_work(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(fuzz_cli, "run", lambda args: calls.append(args) or 0)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for flags, needles in [(["--corpus-dir", str(afile)], ("--corpus-dir", "is a file")),
                           (["--out", str(afile / "rep")], ("--out", "is a file")),
                           (["--corpus-dir", "/proc/armour-test"], ("--corpus-dir", "not writable")),
                           (["--max-iters", "0"], ("--max-iters",)), (["--alpha", "2"], ("--alpha",)),
                           (["--n", "-1"], ("--n",))]:
        r = run(["fuzz", *flags])
        assert r.code == 2 and r.out == [], (flags, r.lines)
        r.one_line_error(*needles)
    assert calls == []


def test_damaged_corpus_is_one_line_naming_it(files, tmp_path):
    corpus = tmp_path / "corpus"
    args = ["fuzz", *QUICK, "--network", files.net(), "--checkpoint", str(files.ckpt), "--data", str(files.data),
            "--corpus-dir", str(corpus), "--out", str(tmp_path / "rep")]
    assert run(args).code == 0
    chunks = sorted((corpus / "chunks").iterdir())
    assert chunks
    chunks[0].write_bytes(b"garbage")
    r = run([*args, "--max-iters", "4"])
    assert r.code == 2, r.lines
    assert "Traceback" not in "\n".join(r.lines) and len(r.err) <= 2, r.err
    assert r.err[-1].startswith("armour: error: ") and str(corpus) in r.err[-1]
