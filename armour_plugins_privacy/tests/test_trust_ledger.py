"""Issue 9, items 2, 3 and 17: the privacy ledger is evidence.

* reading never writes (not even a damaged last line), and a missing, empty or unreadable ledger is an error,
  never ε = 0;
* a hash chain over the records, whose head is stamped into every checkpoint DPModel saves, catches a ledger
  cut at a record boundary, emptied, with a damaged last record, edited, or swapped for another run's;
  an exclusive lock keeps two writers apart; an optional HMAC (``ARMOUR_LEDGER_KEY``) catches deliberate edits;
* ``train-dp`` resumed with ``--target-epsilon`` calibrates σ against what the ledger has left, or refuses.

Every attack below made the old ledger under-report ε silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pytest

from armour_plugins_privacy.dp.ledger import CHECKPOINT_KEY, KEY_ENV, LedgerError, LedgerHead, PrivacyLedger

SIGMA, Q, DELTA = 1.1, 0.1, 1e-5


def _write(path, steps: int = 6, sessions: int = 1) -> LedgerHead:
    """A ledger of ``steps`` steps over ``sessions`` sessions; returns its head."""
    per = steps // sessions
    for s in range(sessions):
        led = PrivacyLedger(path, header={"delta": DELTA})
        led.begin_session()
        for _ in range(per if s < sessions - 1 else steps - per * (sessions - 1)):
            led.record_step(sigma=SIGMA, q=Q, sampling="poisson", epoch=s)
        head = led.head
        led.close()
    return head


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


# ---------------------------------------------------------------------- item 2: reading never writes
def test_reading_a_missing_ledger_is_an_error_and_creates_nothing(tmp_path):
    path = tmp_path / "missing.ledger"
    with pytest.raises(LedgerError, match="does not exist"):
        PrivacyLedger.read(path)
    assert not path.exists()
    PrivacyLedger(path).close()  # a writer that never wrote leaves nothing behind either
    assert not path.exists()


@pytest.mark.parametrize("kind", ["empty", "directory", "garbage", "unreadable", "under_a_file"])
def test_unusable_ledgers_are_errors_never_epsilon_zero(tmp_path, kind):
    path = tmp_path / "bad.ledger"
    if kind == "under_a_file":  # a path that cannot exist: its parent is a file (read by anyone, root too)
        (tmp_path / "file").write_text("x")
        with pytest.raises(LedgerError, match="cannot be read"):
            PrivacyLedger.read(tmp_path / "file" / "run.ledger")
        return
    if kind == "empty":
        path.write_bytes(b"")
        match = "empty"
    elif kind == "directory":
        path.mkdir()
        match = "directory"
    elif kind == "garbage":
        path.write_bytes(b"\x00\xffhello world\n")
        match = "not an armour privacy ledger"
    else:
        _write(path)
        path.chmod(0)
        if os.access(path, os.R_OK):  # root reads everything
            pytest.skip("running as root: permissions do not stop reads")
        match = "cannot be read"
    with pytest.raises(LedgerError, match=match):
        PrivacyLedger.read(path)
    with pytest.raises(LedgerError, match=match):  # nor does a writer resume from it
        PrivacyLedger(path)


def test_reading_leaves_the_bytes_identical_even_with_a_damaged_last_line(tmp_path):
    path = tmp_path / "l.ledger"
    _write(path)
    before = _sha(path)
    assert PrivacyLedger.read(path).num_steps == 6
    PrivacyLedger(path).close()  # opening for writing without writing changes nothing
    assert _sha(path) == before
    with open(path, "ab") as fh:
        fh.write(b'0badc0de - {"type":"step","st')  # a write cut short
    damaged = _sha(path)
    with pytest.raises(LedgerError, match="line 9"):
        PrivacyLedger.read(path)
    with pytest.raises(LedgerError, match="repair"):
        PrivacyLedger(path)
    assert _sha(path) == damaged


def test_old_unchained_ledgers_are_refused_with_a_clear_message(tmp_path):
    import zlib

    body = json.dumps({"type": "header", "version": 1, "created": 0.0}, sort_keys=True, separators=(",", ":"))
    path = tmp_path / "v1.ledger"
    path.write_bytes(f"{zlib.crc32(body.encode()):08x} {body}\n".encode())
    with pytest.raises(LedgerError, match="version 1"):
        PrivacyLedger.read(path)


# ---------------------------------------------------------------------- item 3: the attacks
def test_cut_at_a_record_boundary_is_caught_by_the_checkpoint_head(tmp_path):
    path = tmp_path / "l.ledger"
    head = _write(path, steps=6)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))  # two whole step records removed: still a valid chain
    cut = PrivacyLedger.read(path)
    assert cut.num_steps == 4  # nothing in the file alone can tell ...
    with pytest.raises(LedgerError, match="truncated.*6.*4"):  # ... the checkpoint's head can
        cut.verify_head(head)


def test_emptied_ledger_is_an_error(tmp_path):
    path = tmp_path / "l.ledger"
    _write(path)
    path.write_bytes(b"")
    with pytest.raises(LedgerError, match="empty"):
        PrivacyLedger.read(path)
    with pytest.raises(LedgerError, match="empty"):
        PrivacyLedger(path, header={"delta": DELTA})  # not silently restarted from step 0


def test_damaged_last_record_is_never_dropped_and_repair_is_deliberate_and_recorded(tmp_path):
    path = tmp_path / "l.ledger"
    head = _write(path, steps=6)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b'"sigma":1.1', b'"sigma":0.1')  # a complete last line whose digest fails
    path.write_bytes(b"".join(lines))
    with pytest.raises(LedgerError, match=r"line 8 \(the last\).*repair"):
        PrivacyLedger.read(path)
    info = PrivacyLedger.repair(path)
    assert info["line"] == 8
    repaired = PrivacyLedger.read(path)
    assert repaired.num_steps == 5 and repaired.repairs[0]["line"] == 8
    with pytest.raises(LedgerError, match="truncated"):  # the dropped step is still visible to the checkpoint
        repaired.verify_head(head)
    with pytest.raises(LedgerError, match="nothing to repair"):
        PrivacyLedger.repair(path)


def test_ledger_command_verifies_and_repairs_only_on_request(tmp_path, capsys):
    from armour_plugins_privacy.dp.ledger import _main

    path = tmp_path / "l.ledger"
    head = _write(path, steps=3)
    assert _main(["verify", str(path)]) == 0
    assert f"3 steps, head {head.encode()}, MAC none" in capsys.readouterr().out
    with open(path, "ab") as fh:
        fh.write(b"0123 - {")
    assert _main(["verify", str(path)]) == 2
    assert "line 6 (the last) is damaged" in capsys.readouterr().err
    assert _main(["repair", str(path)]) == 0
    assert "removed line 6 (8 bytes" in capsys.readouterr().out
    assert _main(["verify", str(path)]) == 0 and PrivacyLedger.read(path).num_steps == 3


def test_ledger_command_runs_from_its_documented_module(tmp_path):
    """``python -m armour_plugins_privacy.dp.ledger verify`` (docs/dp.md), without importing MindSpore."""
    import subprocess
    import sys

    path = tmp_path / "l.ledger"
    head = _write(path, steps=2)
    code = ("import runpy, sys\nsys.argv = ['ledger', 'verify', sys.argv[1]]\n"
            "try:\n    runpy.run_module('armour_plugins_privacy.dp.ledger', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "assert 'mindspore' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    assert f"2 steps, head {head.encode()}" in out


def test_edited_middle_record_breaks_the_chain(tmp_path):
    path = tmp_path / "l.ledger"
    _write(path, steps=6)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"sigma":1.1', b'"sigma":9.9')
    path.write_bytes(b"".join(lines))
    with pytest.raises(LedgerError, match="line 4"):
        PrivacyLedger.read(path)
    del lines[3]  # or a whole middle record removed
    path.write_bytes(b"".join(lines))
    with pytest.raises(LedgerError, match="chain"):
        PrivacyLedger.read(path)


def test_recomputed_chain_is_caught_by_the_checkpoint_head(tmp_path):
    """A forger without the MAC key who rewrites a consistent chain with fewer steps fails the head check."""
    real, forged = tmp_path / "real.ledger", tmp_path / "forged.ledger"
    head = _write(real, steps=6)
    _write(forged, steps=6)
    with pytest.raises(LedgerError, match="does not belong"):  # another run with the same settings and steps
        PrivacyLedger.read(forged).verify_head(head)
    PrivacyLedger.read(real).verify_head(head)  # the real one passes


def test_ledger_swapped_from_another_run_after_more_steps(tmp_path):
    real, other = tmp_path / "real.ledger", tmp_path / "other.ledger"
    head = _write(real, steps=3)
    _write(other, steps=9)
    with pytest.raises(LedgerError, match="does not belong"):
        PrivacyLedger.read(other).verify_head(head)
    assert LedgerHead.parse(head.encode()) == head
    with pytest.raises(LedgerError, match=CHECKPOINT_KEY):
        LedgerHead.parse("garbage")


WRITER = textwrap.dedent("""
    import sys, time
    from armour_plugins_privacy.dp.ledger import LedgerError, PrivacyLedger
    led = PrivacyLedger(sys.argv[1], header={"delta": 1e-5})
    try:
        led.begin_session()
        for _ in range(int(sys.argv[2])):
            led.record_step(sigma=1.1, q=0.1, sampling="poisson", epoch=0)
        led.sync()
    except LedgerError as exc:
        print("ERROR", exc, flush=True)
        sys.exit(3)
    print("WROTE", led.num_steps, flush=True)
    sys.stdin.readline()   # hold the lock until told to finish
    for _ in range(int(sys.argv[2])):
        led.record_step(sigma=1.1, q=0.1, sampling="poisson", epoch=1)
    led.close()
    print("DONE", led.num_steps, flush=True)
