"""RMIA vs LiRA with the same few reference models (issue 12, section 2): TPR at 0.1% and 1% FPR and ROC AUC
on the overfit digits MLP and on the default CNN (LeNet5 on digits), at 2 and 4 reference models, over
seeds; and both attacks on a DP-SGD (DPModel) target at small ε.

Run: ``python benchmarks/bench_rmia_vs_lira.py [--seeds 5] [--n 300]``. Writes
benchmarks/results/rmia_vs_lira.md.

Setting, per seed s: the 1797 digits are shuffled with s; the target trains on n members (Adam, lr 1e-3,
batch 64, ``--epochs``: it overfits); n other digits are the non-members, and the next ``--population``
digits are the attacker's population (RMIA's z, and with the queries the pool the reference models train
on). Both attacks are online and use the same shadow models (shared cache: RMIA trains none), built like
the target, with the attack seed s. RMIA: the paper's γ = 2 and softmax Pr(x | θ). LiRA: global variance
(the paper's choice below 64 shadows). With n non-members, TPR at FPR α < 1/n is the TPR at FPR 0.

DP row: the MLP trained by DPModel (σ = ``--dp-noise``, clip 1, SGD lr 0.5, batch 32, 4 epochs, PLD
accountant, δ = 1e-5); shadows trained like the non-DP recipe with 4 epochs. "Near chance": |AUC − 0.5| below
3 standard deviations of the AUC under the null, sqrt((2n + 1) / (12 n²)).
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
from armour_core import registry  # noqa: E402
from armour_core.atomic import atomic_write_text  # noqa: E402
from armour_core.ms.model import MSModel  # noqa: E402
from armour_core.ms.seeding import seeded  # noqa: E402
from armour_core.ms.train import train_classifier  # noqa: E402

FPRS = (0.001, 0.01)
MODE = ("Execution mode: PyNative with launch_blocking (set by `import armour_core.ms`), CPU; shadows and targets "
        "train with `train_classifier`'s compiled (jit) step.")


def split(seed: int, n: int, population: int):
    d = registry.create("dataset", "digits")
    x = np.concatenate([d.x_train, d.x_test])
    y = np.concatenate([d.y_train, d.y_test])
    p = np.random.default_rng(seed).permutation(len(x))
    x, y = x[p], y[p]
    return (x[:n], y[:n]), (x[n:2 * n], y[n:2 * n]), (x[2 * n:2 * n + population], y[2 * n:2 * n + population])


def target(arch: str, xm, ym, epochs: int, seed: int) -> MSModel:
    with seeded(1000 + seed):
        net = registry.create("model", arch, input_shape=(1, 8, 8), num_classes=10)
    train_classifier(net, xm, ym, epochs=epochs, batch_size=64, seed=1000 + seed)
    return MSModel(net, num_classes=10, input_shape=(1, 8, 8))


def attack_both(model, arch, data, shadows: int, epochs: int, seed: int):
    (xm, ym), (xn, yn), (xp, yp) = data
    kw = dict(shadows=shadows, architecture=arch, epochs=epochs, batch_size=64, seed=seed)
    out = {}
    for name in ("lira", "rmia"):
        atk = registry.create("inference", name, model=model, **kw).set_population(xp, yp)
        out[name] = atk.evaluate(xm, ym, xn, yn)
    return out


def fmt(values) -> str:
    m = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:.3f} ± {sd:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--n", type=int, default=300, help="members and non-members, each")
    ap.add_argument("--population", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=80, help="target and shadow epochs (non-DP)")
    ap.add_argument("--models", default="mlp,lenet5")
    ap.add_argument("--refs", default="2,4")
    ap.add_argument("--dp-noise", type=float, default=4.0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "rmia_vs_lira.md"))
    args = ap.parse_args()
    t_start = time.perf_counter()
    refs = [int(k) for k in args.refs.split(",")]
    rows = []
    for arch in args.models.split(","):
        res = {(k, a): [] for k in refs for a in ("lira", "rmia")}
        for seed in range(args.seeds):
            data = split(seed, args.n, args.population)
            model = target(arch, *data[0], args.epochs, seed)
            for k in refs:
                for name, rep in attack_both(model, arch, data, k, args.epochs, seed).items():
                    res[(k, name)].append(rep)
                last = {a: res[(k, a)][-1].tpr_at_fpr for a in ("lira", "rmia")}
                print(f"{arch} seed {seed} k={k}: " + "  ".join(
                    f"{a} TPR@0.1% {t[0.001]:.3f} TPR@1% {t[0.01]:.3f}" for a, t in last.items()), flush=True)
        for k in refs:
            lira, rmia = res[(k, "lira")], res[(k, "rmia")]
            wins = {a: sum(r.tpr_at_fpr[a] >= lr.tpr_at_fpr[a] for r, lr in zip(rmia, lira)) for a in FPRS}
            for name, reps in (("LiRA", lira), ("RMIA", rmia)):
                cells = [fmt([r.tpr_at_fpr[a] for r in reps]) for a in FPRS] + [fmt([r.auc for r in reps])]
                verdict = (f"{wins[0.001]}/{len(rmia)}, {wins[0.01]}/{len(rmia)}" if name == "RMIA" else "")
                rows.append(f"| {arch} | {k} | {name} | " + " | ".join(cells) + f" | {verdict} |")

    # DP target at small epsilon
    from armour_plugins_privacy.dp.audit import dp_train_fn

    fn = dp_train_fn("mlp", input_shape=(1, 8, 8), num_classes=10, epochs=4, batch_size=32,
                     noise_multiplier=args.dp_noise, learning_rate=0.5)
    tol = 3 * np.sqrt((2 * args.n + 1) / (12 * args.n ** 2))
    dp_rows = []
    for seed in range(args.seeds):
        data = split(seed, args.n, args.population)
        net, eps = fn(*data[0], seed)
        reps = attack_both(MSModel(net, num_classes=10, input_shape=(1, 8, 8)), "mlp", data, 4, 4, seed)
        dp_rows.append((eps, reps["lira"].auc, reps["rmia"].auc))
        print(f"DP seed {seed}: eps {eps:.2f}  AUC lira {reps['lira'].auc:.3f} rmia {reps['rmia'].auc:.3f}", flush=True)
    near = {i: sum(abs(r[i] - 0.5) < tol for r in dp_rows) for i in (1, 2)}

    load = os.getloadavg()[0]
    lines = ["## RMIA vs LiRA with the same reference models", "", MODE, "",
             f"Command: `python benchmarks/bench_rmia_vs_lira.py --seeds {args.seeds} --n {args.n} --population "
             f"{args.population} --epochs {args.epochs} --models {args.models} --refs {args.refs}`. Digits, "
             f"{args.n} members / {args.n} non-members / {args.population} population per seed; targets and "
             f"shadows {args.epochs} epochs (Adam, batch 64); both attacks online on the same shadows. Mean ± "
             f"standard deviation over {args.seeds} seeds (data split, target and shadows all change with the "
             "seed). Last column: seeds on which RMIA's TPR is at least LiRA's (at 0.1%, at 1% FPR). "
             f"With {args.n} non-members, TPR@0.1%FPR is the TPR at FPR 0.", "",
             "| model | reference models | attack | TPR@0.1%FPR | TPR@1%FPR | ROC AUC | RMIA >= LiRA (seeds) |",
             "|---|---|---|---|---|---|---|", *rows, "",
             f"DPModel target (MLP, σ = {args.dp_noise}, 4 epochs, δ = 1e-5): ε = "
             f"{fmt([r[0] for r in dp_rows])}; AUC LiRA {fmt([r[1] for r in dp_rows])}, RMIA "
             f"{fmt([r[2] for r in dp_rows])} (4 reference models). Near chance (|AUC − 0.5| < {tol:.3f}, 3 null "
             f"standard deviations): LiRA {near[1]}/{len(dp_rows)} seeds, RMIA {near[2]}/{len(dp_rows)} seeds.", "",
             f"Total time {time.perf_counter() - t_start:.0f} s; 1-minute load average at the end {load:.1f} "
             "(the 1-minute load average, see above)."]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
