"""One-run privacy auditing in DPModel (Steinke, Nasr & Jagielski 2023): a mechanism with its noise secretly
cut 10x is caught, the real one never is, the bound grows with the number of canaries, and the audit is
recorded in (and verified from) the ledger, shown by ``armour audit`` and ``armour train-dp``. The bound
itself is checked in test_dp_canaries_bound.py."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from armour_core.errors import InvalidInputError
from armour_plugins_privacy.dp.canaries import PrivacyAuditWarning, guess_grid, ledger_audits

ms = pytest.importorskip("mindspore")

import armour_core.ms  # noqa: E402,F401
from mindspore import nn  # noqa: E402

from armour_core.builtin.models import MLP  # noqa: E402
from armour_plugins_privacy.dp.ledger import LedgerError, PrivacyLedger  # noqa: E402
from armour_plugins_privacy.dp.model import DPModel  # noqa: E402

N = 100


def _data(seed: int, learnable: bool = False):
    rng = np.random.default_rng(seed)
    x = rng.random((N, 1, 8, 8)).astype(np.float32)
    y = x.reshape(N, -1)[:, :10].argmax(1) if learnable else rng.integers(0, 10, N)
    return x, y.astype(np.int32)


def _audited(canaries, *, sigma=3.0, batch=20, epochs=4, seed=0, broken=None, hidden=32, lr=0.1, ledger=None,
             kind="gradient", learnable=False):
    """A tiny MLP trained with DP-SGD (RDP accountant) and ``canaries``; ``broken`` scales the noise behind
    the accountant's back (the ledger still records the noise multiplier ``sigma``)."""
    x, y = _data(seed, learnable)
    ms.set_seed(seed)
    net = MLP(input_shape=(1, 8, 8), hidden=hidden)
    model = DPModel(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                    nn.SGD(net.trainable_params(), lr), noise_multiplier=sigma, clip_norm=1.0, batch_size=batch,
                    accountant="rdp", seed=seed, ledger=ledger, audit_canaries=canaries, audit_kind=kind)
    if broken is not None:
        honest = model.noise.sample

        def cut(*args, **kwargs):
            return honest(*args, **kwargs) * broken

        model.noise.sample = cut  # the bug under test: only in this test, never a product option
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.train(epochs, (x, y), progress=False)
    return model, [w for w in caught if issubclass(w.category, PrivacyAuditWarning)]


def test_broken_mechanism_is_caught_and_recorded(tmp_path):
    """Noise cut 10x behind the accountant's back: white-box canaries prove ε above the claimed ε."""
    path = tmp_path / "broken.ledger"
    model, warned = _audited(512, broken=0.1, ledger=path)
    audit = model.privacy_audit
    assert audit.claimed_epsilon == pytest.approx(model.epsilon(), rel=1e-12) and audit.claimed_epsilon < 2
    assert audit.epsilon_lower > audit.claimed_epsilon and audit.violated
    assert warned and "PRIVACY AUDIT FAILED" in str(warned[0].message)
    led = PrivacyLedger.read(path)  # verified, the bound recomputed from the recorded counts
    (rec,) = led.audits
    assert rec["epsilon_lower"] == audit.epsilon_lower and rec["steps"] == led.num_steps == 20
    assert rec["canaries"] == 512 and rec["kind"] == "gradient" and rec["seed"] == 0
    (again,) = ledger_audits(led, "rdp")
    assert again.violated and again.claimed_epsilon == pytest.approx(audit.claimed_epsilon, rel=1e-12)
    from armour_plugins_privacy.dp.ledger import _main

    assert _main(["verify", str(path)]) == 1  # the ledger's own verifier fails it too


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_real_mechanism_never_exceeds_its_claim(seed):
    """The same setting with the noise the accountant charges: the bound stays below ε (at 95% confidence a
    correct implementation exceeds it in at most 5% of runs; these seeds are fixed)."""
    model, warned = _audited(512, seed=seed)
    audit = model.privacy_audit
    assert 0 <= audit.epsilon_lower <= audit.claimed_epsilon and not audit.violated and not warned
    assert audit.guesses == audit.k_pos + audit.k_neg and audit.choices == len(guess_grid(512))