""")


def _said(proc, word: str) -> list[str]:
    """The first stdout line of ``proc`` starting with ``word`` (other output is skipped)."""
    for line in proc.stdout:
        if line.startswith(word):
            return line.split()
    raise AssertionError(f"the writer never said {word}")


def test_two_writers_cannot_interleave(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "shared.ledger"
    _write(path, steps=2)
    first = subprocess.Popen([sys.executable, str(script), str(path), "5"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert _said(first, "WROTE") == ["WROTE", "7"]
        second = subprocess.run([sys.executable, str(script), str(path), "4"], capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 3 and "in use by another process" in second.stdout
        first.stdin.write("\n")
        first.stdin.flush()
        assert _said(first, "DONE") == ["DONE", "12"]
    finally:
        first.kill()
        first.wait(timeout=60)
    led = PrivacyLedger.read(path)
    assert led.num_steps == 12 and [s["epoch"] for s in led.steps] == [0] * 7 + [1] * 5


def test_a_reader_waits_for_a_record_in_flight_instead_of_calling_it_damaged(tmp_path):
    import threading

    path = tmp_path / "l.ledger"
    _write(path, steps=2)
    writer = PrivacyLedger(path)
    writer.begin_session()  # holds the writer's lock from here on
    from armour_plugins_privacy.dp.ledger import _encode

    line, _ = _encode(
        {"type": "step", "step": 2, "sigma": SIGMA, "q": Q, "sampling": "poisson", "epoch": 1,
         "prev": writer.head.digest}, None)
    os.write(writer._fd, line[:25])  # the first half of a write, the rest arrives 0.2 s later
    threading.Timer(0.2, lambda: os.write(writer._fd, line[25:])).start()
    assert PrivacyLedger.read(path).num_steps == 3
    writer.close()


def test_a_writer_whose_file_changed_since_it_opened_refuses(tmp_path):
    path = tmp_path / "l.ledger"
    _write(path, steps=2)
    stale = PrivacyLedger(path)  # read, not yet writing
    _write(path, steps=0)  # another writer appends a session meanwhile
    with pytest.raises(LedgerError, match="changed since"):
        stale.begin_session()


def test_mac_catches_a_deliberate_edit_with_a_recomputed_chain(tmp_path, monkeypatch):
    from armour_plugins_privacy.dp import ledger as L

    path = tmp_path / "l.ledger"
    monkeypatch.setenv(KEY_ENV, "s3cret")
    _write(path, steps=4)
    assert PrivacyLedger.read(path).mac_status == "verified"
    # the forger rewrites σ and recomputes every digest of the chain, but has no key
    records = [json.loads(line.split(b" ", 2)[2]) for line in path.read_bytes().splitlines()]
    out, prev = [], L.GENESIS
    for rec in records:
        rec["prev"] = prev
        if rec["type"] == "step":
            rec["sigma"] = 50.0
        line, prev = L._encode(rec, b"guess")
        out.append(line)
    path.write_bytes(b"".join(out))
    with pytest.raises(LedgerError, match="MAC"):
        PrivacyLedger.read(path)
    monkeypatch.delenv(KEY_ENV)
    assert PrivacyLedger.read(path).mac_status.startswith("not checked")  # says so, never "verified"
    with pytest.raises(LedgerError, match=f"needs {KEY_ENV}"):  # and nobody appends unMACed records to it
        PrivacyLedger(path).begin_session()
    plain = tmp_path / "plain.ledger"
    _write(plain)
    monkeypatch.setenv(KEY_ENV, "s3cret")
    with pytest.raises(LedgerError, match="no MAC"):  # MACs stripped: refused when the reader holds a key
        PrivacyLedger.read(plain)


# ---------------------------------------------------------------------- DPModel: checkpoints carry the head
def _dp_model(ledger, **kw):
    ms = pytest.importorskip("mindspore")
    from mindspore import nn

    from armour_core.builtin.models import MLP
    from armour_plugins_privacy.dp.model import DPModel

    ms.set_seed(0)
    net = MLP(input_shape=(1, 8, 8), hidden=8)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return DPModel(network=net, loss_fn=loss, optimizer=nn.SGD(net.trainable_params(), 0.1), noise_multiplier=1.3,
                   clip_norm=1.0, batch_size=16, ledger=str(ledger), accountant="pld", **kw), net


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.random((64, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 64)


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory):
    """One DP training (4 Poisson steps) with a ModelCheckpoint callback, plus DPModel.save_checkpoint."""
    pytest.importorskip("mindspore")
    from mindspore.train.callback import CheckpointConfig, ModelCheckpoint

    root = tmp_path_factory.mktemp("dp_run")
    model, net = _dp_model(root / "run.ledger")
    saver = ModelCheckpoint(prefix="dp", directory=str(root / "ck"), config=CheckpointConfig(save_checkpoint_steps=4))
    model.train(1, _data(), callbacks=[saver])
    own = model.save_checkpoint(root / "own.ckpt")
    return {"model": model, "net": net, "ledger": root / "run.ledger", "bytes": (root / "run.ledger").read_bytes(),
            "stamped": sorted((root / "ck").glob("dp*.ckpt")), "own": own}


def _ledger_copy(dp_run, path, drop_last: int = 0):
    """A copy of the run's ledger, without its last ``drop_last`` lines (cut at a record boundary)."""
    lines = dp_run["bytes"].splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:len(lines) - drop_last]))
    return path


