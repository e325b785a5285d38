"""LiRA shadow models per minute on 1 and 2 workers, ``processes`` and ``ray`` executors side by side
(issue 11, section 3), with the in-process ``local`` executor as the reference.

Run: ``python benchmarks/bench_shadows_scaling.py [--shadows 8] [--epochs 30] [--rounds 2]``
(ray from ``pip install 'armour-core[ray]'``; without it the ray rows are skipped). Writes
benchmarks/results/shadows_scaling.md.

What is timed: one ``LiRA.shadow_confidences`` call, i.e. every shadow trained (cache off) as a task on the
executor and queried on the targets, the logits gathered back. ``processes`` starts a fresh pool of spawned
workers for each call, so its time includes starting the workers and importing MindSpore in them (that is
what a user pays per audit). Ray's workers persist: each Ray configuration gets a fresh local Ray with
``num_cpus`` = workers and one untimed warm-up call, so its time is the steady state. Configurations are
interleaved over rounds; the table gives the median time and the spread (min-max). The scores of every
configuration are checked equal to the local run's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("ARMOUR_PROGRESS", "0")

import numpy as np  # noqa: E402

import armour_core.ms  # noqa: E402,F401
from armour_core import registry  # noqa: E402
from armour_core.atomic import atomic_write_text  # noqa: E402
from armour_core.executors import get_executor  # noqa: E402
from armour_core.ms.pretrained import pretrained  # noqa: E402

MODE = ("Execution mode: PyNative with launch_blocking (set by `import armour_core.ms`), CPU; shadows and targets "
        "train with `train_classifier`'s compiled (jit) step.")


def _fresh_ray(workers: int):
    """A ray executor on a new local Ray with ``workers`` CPUs (Ray's CPU count is fixed at start)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    return get_executor("ray", workers=workers)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shadows", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--examples", type=int, default=300, help="queried targets (members + non-members)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "shadows_scaling.md"))
    args = ap.parse_args()

    pre = pretrained("mlp", "digits")
    d = pre.dataset
    n = args.examples // 2
    x = np.concatenate([d.x_train[:n], d.x_test[:n]])
    y = np.concatenate([d.y_train[:n], d.y_test[:n]])
    xp, yp = d.x_test[n:n + 300], d.y_test[n:n + 300]
    kw = dict(shadows=args.shadows, architecture="mlp", epochs=args.epochs, batch_size=64, seed=0, cache=False)

    configs = [("local", 1), ("processes", 1), ("processes", 2)]
    if importlib.util.find_spec("ray") is not None:
        configs += [("ray", 1), ("ray", 2)]
    times: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    reference = None
    kept: dict = {}  # processes executors live across rounds, as in one armour run
    for _ in range(args.rounds):
        for name, workers in configs:
            if name == "ray":
                ex = _fresh_ray(workers)
            elif (name, workers) not in kept:
                ex = kept[(name, workers)] = get_executor(name, workers=workers)
            else:
                ex = kept[(name, workers)]
            if name != "local":  # steady state: workers started, MindSpore imported, first graphs compiled
                warm = registry.create("inference", "lira", model=pre.model, executor=ex,
                                       **{**kw, "shadows": max(2, workers), "epochs": 1})
                warm.set_population(xp, yp).shadow_confidences(x[:10], y[:10])
            lira = registry.create("inference", "lira", model=pre.model, executor=ex, **kw).set_population(xp, yp)
            t0 = time.perf_counter()
            phi, _ = lira.shadow_confidences(x, y)
            times[(name, workers)].append(time.perf_counter() - t0)
            if reference is None:
                reference = phi
            elif not np.array_equal(phi, reference):
                print(f"MISMATCH: {name} x{workers} gave different shadow confidences", file=sys.stderr)
                return 1
            print(f"{name} x{workers}: {times[(name, workers)][-1]:.1f} s", flush=True)

    base = statistics.median(times[("local", 1)])
    rows = []
    for (name, workers), ts in times.items():
        med = statistics.median(ts)
        rows.append(f"| {name} | {workers} | {med:.1f} ({min(ts):.1f}-{max(ts):.1f}) | "
                    f"{60 * args.shadows / med:.1f} | {base / med:.2f} |")
    load = os.getloadavg()[0]
    lines = ["## LiRA shadows per minute: 1 vs 2 workers (processes, ray)", "", MODE, "",
             f"Command: `python benchmarks/bench_shadows_scaling.py --shadows {args.shadows} --epochs {args.epochs} "
             f"--examples {args.examples} --rounds {args.rounds}`. Digits MLP shadows ({args.epochs} epochs, "
             f"batch 64, cache off), each queried on {len(x)} targets; {os.cpu_count()} cores. processes: spawned "
             "workers kept by the executor; ray: a local Ray with num_cpus = workers; both warmed up before "
             "each timed call (steady state, workers started and MindSpore imported). Scores were identical on "
             "every configuration. 1-minute "
             f"load average at the end: {load:.1f} (the benchmark's own workers count in it).", "",
             "| executor | workers | seconds, median (min-max) | shadows/min | speed-up vs local |",
             "|---|---|---|---|---|", *rows]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
