"""Membership inference: armour's attacks vs MindArmour 2.0's ``MembershipInference``, one process.

Run: ``python benchmarks/bench_membership.py [--rounds 3]`` (needs ``mindarmour==2.0.0``, installed for
benchmarks only). Writes benchmarks/results/membership.md.

Setting: a digits MLP (64-128-10) trained with Adam (lr 1e-3, batch 64, 80 epochs) on 300 digits, which
overfits (train accuracy 1.0). Non-members: 300 other digits; the attacker's population: 300 more.
Attacks that learn are fitted on the first half of the members and non-members and every attack is
evaluated on the second half (150 + 150). MindArmour's attack models are its own ``GridSearchCV`` objects
(reached through ``_attack_list``) scored on its own features with ``predict_proba`` (``predict`` for its
``mlp``, which is a regressor) so ROC AUC and TPR at low FPR can be computed for it too; its
precision/recall/accuracy come from its ``eval``. LiRA: online, 8 shadows, same recipe as the target;
timed with the shadow cache off (training included) and on (loading; the cache is warmed before the
rounds).
Execution mode: PyNative with ``mindspore.runtime.launch_blocking()`` (applied by ``import armour_core.ms``),
CPU; shadow training uses ``train_classifier``'s compiled step. Rounds are interleaved; times are medians.
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
from armour_core.api.inference import membership_metrics  # noqa: E402
from armour_core.atomic import atomic_write_text  # noqa: E402
from armour_core.ms.model import MSModel  # noqa: E402
from armour_core.ms.train import train_classifier  # noqa: E402

N, EPOCHS, BATCH = 300, 80, 64
GRIDS = {"lr": {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}, "knn": {"n_neighbors": [3, 5, 9, 15, 25]},
         "mlp": {"hidden_layer_sizes": [(32,), (64, 32)], "alpha": [1e-4, 1e-2]},
         "rf": {"n_estimators": [100], "max_depth": [None, 8], "min_samples_leaf": [1, 5]}}


def data():
    d = registry.create("dataset", "digits")
    x = np.concatenate([d.x_train, d.x_test])
    y = np.concatenate([d.y_train, d.y_test])
    p = np.random.default_rng(0).permutation(len(x))
    x, y = x[p], y[p]
    return (x[:N], y[:N]), (x[N:2 * N], y[N:2 * N]), (x[2 * N:3 * N], y[2 * N:3 * N])


def target(members):
    ms.set_seed(1)
    net = registry.create("model", "mlp", input_shape=(1, 8, 8), num_classes=10)
    train_classifier(net, *members, epochs=EPOCHS, batch_size=BATCH, seed=1)
    net.set_train(False)
    return net


def mindarmour_run(net, fit, ev, method):
    """MindArmour's train + eval; returns (metrics, seconds)."""
    import mindspore.dataset as mds
    from mindarmour.privacy.evaluation import MembershipInference

    def ds(x, y):
        return mds.NumpySlicesDataset({"x": x, "y": y.astype(np.int32)}, shuffle=False).batch(64)

    (fm, fn), (em, en) = fit, ev
    t0 = time.perf_counter()
    mia = MembershipInference(ms.train.Model(net), n_jobs=1)
    mia.train(ds(*fm), ds(*fn), [{"method": method, "params": GRIDS[method]}])
    result = mia.eval(ds(*em), ds(*en), ["precision", "accuracy", "recall"])[0]
    seconds = time.perf_counter() - t0
    attacker = mia._attack_list[0]
    feats_m, _ = mia._generate(ds(*em), 1)
    feats_n, _ = mia._generate(ds(*en), 0)

    def score(f):
        return attacker.predict_proba(f)[:, 1] if hasattr(attacker, "predict_proba") else attacker.predict(f)

    rep = membership_metrics(score(feats_m), score(feats_n), attack=f"MindArmour {method}")
    return {"auc": rep.auc, "tpr01": rep.tpr_at_fpr[0.001], "tpr1": rep.tpr_at_fpr[0.01],
            "precision": result["precision"], "recall": result["recall"], "accuracy": result["accuracy"]}, seconds