def test_dpmodel_checkpoints_carry_the_head_and_resume_checks_it(dp_run, tmp_path):
    from armour_core.ms.checkpoint import save_checkpoint_atomic
    from armour_plugins_privacy.dp.ledger import read_ledger_head, verify_ledger

    model, own = dp_run["model"], dp_run["own"]
    assert model.steps_taken == 4
    assert dp_run["stamped"] and read_ledger_head(dp_run["stamped"][-1]) == model.ledger.head
    assert read_ledger_head(own) == model.ledger.head
    verify_ledger(dp_run["ledger"], checkpoint=own)

    fresh, net = _dp_model(_ledger_copy(dp_run, tmp_path / "copy.ledger"))
    fresh.load_checkpoint(own)  # the ledger belongs: the weights load
    import numpy as np

    for a, b in zip(dp_run["net"].get_parameters(), net.get_parameters()):
        assert np.array_equal(a.asnumpy(), b.asnumpy())

    cut = _ledger_copy(dp_run, tmp_path / "cut.ledger", drop_last=1)  # one whole step record removed
    again, _ = _dp_model(cut)
    with pytest.raises(LedgerError, match="truncated"):
        again.load_checkpoint(own)
    with pytest.raises(LedgerError, match="truncated"):
        verify_ledger(cut, checkpoint=own)
    other = tmp_path / "other.ledger"
    _write(other, steps=4)  # another run with as many steps
    with pytest.raises(LedgerError, match="does not belong"):
        verify_ledger(other, checkpoint=own)
    swapped, _ = _dp_model(other)
    with pytest.raises(LedgerError, match="does not belong"):
        swapped.load_checkpoint(own)
    deleted, _ = _dp_model(tmp_path / "gone.ledger")  # the ledger deleted: resuming starts from 0 steps
    with pytest.raises(LedgerError, match="truncated.*4 DP-SGD steps.*only 0"):
        deleted.load_checkpoint(own)
    plain = save_checkpoint_atomic(net, tmp_path / "plain.ckpt")
    with pytest.raises(LedgerError, match="no ledger head"):
        verify_ledger(other, checkpoint=plain)


