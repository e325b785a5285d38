"""End to end through the registry with every distribution installed (the ``tests`` session)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from armour_core import registry
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.testing.markers import skip_module_unless_dists

skip_module_unless_dists("attacks", "privacy", "fuzz")


def test_plugins_json_lists_the_first_algorithm_of_each_distribution():
    out = subprocess.run([sys.executable, "-m", "armour_core.cli", "plugins", "--json"], capture_output=True,
                         text=True, check=True).stdout
    rows = {(r["kind"], r["name"]): r["dist"] for r in json.loads(out)["plugins"]}
    assert rows[("attack", "fgsm")] == "armour-plugins-attacks"
    assert rows[("noise", "gaussian")] == "armour-plugins-privacy"
    assert rows[("coverage", "neuron")] == "armour-plugins-fuzz"
    assert rows[("mutator", "gaussian_blur")] == "armour-plugins-fuzz"


@pytest.fixture(scope="module")
def default_cnn():
    from armour_core.ms.pretrained import pretrained

    return pretrained("lenet5", "digits")


def test_fgsm_on_default_cnn_within_eps_and_bounds(default_cnn):
    model, data = default_cnn.model, default_cnn.dataset
    x, y = data.x_test, data.y_test
    eps = 0.1
    res = registry.create("attack", "fgsm", model=model, eps=eps).generate(x, y)
    adv = res.adversarial
    assert adv.shape == x.shape and adv.dtype == np.float32
    assert np.abs(adv.astype(np.float64) - x).max() <= eps * (1 + 1e-6)
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    clean = np.mean(model.predict(x) == y)
    adversarial = np.mean(res.predictions == y)
    assert clean > 0.9
    assert adversarial < clean - 0.3, (clean, adversarial)


@pytest.mark.parametrize("case,arg", [("nan", "x"), ("rank", "x"), ("labels", "y"), ("bounds", "x")])
def test_fgsm_bad_input(default_cnn, case, arg):
    model, data = default_cnn.model, default_cnn.dataset
    x, y = data.x_test[:8].copy(), data.y_test[:8].copy()
    atk = registry.create("attack", "fgsm", model=model, eps=0.1)
    if case == "nan":
        x[1, 0, 3, 3] = np.nan
    elif case == "rank":
        x = x[:, 0, 0, :]
    elif case == "labels":
        y[0] = 10
    elif case == "bounds":
        x[0] = 1.5
    with pytest.raises(InvalidInputError, match=rf"^{arg}"):
        atk.generate(x, y)


def test_fgsm_bad_config(default_cnn):
    with pytest.raises(ConfigError, match="eps"):
        registry.create("attack", "fgsm", model=default_cnn.model, eps=-0.1)
    with pytest.raises(ConfigError, match="stepz"):
        registry.create("attack", "fgsm", model=default_cnn.model, stepz=3)


def test_fuzz_and_privacy_plugins_end_to_end(default_cnn):
    model, data = default_cnn.model, default_cnn.dataset
    cov = registry.create("coverage", "neuron", model=model, threshold=0.25)
    cov.update(data.x_test[:20])
    first = cov.value
    mutated = registry.create("mutator", "gaussian_blur", seed=0).mutate(data.x_test[:20])
    cov.update(mutated)
    assert 0.0 < first <= cov.value <= 1.0
    noise = registry.create("noise", "gaussian", noise_multiplier=1.1, clip_norm=1.0, seed=0).sample((10_000,))
    assert abs(noise.std() - 1.1) < 6 * 1.1 / np.sqrt(2 * 10_000)


def test_demo_command_runs(capsys):
    from armour_core.cli import main

    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "clean accuracy" in out and "adversarial accuracy" in out
