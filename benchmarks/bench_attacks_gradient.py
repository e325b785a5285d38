"""PGD-20 on a batch of 256: armour vs the lower bound (20 jitted forward+backward passes) and vs MindArmour 2.0.

Run: ``python benchmarks/bench_attacks_gradient.py [--rounds 7] [--no-mindarmour]`` (MindArmour rows need
``mindarmour==2.0.0``, installed for benchmarks only). Writes benchmarks/results/attacks_gradient.md.

The lower bound LB20 is 20 calls of a jitted function returning only ∇x of the summed cross-entropy
(MINDSPORE_CPU.md §2). Settings: L∞, eps 0.3, step 0.03, 20 steps, bounds [0, 1], cross-entropy; the digits
MLP (8x8, 64-128-10) and LeNet5 on MNIST-5k (28x28), both the cached default models. Execution mode:
PyNative with ``mindspore.runtime.launch_blocking()`` (applied by ``import armour_core.ms``), CPU; armour
compiles its own graphs with ``mindspore.jit`` inside PyNative, MindArmour runs its gradient cell eagerly.
Rounds are interleaved (each round runs every method once, calls under 0.1 s repeated inside a round);
the time is the median over rounds; first calls (compilation) are reported separately. Every armour time
is the public ``attack.generate(x, y)``: input validation, the random start, the loop, the final
projection and the success check included.
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
from armour_core.atomic import atomic_write_text  # noqa: E402
from armour_core.ms.losses import cross_entropy  # noqa: E402
from armour_core.ms.pretrained import pretrained  # noqa: E402

EPS, STEP, STEPS, BATCH = 0.3, 0.03, 20, 256
MODELS = {"digits MLP": ("mlp", "digits"), "LeNet5 MNIST-5k": ("lenet5", "mnist5k")}
#: issue 10's goals for armour pgd / LB20
GOALS = {"digits MLP": 1.1, "LeNet5 MNIST-5k": 1.0}


def _batch(data, n):
    x, y = data.x_test, data.y_test
    reps = -(-n // len(x))
    return np.tile(x, (reps, 1, 1, 1))[:n].astype(np.float32), np.tile(y, reps)[:n].astype(np.int64)


def methods(model_key: str, with_mindarmour: bool):
    import mindspore as ms

    p = pretrained(*MODELS[model_key])
    m = p.model
    x, y = _batch(p.dataset, BATCH)
    xt, yt = ms.Tensor(x), ms.Tensor(y.astype(np.int32))
    logits_fn = m.logits_fn

    def total(points, labels):
        return cross_entropy(logits_fn(points), labels).sum()

    grad_only = ms.jit(ms.grad(total, grad_position=0))  # returns only the gradient: the cheapest call
    grad_fn = m.grad_fn("ce")

    def lower_bound():
        for _ in range(STEPS):
            g = grad_only(xt, yt)
        return g.asnumpy()

    def wrapper_calls():
        for _ in range(STEPS):
            _, g = grad_fn(xt, yt)
        return g.asnumpy()

    out = {"LB20 = 20 x jitted fwd+bwd (grad wrt x only)": (lower_bound, None),
           "20 x MSModel.grad_fn (per-sample loss and gradient; for reference)": (wrapper_calls, None)}
    for mode in ("auto", "unroll", "step"):
        atk = registry.create("attack", "pgd", model=m, eps=EPS, step_size=STEP, steps=STEPS, compile=mode)
        label = {"auto": "armour pgd (auto: whole loop in one graph)", "unroll": "armour pgd (compile=unroll)",
                 "step": "armour pgd (compile=step: one graph per step)"}[mode]
        out[label] = ((lambda a=atk: a.generate(x, y).adversarial), m)
    bim = registry.create("attack", "bim", model=m, eps=EPS, step_size=STEP, steps=STEPS)
    out["armour bim (no random start, as MindArmour's PGD)"] = ((lambda: bim.generate(x, y).adversarial), m)
    if with_mindarmour:
        from mindarmour.adv_robustness.attacks import ProjectedGradientDescent
        from mindspore import nn

        ma = ProjectedGradientDescent(m.network, eps=EPS, eps_iter=STEP, bounds=(0.0, 1.0), nb_iter=STEPS,
                                      norm_level="inf", loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=False))
        onehot = np.eye(10, dtype=np.float32)[y]
        out["MindArmour 2.0 ProjectedGradientDescent.generate"] = ((lambda: ma.generate(x, onehot)), None)
    return m, x, y, out


def run(model_key: str, rounds: int, with_mindarmour: bool):
    m, x, y, cases = methods(model_key, with_mindarmour)
    first, times, acc = {}, {k: [] for k in cases}, {}
    for name, (fn, _) in cases.items():
        t0 = time.perf_counter()
        adv = fn()
        first[name] = time.perf_counter() - t0
        if not name.startswith(("LB20", "20 x")):
            acc[name] = float(np.mean(np.asarray(m.predict(np.asarray(adv, dtype=np.float32))) == y))
    reps = {}  # repetitions per sample: ~0.1 s of *steady* calls (the first call includes compilation, so sizing
    for name, (fn, _) in cases.items():  # by it made every fast method a single ~10 ms call per round)
        t0 = time.perf_counter()
        fn()
        reps[name] = max(1, int(0.1 / max(time.perf_counter() - t0, 1e-4)))
    for _ in range(rounds):
        for name, (fn, _) in cases.items():
            t0 = time.perf_counter()
            for _ in range(reps[name]):
                fn()
            times[name].append((time.perf_counter() - t0) / reps[name])
    med = {k: statistics.median(v) for k, v in times.items()}
    clean = float(np.mean(np.asarray(m.predict(x)) == y))
    return med, first, acc, clean, times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-mindarmour", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "attacks_gradient.md"))
    args = ap.parse_args(argv)
    with_ma = not args.no_mindarmour
    if with_ma:
        try:
            import mindarmour  # noqa: F401  (sleeps ~3 s on import)
        except ImportError:
            print("mindarmour is not installed: running without it (pip install mindarmour==2.0.0)", file=sys.stderr)
            with_ma = False
    cmd = "python benchmarks/bench_attacks_gradient.py" + " ".join([""] + (argv or sys.argv[1:]))
    lines = ["# PGD-20 speed: armour vs the lower bound and MindArmour 2.0", "",
             f"Command: `{cmd}`  ", f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
             "Mode: **PyNative with `launch_blocking`** on CPU (armour's loops are `mindspore.jit` graphs called "
             "from PyNative; MindArmour runs its gradient cell eagerly and projects in numpy).  ",
             f"Settings: L∞, eps {EPS}, step {STEP}, {STEPS} steps, batch {BATCH}, bounds [0, 1], cross-entropy. "
             f"Median of {args.rounds} interleaved rounds. armour times are the public `generate` call "
             "(validation, random start, loop, projection, success check).", ""]
    for key in MODELS:
        med, first, acc, clean, times = run(key, args.rounds, with_ma)
        lb = med[next(iter(med))]
        lines += [f"## {key} (clean accuracy on the batch {clean:.3f})", "",
                  "| method | median | × LB20 | first call | adversarial accuracy |", "|---|---|---|---|---|"]
        for name, t in med.items():
            a = f"{acc[name]:.3f}" if name in acc else "—"
            lines.append(f"| {name} | {1000 * t:.1f} ms | {t / lb:.2f} | {1000 * first[name]:.0f} ms | {a} |")
        ma_key = "MindArmour 2.0 ProjectedGradientDescent.generate"
        ours = med["armour pgd (auto: whole loop in one graph)"]
        lines.append("")
        pgd_times, lb_times = times["armour pgd (auto: whole loop in one graph)"], times[next(iter(times))]
        per_round = [a / b for a, b in zip(pgd_times, lb_times)]
        lines.append(f"armour pgd / LB20 = **{ours / lb:.2f}×** (per round {min(per_round):.2f}–{max(per_round):.2f}; "
                     f"goal ≤ {GOALS[key]}×)" +
                     (f"; MindArmour / armour pgd = **{med[ma_key] / ours:.1f}×** (goal ≥ 2× on the MLP)"
                      if ma_key in med else ""))
        lines.append("")
        print("\n".join(lines[-(len(med) + 6):]), flush=True)
    import mindspore

    versions = f"mindspore {mindspore.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}"
    if with_ma:
        import importlib.metadata as md

        versions += f", mindarmour {md.version('mindarmour')}"
    lines += [f"Versions: {versions}.  "]
    load = os.getloadavg()
    lines += [f"Load average during the run (1/5/15 min, 2 cores shared with other sessions): "
              f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. Ratios within one table are measured side by side "
              "and are more reliable than absolute times.", ""]
    atomic_write_text(args.out, "\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
