"""Issue 9 (trust): the model runtime, across distributions.

* 7: the README's Python blocks run verbatim, on a network that has never been called;
* 8: a wrong input shape is one armour error naming the expected and the actual shape, with no MindSpore
  dump on stderr and no compile artefacts (``rank_0/om/analyze_fail.ir``) in the working directory;
* 11: a normal run prints no MindSpore "compiled again" / deprecation lines;
* 18: every detector, model-driven mutator and coverage metric leaves a network in training mode (BatchNorm +
  Dropout) bit-identical (flags, parameters, moving statistics) and gives the eval-mode result. Attacks are
  covered per attack in ``armour_plugins_attacks/tests/test_trust_attacks_runtime.py``; defenses are not
  checked here: adversarial training trains the network on purpose.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from armour_core import registry
from armour_core.testing.checks import check_untouched, network_state
from armour_core.testing.markers import requires_dists, requires_mindspore

pytestmark = requires_mindspore

README = Path(__file__).resolve().parents[1] / "README.md"
CLASSES = 5


def make_net(seed: int, *, train: bool):
    """A never-called conv classifier for (1, 8, 8) inputs whose BatchNorm and Dropout behave differently in
    training mode (moving statistics away from their (0, 1) defaults)."""
    import mindspore as ms
    from mindspore import nn

    ms.set_seed(seed)
    net = nn.SequentialCell([nn.Conv2d(1, 4, 3, pad_mode="same"), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.Dropout(p=0.5), nn.Flatten(), nn.Dense(4 * 8 * 8, CLASSES)])
    rng = np.random.default_rng(seed)
    for p in net.get_parameters():
        if "moving_variance" in p.name or "gamma" in p.name:
            p.set_data(ms.Tensor(rng.uniform(0.5, 2.0, p.shape).astype(np.float32)))
        else:
            p.set_data(ms.Tensor(rng.normal(0.0, 0.5, p.shape).astype(np.float32)))
    net.set_train(train)
    return net


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    return rng.uniform(0.0, 1.0, (24, 1, 8, 8)).astype(np.float32), rng.integers(0, CLASSES, 24)


# --------------------------------------------------------------------------------------------- item 18
DETECTOR_CONFIG = {"magnet_error": {"epochs": 2}, "magnet_divergence": {"epochs": 2},
                   "region_based": {"samples": 10, "search_steps": 2, "search_inputs": 16},
                   "similarity": {"k": 3, "buffer_size": 50},
                   "ensemble": {"members": ["spatial_smoothing", "feature_squeezing"]}}
COVERAGE_CONFIG = {"lsa": {"buckets": 20}, "dsa": {"buckets": 20}, "top_k": {"k": 2}, "k_multisection": {"k": 4}}


def _detector(name, net, x, y):
    det = registry.create("detector", name, model=net, **DETECTOR_CONFIG.get(name, {}))
    det.fit(x, y)
    return det.score(x)


def _mutator(name, net, x, y):
    from armour_plugins_fuzz.mutators.resolve import create_mutator

    return np.asarray(create_mutator(name, model=net, seed=1).mutate(x))


def _coverage(name, net, x, y):
    cov = registry.create("coverage", name, model=net, **COVERAGE_CONFIG.get(name, {}))
    if cov.needs_profile:
        cov.fit(x, y)
    cov.update(x[:8])
    return np.array([cov.value])


def _cases():
    cases = [("detector", n, _detector) for n in registry.names("detector")]
    if "mutator" in registry.kinds():
        cases += [("mutator", n, _mutator) for n in registry.names("mutator")
                  if registry.spec("mutator", n).capabilities]  # the ones that run the network
    cases += [("coverage", n, _coverage) for n in registry.names("coverage")]
    return cases


@requires_dists("attacks", "fuzz")
@pytest.mark.parametrize(("kind", "name", "run"), _cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_network_in_training_mode_is_run_in_inference_mode_and_left_untouched(kind, name, run, images):
    x, y = images
    net = make_net(0, train=True)
    before = network_state(net)
    got = run(name, net, x, y)
    check_untouched(net, before)
    expected = run(name, make_net(0, train=False), x, y)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------- item 7
def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@requires_dists("attacks")  # the README attacks with fgsm
def test_readme_python_blocks_run_verbatim():
    blocks = readme_blocks()
    assert blocks and "generate(x, y)" in blocks[0]
    namespace: dict = {}
    for block in blocks:  # one namespace, in order, as a reader would paste them
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    res = namespace["res"]
    x = namespace["x"]
    assert res.adversarial.shape == x.shape
    assert np.abs(res.adversarial - x).max() <= 0.1 + 1e-6


# --------------------------------------------------------------------------------------------- items 8 and 11
#: how the user script makes its attacks: the registered ones (pgd, deepfool, apgd, fgsm; the ``tests`` session),
#: or one in-script attack on the runtime's compiled input gradient (the ``core-ms`` session: the shape error and
#: the quiet log are the runtime's, so core tests them without a plugin)
_ATTACKS = {
    "plugins": textwrap.dedent("""
        from armour_core import registry

        ATTACKS = (("pgd", {"steps": 2}), ("deepfool", {"steps": 2}), ("apgd", {"steps": 2}), ("fgsm", {}))

        def attack(name, model, **cfg):
            return registry.create("attack", name, model=model, **cfg)
    """),
    "core": textwrap.dedent("""
        from armour_core.testing.attacks import SignStep

        ATTACKS = (("sign", {}), ("sign", {"eps": 0.2}), ("sign", {}))

        def attack(name, model, **cfg):
            return SignStep(model=model, **cfg)
    """),
}

_USER_SCRIPT = textwrap.dedent("""
    import mindspore as ms                       # the user imports MindSpore first (its default log level)
    import numpy as np
    from mindspore import nn

    from armour_core.errors import InvalidInputError
    from armour_core.ms.train import train_classifier
    #ATTACKS#

    def net():
        return nn.SequentialCell([nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Dense(4 * 8 * 8, 4)])

    rng = np.random.default_rng(0)
    x = rng.random((16, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 4, 16)
    for i in range(2):                           # two networks trained and attacked by the same code
        n = net()
        train_classifier(n, x, y, epochs=1, batch_size=8, progress=False)
        for name, cfg in ATTACKS[:3]:
            attack(name, n, **cfg).generate(x[:4], y[:4])
    wrong = np.zeros((4, 3, 8, 8), np.float32)
    for label, model in (("after", n), ("never", net())):
        try:
            attack(ATTACKS[-1][0], model, eps=0.1).generate(wrong, y[:4])
        except InvalidInputError as exc:
            print(label, "InvalidInputError", exc)
""")


@pytest.fixture(scope="module", params=["core", pytest.param("plugins", marks=requires_dists("attacks"))])
def user_run(request, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("user_cwd")
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("GLOG_v", "MS_OM_PATH")}
    script = _USER_SCRIPT.replace("#ATTACKS#", _ATTACKS[request.param])
    proc = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=600)
    return proc, cwd


def test_wrong_shape_is_one_armour_error_with_both_shapes(user_run):
    proc, _ = user_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = {ln.split(" ", 1)[0]: ln for ln in proc.stdout.splitlines()}
    after, never = lines.get("after", ""), lines.get("never", "")
    # learned from the batches that ran
    assert "InvalidInputError x:" in after and "(3, 8, 8)" in after and "(1, 8, 8)" in after, after
    # a never-called network: from its first layer (Conv2d with in_channels=1)
    assert "InvalidInputError x:" in never and "(3, 8, 8)" in never and "in_channels=1" in never, never


def test_no_mindspore_noise_and_no_files_in_working_directory(user_run):
    proc, cwd = user_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in cwd.iterdir()) == [], "files left in the working directory"
    noise = [ln for ln in proc.stderr.splitlines()
             if re.search(r"compiled again|deprecated|\[ERROR\]|analyze_fail|Traceback|C\+\+ Call Stack", ln)]
    assert noise == [], "\n".join(noise[:10])
