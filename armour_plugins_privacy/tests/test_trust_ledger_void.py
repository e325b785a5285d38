"""Issue 9, item 21: the ledger never counts a step the model never took.

Charging stays write-ahead (a step is recorded before it runs). When DPModel can prove that nothing was
released — the step failed before any compiled graph of that step was launched — it appends a hash-chained
``void`` record for that step; ε, ``num_steps`` and the audit then skip it. Only the last step record of the
writer's own session can be voided, once; a failure inside the step graph stays charged.
"""

from __future__ import annotations

import pytest

from armour_core.errors import InvalidInputError
from armour_plugins_privacy.dp.ledger import KEY_ENV, LedgerError, PrivacyLedger, _main

SIGMA, Q, DELTA = 1.1, 0.1, 1e-5


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def _reference_epsilon(steps, accountant="rdp") -> float:
    """ε of an in-memory ledger holding exactly ``steps`` (step records)."""
    ref = PrivacyLedger(None, header={"delta": DELTA})
    ref.begin_session()
    for s in steps:
        ref.record_step(sigma=s["sigma"], q=s["q"], sampling=s["sampling"], epoch=s["epoch"])
    return ref.epsilon(DELTA, accountant)


def _charge(path, n: int) -> PrivacyLedger:
    led = PrivacyLedger(path, header={"delta": DELTA})
    led.begin_session()
    for _ in range(n):
        led.record_step(sigma=SIGMA, q=Q, sampling="poisson", epoch=0)
    return led


# ---------------------------------------------------------------------- the ledger
def test_a_voided_step_is_chained_recorded_and_not_counted(tmp_path):
    path = tmp_path / "run.ledger"
    led = _charge(path, 3)
    voided = led.void_last_step("ValueError before the step graph ran: boom")
    assert voided["step"] == 2 and "boom" in voided["reason"]
    assert led.num_steps == 2 and led.charged_steps == 3
    two = _reference_epsilon(led.steps[:2], "pld")
    assert led.epsilon(DELTA) == two  # exactly the ε of the two steps the model took
    assert two < _reference_epsilon(led.steps, "pld")
    head = led.head
    led.close()

    again = PrivacyLedger.read(path)  # readers accept the record type and apply it
    assert [v["step"] for v in again.voids] == [2] and "boom" in again.voids[0]["reason"]
    assert again.num_steps == 2 and again.epsilon(DELTA) == two and len(again.events()) == 1
    assert again.events()[0].steps == 2
    assert again.head == head and head.steps == 3  # the head counts step records in the chain
    again.verify_head(head)
    assert again.summary() == "3 DP-SGD steps charged, 1 voided (step 2: ValueError before the step graph ran: boom)"

    lines = path.read_bytes().splitlines(keepends=True)
    assert b'"type":"void"' in lines[-1]
    cut = tmp_path / "cut.ledger"
    cut.write_bytes(b"".join(lines[:-1]))  # the void removed: the chain never reaches the head
    with pytest.raises(LedgerError, match="does not belong"):
        PrivacyLedger.read(cut).verify_head(head)
    cut.write_bytes(b"".join(lines[:-2]))  # the voided step and its void removed: truncation is still caught
    with pytest.raises(LedgerError, match="truncated"):
        PrivacyLedger.read(cut).verify_head(head)


def test_resumed_writer_continues_after_a_void(tmp_path):
    path = tmp_path / "run.ledger"
    led = _charge(path, 2)
    led.void_last_step("KeyboardInterrupt before the step graph ran")
    led.close()
    resumed = PrivacyLedger(path)
    resumed.begin_session()
    assert resumed.record_step(sigma=SIGMA, q=Q, sampling="poisson", epoch=1) == 2  # indices never reused
    resumed.close()
    led = PrivacyLedger.read(path)
    assert led.num_steps == 2 and led.charged_steps == 3 and [v["step"] for v in led.voids] == [1]
    assert led.epsilon(DELTA, "rdp") == _reference_epsilon([led.steps[0], led.steps[2]])