def test_bound_grows_with_the_number_of_canaries():
    """A strong-signal run (σ = 0.5, q = 0.5, 20 steps; claimed ε far above what m guesses can show): the
    bound grows with m, as in the paper's figure, and stays below the claim."""
    bounds = []
    for m in (16, 64, 256, 1024):
        model, _ = _audited(m, sigma=0.5, batch=50, epochs=10)
        audit = model.privacy_audit
        assert audit.epsilon_lower < audit.claimed_epsilon
        bounds.append(audit.epsilon_lower)
    assert bounds == sorted(bounds) and bounds[0] < bounds[-1] - 2.0, bounds


def test_audit_is_reproducible_from_its_seed():
    first, _ = _audited(64, seed=5)
    second, _ = _audited(64, seed=5)
    assert first.privacy_audit == second.privacy_audit
    assert np.array_equal(first.canaries.included, second.canaries.included)
    assert first.canaries.included.sum() not in (0, 64)


def test_input_canaries_memorised_without_noise_and_sampled_in_a_fixed_frame(tmp_path):
    """Black-box mislabelled canaries: every canary is in the sampling frame (q = batch / N whatever the
    inclusion bits), excluded ones never reach a batch, and a memorising run shows membership; with DP-SGD's
    real noise the bound stays below the claim."""
    path = tmp_path / "input.ledger"
    model, _ = _audited(64, kind="input", sigma=0.5, batch=64, epochs=30, hidden=128, lr=2.0, learnable=True,
                        ledger=path, broken=0.01)
    audit = model.privacy_audit
    assert audit.kind == "input" and audit.epsilon_lower > 0.5  # the canaries' labels were learned
    led = PrivacyLedger.read(path)
    assert {s["q"] for s in led.steps} == {64 / N}  # the frame: N - 64 data points + all 64 canaries
    honest, _ = _audited(64, kind="input", sigma=0.5, batch=64, epochs=30, hidden=128, lr=2.0, learnable=True)
    assert honest.privacy_audit.epsilon_lower <= honest.privacy_audit.claimed_epsilon
    assert len(honest.canaries.canary_x) == 64 and honest.canaries._taken is not None


def test_ledger_refuses_an_audit_record_whose_bound_its_counts_do_not_give(tmp_path, monkeypatch):
    path = tmp_path / "run.ledger"
    model, _ = _audited(64, ledger=path)
    rec = {k: v for k, v in PrivacyLedger.read(path).audits[0].items() if k not in ("type", "prev", "time")}
    writer = PrivacyLedger(path)
    with pytest.raises(LedgerError, match="epsilon_lower"):
        writer.record_audit(**{**rec, "epsilon_lower": rec["epsilon_lower"] + 1.0})  # checked before writing
    with pytest.raises(LedgerError, match="names 999 steps"):
        writer.record_audit(**{**rec, "steps": 999})
    from armour_plugins_privacy.dp import canaries

    monkeypatch.setattr(canaries, "check_record", lambda rec: None)  # a writer without the check
    writer.record_audit(**{**rec, "epsilon_lower": rec["epsilon_lower"] + 2.0})
    writer.close()
    monkeypatch.undo()
    with pytest.raises(LedgerError, match=r"line \d+: audit record: its epsilon_lower"):
        PrivacyLedger.read(path)


