"""The privacy ledger: crash safety (a SIGKILLed training run resumed), torn writes, corruption, and ε
recomputed from the records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import dp_accounting
import pytest
from dp_accounting import rdp as dp_rdp

from armour_plugins_privacy.dp.ledger import LedgerError, PrivacyLedger

CHILD = textwrap.dedent("""
    import os, sys
    os.environ["ARMOUR_PROGRESS"] = "0"
    import numpy as np
    import armour_core.ms
    import mindspore as ms
    from mindspore import nn
    from mindspore.train.callback import Callback
    from armour_core.builtin.models import MLP
    from armour_plugins_privacy.dp.model import DPModel

    class Tell(Callback):
        def on_train_step_end(self, run_context):
            print("STEP", run_context.original_args().dp_model.steps_taken, flush=True)

    rng = np.random.default_rng(0)
    x = rng.random((256, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    ms.set_seed(0)
    net = MLP(input_shape=(1, 8, 8), hidden=16)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="none")
    model = DPModel(network=net, loss_fn=loss, optimizer=nn.SGD(net.trainable_params(), 0.1), noise_multiplier=1.3,
                    clip_norm=1.0, batch_size=32, ledger=sys.argv[1], accountant="rdp", durability="step")
    model.train(int(sys.argv[2]), (x, y), callbacks=[Tell()])
    print("DONE", model.steps_taken, repr(model.epsilon()), flush=True)
""")


def _rdp_eps(sigma: float, q: float, steps: int, delta: float = 1e-5) -> float:
    acc = dp_rdp.RdpAccountant()
    acc.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)
    return acc.get_epsilon(delta)


def test_killed_run_resumes_with_all_steps_accounted(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    ledger = tmp_path / "run.ledger"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(ledger), "50"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    seen = 0
    try:
        for line in proc.stdout:
            if line.startswith("STEP"):
                seen = int(line.split()[1])
                if seen >= 5:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert seen >= 5, "the child never reached step 5"
    killed = PrivacyLedger(ledger)
    assert killed.num_steps >= seen  # write-ahead: the step in flight may be counted too, never fewer
    before = killed.num_steps
    killed.close()

    out = subprocess.run([sys.executable, str(script), str(ledger), "1"], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    done = [line for line in out.stdout.splitlines() if line.startswith("DONE")][-1].split()
    steps, eps = int(done[1]), float(done[2])
    assert steps == before + 8  # one resumed epoch of round(256/32) Poisson steps on top of the killed run
    assert eps == pytest.approx(_rdp_eps(1.3, 32 / 256, steps), rel=1e-9)
    resumed = PrivacyLedger(ledger)
    assert [s["index"] for s in resumed.sessions] == [0, 1]
    assert resumed.sessions[1]["start_step"] == before


def test_torn_final_record_is_refused_until_repaired(tmp_path):
    """Issue 9 changed this: a damaged last line used to be dropped (and the file truncated) on open, which let
    a damaged or cut step record under-report ε. Now reading refuses, naming the line, and leaves the file
    alone; ``PrivacyLedger.repair`` removes it deliberately and records the repair."""
    path = tmp_path / "l.ledger"
    with PrivacyLedger(path, header={"delta": 1e-5}) as led:
        led.begin_session()
        for _ in range(3):
            led.record_step(sigma=1.0, q=0.1, sampling="poisson", epoch=0)
    with open(path, "ab") as fh:
        fh.write(b'0badc0de - {"type":"step","st')  # a write cut short by a crash
    damaged = path.read_bytes()
    with pytest.raises(LedgerError, match=r"line 6 \(the last\)"):
        PrivacyLedger(path)
    assert path.read_bytes() == damaged
    assert PrivacyLedger.repair(path)["dropped_bytes"] == len(b'0badc0de - {"type":"step","st')
    again = PrivacyLedger(path)
    assert again.num_steps == 3 and len(again.repairs) == 1
    again.record_step(sigma=1.0, q=0.1, sampling="poisson", epoch=0)  # appends cleanly after the repair
    again.close()
    assert PrivacyLedger.read(path).num_steps == 4


def test_corrupt_middle_record_is_an_error(tmp_path):
    path = tmp_path / "l.ledger"
    with PrivacyLedger(path) as led:
        led.begin_session()
        for _ in range(3):
            led.record_step(sigma=1.0, q=0.1, sampling="poisson", epoch=0)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"sigma":1.0', b'"sigma":9.0')  # tampered: checksum no longer matches
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(LedgerError, match="corrupt"):
        PrivacyLedger(path)


def test_ledger_rejects_other_runs(tmp_path):
    path = tmp_path / "l.ledger"
    with PrivacyLedger(path, header={"delta": 1e-5}) as led:
        led.begin_session()
    with pytest.raises(LedgerError, match="delta"):
        PrivacyLedger(path).check_compatible(delta=1e-6)
    (tmp_path / "junk").write_text("hello\n")
    with pytest.raises(LedgerError):
        PrivacyLedger(tmp_path / "junk")


def test_epsilon_is_recomputed_from_records_whatever_the_report_interval():
    """MindArmour's printed ε depends on its print interval; the ledger's does not."""
    led = PrivacyLedger(None)
    for t in range(40):
        led.record_step(sigma=1.1, q=0.05, sampling="poisson", epoch=t // 20)
        if t % 7 == 0:
            led.epsilon(1e-5, "rdp")  # reading in between changes nothing
    assert led.epsilon(1e-5, "rdp") == pytest.approx(_rdp_eps(1.1, 0.05, 40), rel=1e-12)
    assert len(led.events()) == 1


def test_varying_mechanisms_are_accounted_step_by_step():
    led = PrivacyLedger(None)
    sigmas = [2.0, 2.0, 1.5, 1.5, 1.5, 1.0]
    for s in sigmas:
        led.record_step(sigma=s, q=0.1, sampling="poisson", epoch=0)
    ref = dp_rdp.RdpAccountant()
    for s in sigmas:
        ref.compose(dp_accounting.PoissonSampledDpEvent(0.1, dp_accounting.GaussianDpEvent(s)))
    assert [e.steps for e in led.events()] == [2, 3, 1]
    assert led.epsilon(1e-5, "rdp") == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)


def test_shuffled_steps_group_per_pass():
    led = PrivacyLedger(None)
    for epoch in range(3):
        for s in (1.2, 1.0, 1.1):
            led.record_step(sigma=s, q=1 / 3, sampling="shuffle", epoch=epoch)
    events = led.events()
    assert [(e.steps, e.noise_multiplier, e.sampling) for e in events] == [(3, 1.0, "shuffle")] * 3
    ref = dp_rdp.RdpAccountant()
    ref.compose(dp_accounting.GaussianDpEvent(0.5), 3)
    assert led.epsilon(1e-5, "rdp") == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)