def armour_run(model, fit, ev, pop, name, **kw):
    (fm, fn), (em, en) = fit, ev
    t0 = time.perf_counter()
    atk = registry.create("inference", name, model=model, **kw)
    if name == "lira":
        atk.set_population(*pop)
    else:
        atk.fit(*fm, *fn)
    rep = atk.evaluate(*em, *en)
    seconds = time.perf_counter() - t0
    return {"auc": rep.auc, "tpr01": rep.tpr_at_fpr[0.001], "tpr1": rep.tpr_at_fpr[0.01],
            "precision": rep.precision, "recall": rep.recall, "accuracy": rep.accuracy}, seconds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "membership.md"))
    args = ap.parse_args()
    members, nonmembers, population = data()
    net = target(members)
    model = MSModel(net, num_classes=10, input_shape=(1, 8, 8))
    train_acc = float((model.predict(members[0]) == members[1]).mean())
    test_acc = float((model.predict(nonmembers[0]) == nonmembers[1]).mean())
    h = N // 2
    fit = ((members[0][:h], members[1][:h]), (nonmembers[0][:h], nonmembers[1][:h]))
    ev = ((members[0][h:], members[1][h:]), (nonmembers[0][h:], nonmembers[1][h:]))
    lira = dict(architecture="mlp", shadows=8, epochs=EPOCHS, batch_size=BATCH, seed=0)
    methods: list[tuple[str, object]] = []
    for m in ("lr", "knn", "mlp", "rf"):
        methods.append((f"MindArmour MembershipInference ({m})", lambda m=m: mindarmour_run(net, fit, ev, m)))
        methods.append((f"armour classifier ({m})",
                        lambda m=m: armour_run(model, fit, ev, population, "classifier", method=m, seed=0)))
    methods += [("armour loss_threshold", lambda: armour_run(model, fit, ev, population, "loss_threshold")),
                ("armour entropy", lambda: armour_run(model, fit, ev, population, "entropy")),
                ("armour lira (8 shadows, trained)",
                 lambda: armour_run(model, fit, ev, population, "lira", cache=False, **lira)),
                ("armour lira (8 shadows, cached)",
                 lambda: armour_run(model, fit, ev, population, "lira", cache=True, **lira))]
    armour_run(model, fit, ev, population, "lira", cache=True, **lira)  # warm the shadow cache (not timed)
    times: dict[str, list[float]] = {n: [] for n, _ in methods}
    metrics: dict[str, dict] = {}
    for r in range(args.rounds):
        for name, fn in methods:
            res, sec = fn()
            times[name].append(sec)
            metrics.setdefault(name, res)
            print(f"round {r} {name}: {sec:.2f} s AUC {res['auc']:.3f}", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]

    def f(v):
        return "-" if v is None else f"{v:.3f}"

    lines = ["## Membership inference: armour vs MindArmour 2.0", "",
             f"Command: `python benchmarks/bench_membership.py --rounds {args.rounds}`. Execution mode: PyNative + "
             "launch_blocking, CPU (shadow models trained with armour's compiled step). Target: digits MLP "
             f"64-128-10 trained on {N} digits for {EPOCHS} epochs (train accuracy {train_acc:.3f}, test "
             f"accuracy {test_acc:.3f}). Attacks that learn are fitted on {h} members + {h} non-members; all are "
             f"evaluated on the other {N - h} + {N - h}; LiRA uses {N} population digits for its shadows. "
             "MindArmour's attack models are scored with their own predict_proba (predict for its regressor "
             "'mlp') to get AUC and TPR; precision/recall/accuracy are at each attack's decision rule. "
             f"With {N - h} non-members, TPR@0.1%FPR is the TPR at FPR 0. Seconds: medians over "
             f"{args.rounds} interleaved rounds, fit + evaluation. 1-minute load average at the end: {load:.1f} "
             "(shared 2-core machine; compare ratios, not absolute times).", "",
             "| attack | ROC AUC | TPR@0.1%FPR | TPR@1%FPR | precision | recall | accuracy | seconds (median) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, _ in methods:
        m = metrics[name]
        lines.append(f"| {name} | {m['auc']:.3f} | {m['tpr01']:.3f} | {m['tpr1']:.3f} | {f(m['precision'])} | "
                     f"{f(m['recall'])} | {f(m['accuracy'])} | {statistics.median(times[name]):.2f} |")
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