def test_only_the_writers_own_last_step_can_be_voided_once(tmp_path):
    path = tmp_path / "run.ledger"
    led = _charge(path, 2)
    with pytest.raises(InvalidInputError, match="reason"):
        led.void_last_step("  ")
    led.void_last_step("first")
    with pytest.raises(LedgerError, match="last record"):  # a second void: the last record is no step now
        led.void_last_step("second")
    led.record_step(sigma=SIGMA, q=Q, sampling="poisson", epoch=0)
    led.begin_session()
    with pytest.raises(LedgerError, match="last record"):  # a step of an earlier session
        led.void_last_step("old step")
    led.record_step(sigma=SIGMA, q=Q, sampling="poisson", epoch=0)
    led.close()
    with pytest.raises(LedgerError, match="lock"):  # the writer gave up its lock: another may have appended
        led.void_last_step("after close")
    other = PrivacyLedger(path)
    with pytest.raises(LedgerError, match="this writer"):  # not charged by this writer
        other.void_last_step("someone else's step")
    with pytest.raises(LedgerError, match="read-only"):
        PrivacyLedger.read(path).void_last_step("reader")
    assert PrivacyLedger.read(path).num_steps == 3


def test_a_forged_void_of_a_non_last_step_is_refused_by_readers(tmp_path):
    from armour_plugins_privacy.dp.ledger import _encode

    path = tmp_path / "run.ledger"
    _charge(path, 2).close()
    # a void of step 0 after step 1, written with a correct chain (what an editor without the key could do)
    head = PrivacyLedger.read(path).head
    line, _ = _encode({"type": "void", "step": 0, "reason": "forged", "prev": head.digest}, None)
    with path.open("ab") as fh:
        fh.write(line)
    with pytest.raises(LedgerError, match="line 5: .*only the step record just before it"):
        PrivacyLedger.read(path)


def test_a_void_after_a_checkpointed_step_contradicts_the_checkpoint(tmp_path):
    """A checkpoint is stamped only after its step ran; a void of that very step is a lie."""
    led = _charge(tmp_path / "run.ledger", 2)
    stamped = led.head  # as if a checkpoint had been saved after step 1 ran
    led.void_last_step("claimed failure")
    with pytest.raises(LedgerError, match="voids step 1"):
        led.verify_head(stamped)