def test_audit_refuses_what_it_cannot_audit_before_anything_is_recorded(tmp_path):
    net = MLP(input_shape=(1, 8, 8), hidden=8)  # 610 parameters

    def model(**kw):
        return DPModel(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                       nn.SGD(net.trainable_params(), 0.1), noise_multiplier=1.0, clip_norm=1.0, batch_size=10,
                       ledger=tmp_path / "l", **kw)

    with pytest.raises(InvalidInputError, match="sampling='poisson'"):
        model(sampling="shuffle", audit_canaries=16)
    with pytest.raises(InvalidInputError, match="canaries=1000: .* the network has 610"):
        model(audit_canaries=1000)
    with pytest.raises(InvalidInputError, match="canary pool has only 100"):
        model(audit_canaries=100, audit_kind="input").train(1, _data(0), progress=False)
    x, y = _data(0)

    class Rows:  # a random-access source: input canaries would have to be appended to it
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return x[i], y[i]

    with pytest.raises(InvalidInputError, match="train_dataset: input canaries .* random-access source"):
        model(audit_canaries=8, audit_kind="input").train(1, Rows(), progress=False)
    assert not (tmp_path / "l").exists()


def test_audit_is_refused_in_data_parallel_training(tmp_path, monkeypatch, capsys):
    """Canaries must enter once, on the rank that adds the noise: not supported yet, so refused up front."""
    from armour_core.cli import main
    from armour_core.errors import ConfigError
    from armour_plugins_privacy.dp import distributed

    monkeypatch.setattr(distributed, "attach", lambda model: object())  # as if msrun had started this rank
    net = MLP(input_shape=(1, 8, 8), hidden=8)
    with pytest.raises(ConfigError, match="audit_canaries: the one-run audit is not supported in data-parallel"):
        DPModel(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                nn.SGD(net.trainable_params(), 0.1), noise_multiplier=1.0, clip_norm=1.0, batch_size=10,
                ledger=tmp_path / "l", audit_canaries=16)
    assert not (tmp_path / "l").exists()
    assert main(["train-dp", "--model", "mlp", "--workers", "2", "--audit-canaries", "16", "--plot", ""]) == 2
    assert "--audit-canaries: the one-run audit runs in one process only" in capsys.readouterr().err


# ---------------------------------------------------------------------- armour audit --ledger and train-dp
def test_audit_section_shows_both_and_fails_a_violated_audit(tmp_path):
    from armour_core.audit.context import AuditContext
    from armour_core.ms import pretrained as pt
    from armour_plugins_privacy.audit_section import privacy_section

    pre = pt.pretrained("lenet5", "digits")
    d = pre.dataset

    def section(path):
        return privacy_section(AuditContext(
            model=pre.model, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
            num_classes=d.num_classes, bounds=d.bounds, profile="quick", seed=0, out_dir=tmp_path,
            settings={"attacks": ["loss_threshold"], "n": 40}, ledger=str(path)))

    _audited(512, broken=0.1, ledger=tmp_path / "broken.ledger")
    _audited(512, ledger=tmp_path / "honest.ledger")
    bad, good = section(tmp_path / "broken.ledger"), section(tmp_path / "honest.ledger")
    assert bad.verdict == "fail" and "AUDIT FAILED" in bad.headline
    assert any(w.startswith("PRIVACY AUDIT FAILED") for w in bad.warnings)
    assert "empirical ε ≥" in good.headline and "claimed" in good.headline and "AUDIT FAILED" not in good.headline
    (info,) = good.metrics["ledger"]["audits"]
    assert info["epsilon_lower"] <= info["claimed_epsilon"] == pytest.approx(good.metrics["ledger"]["epsilon"])
    assert "Privacy audit in the training run" in good.html


def test_train_dp_cli_audits_the_run(tmp_path, capsys):
    from armour_core.cli import main

    out = tmp_path / "dp.json"
    code = main(["train-dp", "--model", "mlp", "--epochs", "1", "--batch-size", "256", "--target-epsilon", "2",
                 "--accountant", "rdp", "--plot", "", "--json", str(out), "--audit-canaries", "256"])
    text = capsys.readouterr().out
    assert code == 0 and "one-run privacy audit, 256 gradient canaries" in text and "claimed epsilon" in text
    audit = json.loads(out.read_text())["audit"]
    assert audit["canaries"] == 256 and not audit["violated"] and audit["epsilon_lower"] <= audit["claimed_epsilon"]
