"""Sharded robustness evaluation: local (one process) vs processes (2 workers) vs Ray (2 workers), one run.

Run: ``python benchmarks/bench_executors.py [--n 360] [--steps 10] [--rounds 2]`` (Ray from
``pip install 'armour-core[ray]'``; skipped when absent). Writes benchmarks/results/executors.md.

Job: the embedded LeNet5 on the digits test split (first ``--n`` points), FGSM and PGD-``steps`` at ε = 0.05,
0.1, 0.2 (6 attack runs), batches of 32, shards of one batch: 6 × ⌈n / 32⌉ tasks. Each executor runs the job
``rounds`` times in turn; the first round is *cold* (spawns workers that import MindSpore, load the model and
compile the attack graphs; Ray also starts), later rounds *warm* (each executor keeps its workers and their
loaded models). Every round's figures are compared with the
local run's and must be identical. Checks off (gradient/determinism) so only the sharded part is timed.
Execution mode: PyNative with ``launch_blocking`` and armour's compiled attack steps, CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("ARMOUR_CACHE_DIR", "/tmp/armour-cache")
os.environ.setdefault("ARMOUR_PROGRESS", "0")


def figures(rep) -> dict:
    d = rep.to_dict()
    for run in d["runs"]:
        run.pop("seconds")
    for budget in d["budget"].values():
        budget.pop("seconds")
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=360)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=4, help="jobs per executor (the first is cold; at least 2)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.rounds < 2:
        ap.error("--rounds: at least 2 (one cold job, then warm ones)")
    load_before = os.getloadavg()

    from armour_core.atomic import atomic_write_text
    from armour_core.executors import get_executor
    from armour_core.loading import ModelRef
    from armour_plugins_attacks.evaluation import evaluate_robustness

    ref = ModelRef(model="lenet5", dataset="digits")
    from armour_core.ms.pretrained import pretrained

    d = pretrained("lenet5", "digits").dataset
    x, y = d.x_test[:args.n], d.y_test[:args.n]
    kw = dict(attacks=["fgsm", ("pgd", {"steps": args.steps})], eps=[0.05, 0.1, 0.2], batch_size=32,
              check_determinism=False, check_gradients=False, keep_examples=0)
    names = ["local", "processes", *(["ray"] if importlib.util.find_spec("ray") else [])]
    executors = {"local": None, **{n: get_executor(n, workers=args.workers) for n in names[1:]}}
    reference = None
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for name in names:
            t0 = time.perf_counter()
            rep = evaluate_robustness(ref.load() if name == "local" else ref, x, y, **kw,
                                      executor=executors[name])
            times[name].append(time.perf_counter() - t0)
            reference = reference or figures(rep)
            assert figures(rep) == reference, f"{name}: figures differ from the local run"
    tasks = 6 * -(-len(x) // 32)
    warm = {n: sorted(times[n][1:]) for n in names}

    def med(v):
        return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2

    rows = [f"| {n} | {'1 (in process)' if n == 'local' else args.workers} | {times[n][0]:.1f} | "
            f"{med(warm[n]):.2f} [{warm[n][0]:.2f}–{warm[n][-1]:.2f}] | {med(warm['local']) / med(warm[n]):.2f} |"
            for n in names]
    load = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(load_before, os.getloadavg()))
    md = "\n".join([
        "## Executors: sharded robustness evaluation", "",
        f"`python benchmarks/bench_executors.py --n {args.n} --steps {args.steps} --rounds {args.rounds}`: LeNet5 "
        f"on {len(x)} digits, FGSM + PGD-{args.steps} at 3 ε, batches of 32, one batch per task ({tasks} tasks); "
        "figures identical on every executor (checked each round). Cold: the first job (workers start, import "
        "MindSpore, load the model, compile); warm: median [min–max] of the later jobs, executors interleaved. "
        "Execution mode: PyNative with launch_blocking and armour's compiled attack steps, CPU, in every worker. "
        f"Load average (1/5/15 min) before/after: {load}.",
        "", "| executor | workers | cold s | warm s | speed-up vs local (warm medians) |", "|---|---|---|---|---|",
        *rows, ""])
    out = Path(__file__).parent / "results" / "executors.md"
    atomic_write_text(out, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