def test_dpmodel_stamped_checkpoint_loads_through_the_strict_loader(dp_run):
    import numpy as np

    from armour_core.builtin.models import MLP
    from armour_core.loading import load_checkpoint

    other = MLP(input_shape=(1, 8, 8), hidden=8)
    load_checkpoint(other, dp_run["own"])  # the head entry is not "a parameter the network does not have"
    for a, b in zip(dp_run["net"].get_parameters(), other.get_parameters()):
        assert np.array_equal(a.asnumpy(), b.asnumpy())


# ---------------------------------------------------------------------- the command line
def _cli(argv, capsys) -> tuple[int, str]:
    pytest.importorskip("mindspore")
    from armour_core.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse-level rejections
        code = exc.code
    return code, capsys.readouterr().err


def test_audit_refuses_missing_empty_or_damaged_ledgers_before_computing(tmp_path, capsys):
    out = tmp_path / "report"
    missing = tmp_path / "missing.ledger"
    code, err = _cli(["audit", "--ledger", str(missing), "--out", str(out)], capsys)
    assert code == 2 and "does not exist" in err and not missing.exists()
    empty = tmp_path / "empty.ledger"
    empty.write_bytes(b"")
    code, err = _cli(["audit", "--ledger", str(empty), "--out", str(out)], capsys)
    assert code == 2 and "empty" in err and len(err.strip().splitlines()) == 1
    damaged = tmp_path / "damaged.ledger"
    _write(damaged)
    with open(damaged, "ab") as fh:
        fh.write(b"deadbeef - {")
    before = _sha(damaged)
    code, err = _cli(["audit", "--ledger", str(damaged), "--out", str(out)], capsys)
    assert code == 2 and "line 9 (the last) is damaged" in err and _sha(damaged) == before
    assert not (out / "report.json").exists()  # refused before any section ran


