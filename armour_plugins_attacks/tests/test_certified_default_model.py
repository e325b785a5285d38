"""Randomized smoothing on the embedded default (LeNet5 on digits): the certificate is never beaten by a strong
L2 attack on the smoothed classifier, Gaussian-noise training helps the smoothed classifier, and ``armour
certify`` and the audit section report certified accuracy against radius."""

from __future__ import annotations

import json

import numpy as np
import pytest

ms = pytest.importorskip("mindspore")

from armour_core import registry  # noqa: E402
from armour_plugins_attacks.certified.base import ABSTAIN  # noqa: E402
from armour_plugins_attacks.certified.smoothed import smoothed_model  # noqa: E402

SIGMA = 0.25


@pytest.fixture(scope="module")
def points(armour_digits):
    return armour_digits.x_test[:60], armour_digits.y_test[:60]


def test_certified_accuracy_never_exceeds_robust_accuracy_under_pgd_l2(armour_lenet, points):
    """For each radius r: PGD-L2 (registry, 20 steps) on a Monte-Carlo smoothed copy of the model (32 fixed noise
    draws, SmoothAdv), judged by the smoothed classifier's PREDICT with fresh noise. No point certified at r with
    its label is shown misclassified at its attacked point (PREDICT answers its label or abstains), so certified
    accuracy ≤ robust accuracy, also when abstentions count as errors; the attack does break uncertified points."""
    x, y = points
    certifier = registry.create("certifier", "randomized_smoothing", model=armour_lenet, sigma=SIGMA, n0=100,
                                n=2000, alpha=0.001, seed=0)
    cert = certifier.certify(x)
    clean = certifier.predict(x)
    surrogate = smoothed_model(armour_lenet, sigma=SIGMA, draws=32, seed=1)
    for r in (0.25, 0.5):
        attack = registry.create("attack", "pgd", model=surrogate, norm="l2", eps=r, steps=20, seed=0)
        adv = np.asarray(attack.generate(x, y).adversarial)
        assert np.all(np.linalg.norm((adv - x).reshape(len(x), -1), axis=1) <= r + 1e-4)
        judged = certifier.predict(adv)
        broken = (judged.labels != y) & (judged.labels != ABSTAIN)
        certified = (cert.labels == y) & (cert.radii >= r)
        assert not np.any(certified & broken), np.flatnonzero(certified & broken)
        certified_acc = cert.certified_accuracy(y, [r])[0]
        assert certified_acc == pytest.approx(certified.mean())
        assert certified_acc <= 1 - broken.mean()
        assert certified_acc <= np.mean(judged.labels == y)  # abstentions counted as errors
        assert np.mean(judged.labels == y) < np.mean(clean.labels == y) - 0.1, "the attack broke nothing"
    assert cert.certified_accuracy(y, [0.25])[0] > 0.3  # the check is not vacuous


def test_noise_training_makes_the_smoothed_classifier_more_accurate(armour_digits):
    """Gaussian augmentation at σ = 0.5 (Cohen et al. §4) beats plain training of the same network, seed and
    epochs, for the smoothed classifier's certified accuracy at σ = 0.5."""
    from armour_core.ms import pretrained as pt
    from armour_core.ms.model import MSModel
    from armour_core.ms.train import train_classifier
    from armour_plugins_attacks.certified.training import train_with_noise

    d = armour_digits
    plain, noisy = pt.build("lenet5", d, seed=3), pt.build("lenet5", d, seed=3)
    train_classifier(plain, d.x_train, d.y_train, epochs=8, seed=3)
    train_with_noise(noisy, d.x_train, d.y_train, sigma=0.5, epochs=8, seed=3)
    acc = {}
    for name, net in (("plain", plain), ("noisy", noisy)):
        model = MSModel(net, bounds=d.bounds, num_classes=d.num_classes, input_shape=d.input_shape)
        cert = registry.create("certifier", "smoothing", model=model, sigma=0.5, n=500, seed=0).certify(d.x_test[:150])
        acc[name] = cert.certified_accuracy(d.y_test[:150], [0.0, 0.25])
    assert np.all(acc["noisy"] > acc["plain"] + 0.05), acc


def test_train_with_noise_names_bad_arguments(armour_digits):
    from armour_core.errors import InvalidInputError
    from armour_core.ms import pretrained as pt
    from armour_plugins_attacks.certified.training import train_with_noise

    net = pt.build("mlp", armour_digits, seed=0)
    for kwargs, name in (({"sigma": 0.0}, "sigma"), ({"sigma": 0.1, "epochs": 0}, "epochs")):
        with pytest.raises(InvalidInputError, match=name):
            train_with_noise(net, armour_digits.x_train, armour_digits.y_train, **kwargs)


def test_certify_command(tmp_path, capsys):
    from armour_core.cli import main

    out = tmp_path / "cert"
    assert main(["certify", "--n", "40", "--samples", "400", "--radii", "0,0.25,0.5", "--train-epochs", "1",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    data = json.loads((out / "certify.json").read_text())
    assert data["radii"] == [0.0, 0.25, 0.5] and data["n_points"] == 40 and data["n"] == 400
    acc = data["certified_accuracy"]
    assert acc[0] >= acc[1] >= acc[2] and 0 <= data["abstain_rate"] <= 1
    assert f"radius 0.25   certified accuracy {acc[1]:.3f}" in text and "abstain rate" in text
    assert (out / "noise_trained.ckpt").is_file() and "<img" in (out / "certify.html").read_text()
    assert main(["certify", "--radii", "0,-1", "--out", str(out)]) == 2
    assert "--radii" in capsys.readouterr().err


def test_audit_section_in_standard_profile_and_skipped_in_quick(tmp_path):
    from armour_core.audit.context import AuditContext
    from armour_core.audit.runner import run_audit
    from armour_core.audit.schema import validate
    from armour_core.ms import pretrained as pt
    from armour_core.testing.audit import SMALL

    pre = pt.pretrained("lenet5", "digits")
    d = pre.dataset
    reports = {}
    for profile in ("quick", "standard"):
        ctx = AuditContext(model=pre.model, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
                           num_classes=d.num_classes, bounds=d.bounds, profile=profile, seed=0,
                           out_dir=tmp_path / profile, model_name="lenet5", dataset_name="digits")
        small = {**SMALL, "robustness": {**SMALL["robustness"], "attacks": ["fgsm"]},
                 "certified": {"n_points": 30, "n": 300}}
        html, _, reports[profile] = run_audit(ctx, progress=False, overrides=small)
        validate(reports[profile])
    assert reports["quick"]["sections"]["certified"]["verdict"] == "skipped"
    sec = reports["standard"]["sections"]["certified"]
    assert sec["verdict"] in ("pass", "warn", "fail") and sec["metrics"]["n_points"] == 30
    assert sec["metrics"]["radii"] == [0.0, 0.1, 0.25, 0.4, 0.5]
    assert "certified accuracy vs L2 radius" in html.read_text()
