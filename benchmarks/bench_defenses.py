"""PGD adversarial training: armour's `pad` vs MindArmour 2.0's ProjectedAdversarialDefense, one process.

Run: ``python benchmarks/bench_defenses.py [--rounds 3] [--n 1280]`` (needs ``mindarmour==2.0.0``, installed
for benchmarks only). Writes benchmarks/results/defenses.md.

Setting: the cached default LeNet5 on digits as the starting point, two epochs over ``n`` training digits,
batch 64, Adam lr 1e-3, L∞ PGD with eps 0.1, 5 steps of 0.025, replace_ratio 0.5 (MindArmour rejects 1.0).
Execution mode: PyNative with ``mindspore.runtime.launch_blocking()`` (applied by ``import armour_core.ms``),
CPU. armour compiles each batch's PGD and update into one ``mindspore.jit`` graph; MindArmour runs its
attack's gradient cell and ``TrainOneStepCell`` eagerly. Rounds are interleaved (each round trains a fresh
copy with every method); times are medians over rounds; the first epoch (with armour's compilation) and
the second (steady state) are reported apart.
Strength: accuracy of the trained networks on the 450 test digits, clean and under a compiled PGD-20
(eps 0.1, random start) — the same attack for both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("ARMOUR_CACHE_DIR", "/tmp/armour-cache")
os.environ.setdefault("ARMOUR_PROGRESS", "0")

import numpy as np  # noqa: E402

import armour_core.ms  # noqa: E402,F401
import mindspore as ms  # noqa: E402
from armour_core import registry  # noqa: E402
from armour_core.ms import pretrained as pt  # noqa: E402
from armour_core.ms.model import MSModel  # noqa: E402
from armour_plugins_attacks.defenses.inner import PGDProbe  # noqa: E402

EPS, STEP, STEPS, RATIO, LR, BATCH = 0.1, 0.025, 5, 0.5, 1e-3, 64


def fresh():
    pre = pt.pretrained("lenet5", "digits")
    net = pt.build("lenet5", pre.dataset, seed=0)
    ms.load_param_into_net(net, ms.load_checkpoint(pre.checkpoint), strict_load=True)
    return net, pre.dataset


def run_armour(x, y, name="pad", **cfg):
    """Two epochs; returns the network and the seconds of each (the first includes compilation)."""
    net, _ = fresh()
    d = registry.create("defense", name, network=net, learning_rate=LR, batch_size=BATCH, seed=0, epochs=2, **cfg)
    hist = d.fit(x, y)
    return net, [h.seconds for h in hist]


def run_mindarmour(x, y):
    from mindarmour.adv_robustness.defenses import ProjectedAdversarialDefense
    from mindspore import nn

    net, _ = fresh()
    net.set_train(True)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=False, reduction="mean")
    opt = nn.Adam(net.trainable_params(), learning_rate=LR)
    pad = ProjectedAdversarialDefense(net, loss_fn=loss, optimizer=opt, bounds=(0.0, 1.0), replace_ratio=RATIO,
                                      eps=EPS, eps_iter=STEP, nb_iter=STEPS, norm_level="inf")
    rng = np.random.default_rng(0)
    secs = []
    for _ in range(2):
        order = rng.permutation(len(x))
        t = time.perf_counter()
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            onehot = np.eye(10, dtype=np.float32)[y[idx]]
            pad.defense(x[idx].copy(), onehot)
        secs.append(time.perf_counter() - t)
    net.set_train(False)
    return net, secs


def strength(net, data):
    model = MSModel(net, bounds=(0.0, 1.0), num_classes=10, input_shape=data.input_shape)
    clean = float(np.mean(np.asarray(model.predict(data.x_test)) == data.y_test))
    res = PGDProbe(model=model, eps=EPS, steps=20, seed=123).generate(data.x_test, data.y_test)
    return clean, float(np.mean(res.predictions == data.y_test))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=1280)
    args = ap.parse_args(argv)
    _, data = fresh()
    x, y = data.x_train[:args.n], data.y_train[:args.n]
    methods = {
        "armour pad (compiled PGD+update per batch)": lambda: run_armour(
            x, y, "pad", eps=EPS, step_size=STEP, steps=STEPS, replace_ratio=RATIO),
        "MindArmour ProjectedAdversarialDefense": lambda: run_mindarmour(x, y),
        "plain training (armour, compiled CE step)": lambda: run_armour(x, y, "pad", replace_ratio=0.0),
    }
    first: dict[str, list[float]] = {k: [] for k in methods}
    steady: dict[str, list[float]] = {k: [] for k in methods}
    nets = {}
    for r in range(args.rounds):
        for name, fn in methods.items():
            net, secs = fn()
            first[name].append(secs[0])
            steady[name].append(secs[1])
            nets[name] = net
            print(f"round {r}: {name}: epochs {secs[0]:.2f} s, {secs[1]:.2f} s", flush=True)
    base = statistics.median(steady["plain training (armour, compiled CE step)"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for name in methods:
        med = statistics.median(steady[name])
        clean, robust = strength(nets[name], data)
        rows.append(f"| {name} | {statistics.median(first[name]):.2f} | {med:.2f} | {min(steady[name]):.2f} | "
                    f"{med / base:.1f}× | {clean:.3f} | {robust:.3f} |")
    start_clean, start_robust = strength(fresh()[0], data)
    text = "\n".join([
        "## Defenses: PGD adversarial training", "",
        f"Command: `python benchmarks/bench_defenses.py --rounds {args.rounds} --n {args.n}`. "
        "Execution mode: PyNative + launch_blocking, CPU (armour's step is one `mindspore.jit` graph per batch; "
        f"MindArmour eager). LeNet5 on digits from the cached default, {args.n} training points, batch {BATCH}, "
        f"Adam lr {LR}, L∞ PGD eps {EPS}, {STEPS} steps of {STEP}, replace_ratio {RATIO}. "
        "Each round trains a fresh copy for two epochs with every method; seconds are medians over rounds of "
        "the first epoch (armour's includes compilation) and of the second (steady state); the ratio is the "
        "second epoch's time over plain compiled training's. Accuracy after the two epochs on the 450 test "
        "digits, clean and under a "
        f"compiled PGD-20 (eps {EPS}, random start). Before training: clean {start_clean:.3f}, PGD-20 "
        f"{start_robust:.3f}. The machine was shared (1-minute load average {load:.1f} on {os.cpu_count()} "
        "cores at the end of the run), so absolute times are noisy; compare within a row of rounds.", "",
        "| method | epoch 1 s (median) | epoch 2 s (median) | epoch 2 s (min) | epoch 2 × plain training | "
        "clean acc | PGD-20 acc |",
        "|---|---|---|---|---|---|---|", *rows, ""])
    out = Path(__file__).parent / "results" / "defenses.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
