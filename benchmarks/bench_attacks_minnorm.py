"""C&W-L2 and DeepFool: armour vs MindArmour 2.0 at equal settings, same model and data, one process.

Run: ``python benchmarks/bench_attacks_minnorm.py [--rounds 3] [--n 128]`` (needs ``mindarmour==2.0.0``,
installed for benchmarks only). Writes benchmarks/results/attacks_minnorm.md.

Execution mode: PyNative with ``mindspore.runtime.launch_blocking()`` (applied by ``import armour_core.ms``),
CPU. armour compiles its own graphs with ``mindspore.jit`` inside PyNative; MindArmour runs its cells
eagerly. Rounds are interleaved (each round runs every method once); the time is the median over rounds
and includes armour's first-call compilation only in round 1 (reported separately as "first call").
Distortion and success are measured on the points the model classifies correctly, as absolute L2 / L∞
distances in input space ([0, 1]).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("ARMOUR_CACHE_DIR", "/tmp/armour-cache")

import numpy as np  # noqa: E402

import armour_core.ms  # noqa: E402,F401  (CPU runtime settings: AVX2 oneDNN, launch_blocking)
from armour_core import registry  # noqa: E402
from armour_core.ms.pretrained import pretrained  # noqa: E402


def _success_and_distance(model, x, y, adv, norm):
    ok = np.asarray(model.predict(x)) == y
    pred = np.asarray(model.predict(adv.astype(np.float32)))
    succ = (pred != y) & ok
    d = (adv.astype(np.float64) - x.astype(np.float64)).reshape(len(x), -1)
    dist = np.sqrt((d * d).sum(1)) if norm == "l2" else np.abs(d).max(1)
    return succ, ok, dist


def _median(dist, mask):
    return float(np.median(dist[mask])) if mask.any() else float("nan")


def cases(model_name: str, n: int):
    import mindarmour.adv_robustness.attacks as ma

    p = pretrained(model_name, "digits")
    m, data = p.model, p.dataset
    x, y = data.x_test[:n].astype(np.float32), data.y_test[:n].astype(np.int64)
    net = m.network
    out = []
    # DeepFool, L2 and L∞: max 50 iterations, overshoot 0.02, all classes, bounds [0, 1]
    for norm, level in (("l2", 2), ("linf", np.inf)):
        ours = registry.create("attack", "deepfool", model=m, norm=norm, steps=50, overshoot=0.02, candidates=9)
        theirs = ma.DeepFool(net, num_classes=10, max_iters=50, overshoot=0.02, norm_level=level,
                             bounds=(0.0, 1.0))
        methods = {"armour": lambda a=ours: np.asarray(a.generate(x, y).adversarial),
                   "MindArmour": lambda a=theirs: np.asarray(a.generate(x, y))}
        if norm == "linf" and model_name == "mlp":
            # MindArmour's L∞ DeepFool takes np.linalg.norm(w, ord=1) of a whole image gradient, which
            # raises for (1, 8, 8) samples; the MLP flattens its input, so it can be fed flat vectors.
            flat = x.reshape(len(x), -1)
            methods["MindArmour (flat input)"] = lambda a=theirs, f=flat: np.asarray(a.generate(f, y)).reshape(x.shape)
            del methods["MindArmour"]
        out.append((f"DeepFool {norm.upper()} ({model_name})", norm, m, x, y, methods))
    if model_name == "mlp":
        settings = dict(binary_search_steps=5, steps=100, learning_rate=0.01, initial_const=0.01, confidence=0.0)
        ours = registry.create("attack", "cw", model=m, **settings)
        kw = dict(box_min=0.0, box_max=1.0, bin_search_steps=5, max_iterations=100, confidence=0,
                  learning_rate=0.01, initial_const=0.01, abort_early_check_ratio=0.1)
        slow = ma.CarliniWagnerL2Attack(net, 10, fast=False, **kw)
        fast = ma.CarliniWagnerL2Attack(net, 10, fast=True, **kw)
        out.append((f"C&W L2 ({model_name}), 5 search steps x 100 iterations", "l2", m, x, y,
                    {"armour": lambda a=ours: np.asarray(a.generate(x, y).adversarial),
                     "MindArmour fast=False": lambda a=slow: np.asarray(a.generate(x, y)),
                     "MindArmour fast=True (its default: stops at first success)":
                         lambda a=fast: np.asarray(a.generate(x, y))}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=128)
    args = ap.parse_args()
    import mindspore as ms

    rows = []
    for model_name in ("mlp", "lenet5"):
        for title, norm, m, x, y, methods in cases(model_name, args.n):
            times = {k: [] for k in methods}
            first, last = {}, {}
            for r in range(args.rounds):
                for name, fn in methods.items():
                    t0 = time.perf_counter()
                    try:
                        adv = fn()
                    except Exception as exc:  # noqa: BLE001  (a baseline that crashes is a result too)
                        adv = f"fails: {type(exc).__name__}: {str(exc)[:80]}"
                    dt = time.perf_counter() - t0
                    if r == 0:
                        first[name] = dt
                    else:
                        times[name].append(dt)
                    last[name] = adv
            measured = {k: _success_and_distance(m, x, y, v, norm) for k, v in last.items() if not isinstance(v, str)}
            common = np.logical_and.reduce([s for s, _, _ in measured.values()])
            for name in methods:
                if isinstance(last[name], str):
                    rows.append((title, name, float("nan"), float("nan"), last[name], float("nan"), float("nan")))
                    print(title, name, last[name], flush=True)
                    continue
                succ, ok, dist = measured[name]
                rate, med, med_common = float(succ.sum() / ok.sum()), _median(dist, succ), _median(dist, common)
                t = statistics.median(times[name]) if times[name] else first[name]
                rows.append((title, name, t, first[name], rate, med, med_common))
                print(f"{title:45s} {name:40s} {t:8.3f}s first {first[name]:7.3f}s "
                      f"success {rate:.3f} median {norm} {med:.4f} common {med_common:.4f}", flush=True)
    lines = ["## Minimum-norm attacks: armour vs MindArmour 2.0.0", "",
             f"Command: `python benchmarks/bench_attacks_minnorm.py --rounds {args.rounds} --n {args.n}`. "
             f"MindSpore {ms.__version__}, CPU, **PyNative mode with `launch_blocking()`** (armour jit-compiles "
             "its own graphs inside PyNative; MindArmour runs eagerly). Same trained model and the same "
             f"{args.n} digits test points for every method; one process, {args.rounds} interleaved rounds. "
             "Time: median of rounds 2.. (compilation excluded; the first call, with compilation, is shown "
             "separately). Success and median distortion over the correctly classified points (absolute "
             "distance in [0, 1] input space; median over successful points).", "",
             "| attack | implementation | time (s) | first call (s) | success | median distortion "
             "(its successes) | median distortion (points every method broke) |",
             "|---|---|---|---|---|---|---|"]
    for title, name, t, f, succ, med, medc in rows:
        if isinstance(succ, str):
            lines.append(f"| {title} | {name} | — | — | {succ} | — | — |")
        else:
            cells = [f"{v:.4f}" if np.isfinite(v) else "—" for v in (med, medc)]
            lines.append(f"| {title} | {name} | {t:.3f} | {f:.3f} | {succ:.3f} | {cells[0]} | {cells[1]} |")
    lines += ["", f"Python {sys.version.split()[0]}, numpy {np.__version__}."]
    out = Path(__file__).parent / "results" / "attacks_minnorm.md"
    out.parent.mkdir(exist_ok=True)
    from armour_core.atomic import atomic_write_text

    atomic_write_text(out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