def test_ledger_command_reports_voided_steps(tmp_path, capsys):
    path = tmp_path / "run.ledger"
    led = _charge(path, 3)
    led.void_last_step("OSError before the step graph ran")
    led.close()
    assert _main(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 DP-SGD steps charged, 1 voided (step 2: OSError before the step graph ran)" in out


# ---------------------------------------------------------------------- DPModel
def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.random((64, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 64).astype(np.int32)


def _dp_model(ledger):
    ms = pytest.importorskip("mindspore")
    from mindspore import nn

    from armour_core.builtin.models import MLP
    from armour_plugins_privacy.dp.model import DPModel

    ms.set_seed(0)
    net = MLP(input_shape=(1, 8, 8), hidden=8)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return DPModel(network=net, loss_fn=loss, optimizer=nn.SGD(net.trainable_params(), 0.1), noise_multiplier=1.3,
                   clip_norm=1.0, batch_size=16, ledger=str(ledger), accountant="rdp", seed=0), net


def _params(net):
    return [p.asnumpy().copy() for p in net.trainable_params()]


K = 3  # the step that fails


def _fail_on_call(k, real):
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == k:
            raise RuntimeError(f"injected failure on call {k}")
        return real(*args, **kwargs)

    return wrapped


@pytest.fixture(scope="module")
def failed_before_graph(tmp_path_factory):
    """Batch assembly raises on step K: the charge is written, no graph of the step was launched."""
    pytest.importorskip("mindspore")
    import armour_plugins_privacy.dp.model as dpm

    root = tmp_path_factory.mktemp("void")
    model, net = _dp_model(root / "run.ledger")
    mp = pytest.MonkeyPatch()
    mp.setattr(dpm, "pad_chunks", _fail_on_call(K, dpm.pad_chunks))
    try:
        with pytest.raises(RuntimeError, match="injected failure"):
            model.train(1, _data())
    finally:
        mp.undo()
    return {"model": model, "net": net, "ledger": root / "run.ledger", "root": root}


def test_failure_before_the_step_graph_is_voided(failed_before_graph):
    model, path = failed_before_graph["model"], failed_before_graph["ledger"]
    led = PrivacyLedger.read(path)
    assert led.charged_steps == K and led.num_steps == K - 1 and model.steps_taken == K - 1
    assert [v["step"] for v in led.voids] == [K - 1]
    assert "RuntimeError" in led.voids[0]["reason"] and "before the step graph" in led.voids[0]["reason"]
    taken = _reference_epsilon(led.steps[:K - 1])
    assert led.epsilon(DELTA, "rdp") == taken == model.epsilon(accountant="rdp")
    assert taken < _reference_epsilon(led.steps[:K])


def test_checkpoint_head_after_a_void_still_detects_truncation(failed_before_graph):
    from armour_plugins_privacy.dp.ledger import verify_ledger

    model, path, root = failed_before_graph["model"], failed_before_graph["ledger"], failed_before_graph["root"]
    ckpt = model.save_checkpoint(root / "after_void.ckpt")
    assert verify_ledger(path, checkpoint=ckpt).num_steps == K - 1
    lines = path.read_bytes().splitlines(keepends=True)
    cut = root / "cut.ledger"
    cut.write_bytes(b"".join(lines[:-1]))
    with pytest.raises(LedgerError, match="does not belong"):
        verify_ledger(cut, checkpoint=ckpt)
    cut.write_bytes(b"".join(lines[:-3]))
    with pytest.raises(LedgerError, match="truncated"):
        verify_ledger(cut, checkpoint=ckpt)


def test_audit_reports_charged_and_voided_steps(failed_before_graph, tmp_path):
    from armour_core.audit.context import AuditContext
    from armour_core.ms import pretrained as pt
    from armour_plugins_privacy.audit_section import privacy_section

    path = failed_before_graph["ledger"]
    pre = pt.pretrained("lenet5", "digits")
    d = pre.dataset
    res = privacy_section(AuditContext(
        model=pre.model, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
        num_classes=d.num_classes, bounds=d.bounds, profile="quick", seed=0, out_dir=tmp_path,
        settings={"attacks": ["loss_threshold"], "n": 40}, ledger=str(path), ledger_checkpoint=None))
    info = res.metrics["ledger"]
    assert info["steps"] == K - 1 and info["charged"] == K and info["voided"] == [K - 1]
    text = f"{K} DP-SGD steps charged, 1 voided (step {K - 1}: RuntimeError before the step graph ran"
    assert text in res.html and text in res.headline


def test_failure_inside_the_step_graph_stays_charged(tmp_path):
    """An exception from the compiled step cannot prove that no parameter was assigned: charged."""
    model, net = _dp_model(tmp_path / "run.ledger")
    model.train(1, _data())  # compiles; 4 steps
    before = model.steps_taken
    model._compiled["step"] = _fail_on_call(2, model._compiled["step"])
    with pytest.raises(RuntimeError, match="injected failure"):
        model.train(1, _data())
    led = PrivacyLedger.read(tmp_path / "run.ledger")
    assert led.voids == [] and led.num_steps == led.charged_steps == before + 2


def test_failure_while_drawing_noise_is_never_charged(tmp_path):
    """The noise is drawn before the charge is written: a failed draw charges nothing."""
    model, net = _dp_model(tmp_path / "run.ledger")
    model.noise.sample = _fail_on_call(K, model.noise.sample)
    with pytest.raises(RuntimeError, match="injected failure"):
        model.train(1, _data())
    led = PrivacyLedger.read(tmp_path / "run.ledger")
    assert led.charged_steps == led.num_steps == K - 1 and led.voids == []
    assert led.epsilon(DELTA, "rdp") == _reference_epsilon(led.steps)