def test_audit_checks_the_ledger_against_the_checkpoint_head(dp_run, tmp_path, capsys):
    cut = _ledger_copy(dp_run, tmp_path / "cut.ledger", drop_last=1)
    code, err = _cli(["audit", "--network", "armour_core.builtin.models:MLP", "--data", str(tmp_path / "d.npz"),
                      "--checkpoint", str(dp_run["own"]), "--ledger", str(cut), "--out", str(tmp_path / "out")],
                     capsys)
    assert code == 2 and "truncated" in err and "4 DP-SGD steps" in err


def test_train_dp_from_dp_weights_needs_their_complete_ledger(dp_run, tmp_path, capsys, monkeypatch):
    import numpy as np

    (tmp_path / "tinynet.py").write_text("from armour_core.builtin.models import MLP\n\n\n"
                                         "def net():\n    return MLP(input_shape=(1, 8, 8), hidden=8)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    x, y = _data()
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:16], y_test=y[:16])
    base = ["train-dp", "--network", "tinynet:net", "--data", str(tmp_path / "d.npz"), "--checkpoint",
            str(dp_run["own"]), "--batch-size", "16", "--epochs", "1", "--noise-multiplier", "1.3", "--plot", ""]
    code, err = _cli(base, capsys)
    assert code == 2 and "4 DP-SGD steps" in err and "--ledger" in err
    cut = _ledger_copy(dp_run, tmp_path / "cut.ledger", drop_last=1)
    before = _sha(cut)
    code, err = _cli([*base, "--ledger", str(cut)], capsys)
    assert code == 2 and "truncated" in err and _sha(cut) == before  # refused before any step


def _train_dp(tmp_path, target: float, capsys, *extra: str) -> tuple[int, str, dict | None]:
    out = tmp_path / "dp.json"
    out.unlink(missing_ok=True)
    code, err = _cli(["train-dp", "--model", "mlp", "--epochs", "1", "--batch-size", "256", "--target-epsilon",
                      str(target), "--accountant", "rdp", "--plot", "", "--json", str(out),
                      "--ledger", str(tmp_path / "run.ledger"), *extra], capsys)
    return code, err, json.loads(out.read_text()) if out.exists() else None


