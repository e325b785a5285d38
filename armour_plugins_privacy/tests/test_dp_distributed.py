"""Data-parallel DP-SGD on ``msrun`` (2 workers, AllReduce over the loopback) against the single-process run.

msrun launches are slow to start (MindSpore's cluster set-up, ~10-20 s each), so there are three: one runs
every scenario of ``dist_worker.py`` at once; one is ``armour train-dp --workers 2`` with a worker killed
mid-run; one resumes that run with the user-style ``examples/dp_msrun_train.py`` under the user's own msrun.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dist_worker

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("dist_worker.py")
EXAMPLE = ROOT / "examples" / "dp_msrun_train.py"

needs_msrun = pytest.mark.skipif(shutil.which("msrun") is None, reason="MindSpore's msrun is not on PATH")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GLOG_v", "3")
    env.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
    env["PYTHONPATH"] = os.pathsep.join([str(WORKER.parent), env.get("PYTHONPATH", "")])
    return env


def _msrun(script: Path, args: list[str], log_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    from armour_plugins_privacy.dp.launch import free_port

    cmd = ["msrun", "--worker_num=2", "--local_worker_num=2", f"--master_port={free_port()}", "--join=True",
           f"--log_dir={log_dir}", str(script), *args]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _logs(log_dir: Path) -> str:
    return "\n".join(f"--- {p.name}\n" + "\n".join(ln for ln in p.read_text(errors="replace").splitlines()
                                                      if not ln.startswith("[")) [-3000:]
                     for p in sorted(log_dir.glob("worker_*.log")))


# ---------------------------------------------------------------------- unit level (no msrun)
def test_share_partitions_the_global_batch_and_physical_is_per_rank():
    from armour_plugins_privacy.dp.distributed import Cluster

    idx = np.array([3, 5, 8, 13, 21, 34, 55])
    shares = [Cluster.__new__(Cluster) for _ in range(3)]
    for r, c in enumerate(shares):
        c.rank, c.size = r, 3
    parts = [c.share(idx) for c in shares]
    assert np.array_equal(np.concatenate(parts), idx)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert shares[0].physical(256, 60000) < 256  # expected 85.3 + 2 std, rounded to 8


def test_single_process_has_no_cluster_and_lazy_source_equals_arrays():
    """Outside msrun DPModel is single-process; a random-access source trains exactly as the arrays do, and
    each step reads only the sampled examples (padding is not read)."""
    from mindspore.dataset import GeneratorDataset

    x, y = dist_worker.digits()
    arrays = dist_worker.build()
    assert arrays.cluster is None
    arrays.train(1, (x, y), callbacks=[dist_worker.stop_after(3)])
    source = dist_worker.CountingSource(x, y)
    lazy = dist_worker.build()
    lazy.train(1, GeneratorDataset(source, ["x", "y"], shuffle=False),
               callbacks=[dist_worker.stop_after(3, source.mark)])
    assert np.array_equal(dist_worker.flat(arrays), dist_worker.flat(lazy))
    assert len(source.reads) == 3 and all(0 < len(r) < len(x) // 2 for r in source.reads)
    assert all(len(set(r)) == len(r) for r in source.reads)  # each sampled example read once


def test_lazy_source_checks_each_batch_and_voids_the_step():
    """A bad example in a lazily read batch fails its step before any graph runs: the step is voided."""
    x, y = dist_worker.digits()
    x = x.copy()
    x[200:] = np.nan  # beyond the examples the checks before training read (the first physical batch)
    model = dist_worker.build()
    with pytest.raises(ValueError, match=r"x \(dataset items"):
        model.train(1, dist_worker.CountingSource(x, y))
    assert model.steps_taken == 0 and len(model.ledger.voids) == 1


def test_workers_flag_rebuilds_the_command_line():
    import argparse

    from armour_plugins_privacy.dp import cli
    from armour_plugins_privacy.dp.launch import command_line

    parser = argparse.ArgumentParser(prog="armour")
    sub = parser.add_subparsers()
    cli.register(sub)
    args = parser.parse_args(["train-dp", "--workers", "2", "--epochs", "3", "--bounds", "0", "2", "--per-layer",
                              "--plot", ""])
    argv = command_line(args.parser, args)
    assert argv[0] == "train-dp" and "--workers" not in argv
    again = parser.parse_args(argv)
    assert {k: v for k, v in vars(again).items() if k != "workers"} == {
        k: v for k, v in vars(args).items() if k != "workers"}


# ---------------------------------------------------------------------- one msrun launch, every scenario
@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = _msrun(WORKER, [str(out)], out / "logs")
    assert proc.returncode == 0, _logs(out / "logs") + proc.stdout[-2000:] + proc.stderr[-2000:]
    return out, [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    return {"zero": dist_worker.case_zero(), "noisy": dist_worker.case_noisy(str(out / "noisy.ledger")),
            "lazy": dist_worker.case_lazy()}


@needs_msrun
def test_one_noiseless_step_on_two_workers_equals_the_single_process_step(ranks, single):
    ref = np.array(single["zero"]["params"])
    for rank in ranks[1]:
        assert rank["zero"]["steps"] == 1
        np.testing.assert_allclose(rank["zero"]["params"], ref, rtol=0, atol=1e-6)


@needs_msrun
def test_noisy_steps_leave_identical_parameters_on_every_rank(ranks, single):
    r0, r1 = (r["noisy"] for r in ranks[1])
    assert r0["params"] == r1["params"]  # bit for bit: one AllReduce result, one update
    # rank 0 drew the same noise the single process draws (same seed, session and step)
    np.testing.assert_allclose(r0["params"], single["noisy"]["params"], rtol=0, atol=1e-5)


@needs_msrun
def test_ledger_is_rank_zeros_and_equals_the_single_process_ledger(ranks, single):
    from armour_plugins_privacy.dp.ledger import verify_ledger

    out, (r0, r1) = ranks[0], (r["noisy"] for r in ranks[1])
    ref = single["noisy"]
    assert r0["steps"] == r1["steps"] == ref["steps"] == 8
    assert r0["sigmas"] == r1["sigmas"] == ref["sigmas"] and r0["qs"] == r1["qs"] == ref["qs"]
    assert r0["epsilon"] == r1["epsilon"] == pytest.approx(ref["epsilon"], rel=1e-12)
    assert r0["saved"] and not r1["saved"]  # one checkpoint writer
    ledger = verify_ledger(out / "noisy.ledger", checkpoint=out / "noisy.ckpt")
    assert ledger.num_steps == 8 and len(ledger.sessions) == 1


@needs_msrun
def test_each_rank_reads_only_its_share_of_a_random_access_source(ranks, single):
    r0, r1 = (r["lazy"] for r in ranks[1])
    ref = single["lazy"]["reads"]
    assert len(r0["reads"]) == len(r1["reads"]) == len(ref) == 3
    for a, b, whole in zip(r0["reads"], r1["reads"], ref):
        assert not set(a) & set(b)
        assert sorted(a + b) == sorted(whole)
    assert r0["params"] == r1["params"]
    np.testing.assert_allclose(r0["params"], single["lazy"]["params"], rtol=0, atol=1e-5)


@needs_msrun
def test_parameters_changed_on_one_rank_fail_loudly_on_every_rank(ranks):
    for rank in ranks[1]:
        assert rank["divergence"]["error"] and "differ across ranks" in rank["divergence"]["error"]


@needs_msrun
def test_unseeded_runs_share_rank_zeros_entropy(ranks):
    r0, r1 = (r["unseeded"] for r in ranks[1])
    assert r0["params"] == r1["params"]


@needs_msrun
def test_ranks_resuming_different_ledgers_are_refused_before_any_step(ranks):
    for rank in ranks[1]:
        err = rank["other_ledger"]["error"]
        assert err and "every rank must resume the same ledger" in err and "rank 1 has [0, 0, 0]" in err
    assert "elsewhere" not in " ".join(p.name for p in ranks[0].iterdir())  # rank 1 wrote nothing


# ---------------------------------------------------------------------- a killed worker, then a resume
def _rank_pid(rank: int, marker: str) -> int | None:
    """The pid of msrun worker ``rank`` whose command line contains ``marker``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in cmd and "launch.py" in cmd and f"RANK_ID={rank}".encode() in env:
            return int(entry.name)
    return None