def test_resumed_train_dp_calibrates_against_the_remaining_budget_or_refuses(tmp_path, capsys):
    code, err, first = _train_dp(tmp_path, 1.0, capsys)
    assert code == 0, err
    assert first["epsilon"] <= 1.0
    code, err, second = _train_dp(tmp_path, 2.0, capsys, "--save-checkpoint", str(tmp_path / "dp.ckpt"))
    assert code == 0, err
    from armour_plugins_privacy.dp.ledger import verify_ledger

    ledger = verify_ledger(tmp_path / "run.ledger", checkpoint=tmp_path / "dp.ckpt")  # the saved weights' head
    assert ledger.num_steps == 2 * first["steps"] == second["steps"]
    assert second["epsilon"] == pytest.approx(ledger.epsilon(DELTA, "rdp"), rel=1e-12)
    assert 1.9 < second["epsilon"] <= 2.0  # the whole run meets the target, and uses most of it
    from armour_plugins_privacy.dp.calibration import calibrate_noise

    alone = calibrate_noise(2.0, DELTA, first["sampling_rate"], first["steps"], accountant="rdp")
    assert second["noise_multiplier"] > alone  # calibrated for what remained, not for a fresh run of 2.0
    before = _sha(tmp_path / "run.ledger")
    code, err, third = _train_dp(tmp_path, 1.5, capsys)  # already spent ~2 > 1.5: refused before any step
    assert code == 2 and third is None
    assert "--target-epsilon" in err and "no budget remains" in err
    assert _sha(tmp_path / "run.ledger") == before


def test_audit_privacy_section_reports_what_it_verified_and_never_writes(dp_run, tmp_path):
    from armour_core.audit.context import AuditContext
    from armour_core.ms import pretrained as pt
    from armour_plugins_privacy.audit_section import privacy_section

    ledger, ck = _ledger_copy(dp_run, tmp_path / "run.ledger"), str(dp_run["own"])
    before = _sha(ledger)
    pre = pt.pretrained("lenet5", "digits")
    d = pre.dataset

    def section(path, checkpoint):
        return privacy_section(AuditContext(
            model=pre.model, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
            num_classes=d.num_classes, bounds=d.bounds, profile="quick", seed=0, out_dir=tmp_path,
            settings={"attacks": ["loss_threshold"], "n": 40}, ledger=str(path), ledger_checkpoint=checkpoint))

    res = section(ledger, ck)
    info = res.metrics["ledger"]
    assert info["steps"] == 4 and info["checkpoint_verified"] and info["mac"] == "none"
    assert info["epsilon"] == pytest.approx(dp_run["model"].ledger.epsilon(DELTA), rel=1e-9)
    assert "reaches the head" in res.html and _sha(ledger) == before
    unchecked = section(ledger, None)
    assert not unchecked.metrics["ledger"]["checkpoint_verified"]
    assert any("not checked against a checkpoint" in w for w in unchecked.warnings)
    with pytest.raises(LedgerError, match="truncated"):
        section(_ledger_copy(dp_run, tmp_path / "cut.ledger", drop_last=1), ck)


def test_armour_ledger_subcommand_verifies_and_repairs(tmp_path, capsys):
    """``armour ledger verify|repair`` is the registered command over the same code; refusals exit 2."""
    from armour_core.cli import main

    path = tmp_path / "l.ledger"
    head = _write(path, steps=4)
    assert main(["ledger", "verify", str(path)]) == 0
    assert f"4 steps, head {head.encode()}" in capsys.readouterr().out
    with open(path, "ab") as fh:
        fh.write(b"{torn")
    assert main(["ledger", "verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("armour: error: ") and "is damaged" in err and err.count("\n") == 1
    assert main(["ledger", "repair", str(path), "--checkpoint", "x.ckpt"]) == 2
    assert "--checkpoint only applies to verify" in capsys.readouterr().err
    assert main(["ledger", "repair", str(path)]) == 0
    assert main(["ledger", "verify", str(path)]) == 0 and PrivacyLedger.read(path).num_steps == 4