@needs_msrun
def test_killed_worker_fails_with_one_error_and_resume_never_under_reports(tmp_path):
    from armour_plugins_privacy.dp.ledger import PrivacyLedger, read_ledger_head

    x, y = dist_worker.digits()
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x, y_train=y, x_test=x[:32], y_test=y[:32])
    ledger, ckpt = tmp_path / "run.ledger", tmp_path / "run.ckpt"
    cmd = [sys.executable, "-m", "armour_core.cli", "train-dp", "--workers", "2", "--network", f"{EXAMPLE}:network",
           "--data", str(data), "--epochs", "500", "--batch-size", "64", "--noise-multiplier", "1.0",
           "--lr", "0.5", "--ledger", str(ledger), "--save-checkpoint", str(ckpt), "--checkpoint-every", "2",
           "--plot", ""]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)  # one process group: msrun and its workers
    deadline = time.monotonic() + 240
    killed = None
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists() and ledger.exists() and ledger.read_text().count('"type":"step"') >= 6:
            killed = _rank_pid(1, str(ledger))
            if killed:
                os.kill(killed, signal.SIGKILL)
                break
        time.sleep(0.2)
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert killed, f"worker 1 was never found running (rc {proc.returncode}): {err[-2000:]}"
    errors = [ln for ln in err.splitlines() if ln.startswith("armour: error:")]
    assert proc.returncode == 2 and len(errors) == 1, err[-3000:]
    print(errors[0])  # shown with -s: the one line a user sees
    assert "killed by signal 9" in errors[0] and "resume" in errors[0]

    charged = PrivacyLedger.read(ledger)
    head = read_ledger_head(ckpt)
    assert head.steps <= charged.charged_steps  # the checkpoint never names steps the ledger lacks
    before = charged.num_steps

    resumed = _msrun(EXAMPLE, ["--data", str(data), "--epochs", "1", "--batch-size", "64", "--ledger", str(ledger),
                               "--checkpoint", str(ckpt), "--resume"], tmp_path / "logs2")
    assert resumed.returncode == 0, _logs(tmp_path / "logs2")
    after = PrivacyLedger.read(ledger)
    assert after.num_steps == before + 4  # every charged step still counts, plus one epoch of 4
    assert len(after.sessions) == 2
    assert after.epsilon(1e-5, "pld") >= charged.epsilon(1e-5, "pld")
    assert read_ledger_head(ckpt).steps == after.charged_steps
    assert "epsilon" in (tmp_path / "logs2" / "worker_0.log").read_text()
