"""First call vs steady call in a fresh process: PGD-20 and one DP-SGD step (ghost and vmap), with and
without MindSpore's compile cache.

Run: ``python benchmarks/bench_firstcall.py [--rounds 3] [--cases pgd20_mlp,...]``. Writes
``benchmarks/results/firstcall.md``. Every measurement is a fresh interpreter (``--child``): the first call
of the public entry point (``attack.generate``, or building the DPModel step plus its first step, as
``DPModel.train`` does) includes tracing and compilation; the steady time is the median of the next calls in
the same process. Variants, interleaved within each round:

The DP model (``DPModel(...)``: plugin imports, checks) is constructed before the clock starts.

* ``no cache``: armour's default (MindSpore's compile cache off);
* ``MS cache, 1st`` / ``MS cache, 2nd``: ``MS_COMPILER_CACHE_ENABLE=1`` in a fresh cache directory, with
  ``ARMOUR_MS_COMPILE_CACHE=1`` so armour does not switch it off; the first process writes the cache, the
  second reads it. Its results are compared with the ``no cache`` process of the same round (same seeds):
  ``max |diff|`` says whether the cached graphs compute the same thing.

Execution mode: PyNative with ``launch_blocking`` on CPU (armour's graphs are ``mindspore.jit`` functions).
MLP 784-256-10 and LeNet5 (``armour_core.builtin.models``), seeded initial weights (the time does not depend
on training), batch 256 of MNIST-5k.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "results" / "firstcall.md"
CASES = {"pgd20_mlp": "PGD-20, MLP 784-256-10", "pgd20_lenet": "PGD-20, LeNet5",
         "ghost_mlp": "DP-SGD step (ghost), MLP 784-256-10", "ghost_lenet": "DP-SGD step (ghost), LeNet5",
         "vmap_mlp": "DP-SGD step (vmap), MLP 784-256-10"}
BATCH = 256


def _network(kind: str):
    from armour_core.builtin.models import MLP, LeNet5

    if kind == "mlp":
        return MLP(input_shape=(1, 28, 28), hidden=256)
    return LeNet5(input_shape=(1, 28, 28))


def child(case: str, steady_calls: int) -> dict:
    """Runs in a fresh interpreter: time the first and the steady calls of ``case``; return a digest of the
    results for the comparison between variants."""
    t_import = time.perf_counter()
    import armour_core.ms  # noqa: F401  (runtime settings, the compile cache guard)
    import mindspore as ms
    import numpy as np

    from armour_core.builtin.datasets import load_mnist5k

    data = load_mnist5k()
    x = np.ascontiguousarray(data.x_train[:BATCH], dtype=np.float32)
    y = data.y_train[:BATCH].astype(np.int64)
    ms.set_seed(0)
    family, kind = case.split("_")
    net = _network(kind)
    import_s = time.perf_counter() - t_import
    if family == "pgd20":
        from armour_core import registry

        atk = registry.create("attack", "pgd", model=net, eps=0.3, step_size=0.03, steps=20, seed=0)

        def call():
            return atk.generate(x, y).adversarial
    else:
        sys.path.insert(0, str(HERE))
        from bench_dp import armour_step, make_armour_runner

        holder = {}
        xt, yt = ms.Tensor(x), ms.Tensor(y.astype(np.int32))
        model = armour_step(net, BATCH, family)  # plugin imports and checks: set-up, not the step's first call

        def call():
            if "run" not in holder:  # the first call builds the step as DPModel.train does (analysis, compile)
                holder["run"] = make_armour_runner(model, x, y.astype(np.int32), BATCH)
            return holder["run"](xt, yt)[1]
    t = time.perf_counter()
    first_out = np.asarray(call())
    first = time.perf_counter() - t
    times = []
    for _ in range(steady_calls):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    if family == "pgd20":
        digest = first_out.reshape(-1)[:: max(1, first_out.size // 4096)]
    else:  # the first step's losses and the weights after every step
        weights = [p.asnumpy().reshape(-1)[:512] for p in net.trainable_params()]
        digest = np.concatenate([first_out.reshape(-1)] + weights)
    return {"first": first, "steady": statistics.median(times), "import": import_s,
            "digest": [float(v) for v in digest]}


def _run_child(case: str, env: dict, steady_calls: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", case, "--steady", str(steady_calls)], env=env,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:  # reported in the table: the first error line (e.g. a cache that cannot export)
        errors = [ln.strip() for ln in proc.stderr.splitlines() if "Error" in ln and ":" in ln]
        return {"error": (errors[-1] if errors else proc.stderr.strip().splitlines()[-1])[:160]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--steady", type=int, default=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steady)))
        return 0
    import numpy as np

    base = {k: v for k, v in os.environ.items()
            if k not in ("MS_COMPILER_CACHE_ENABLE", "MS_COMPILER_CACHE_PATH", "ARMOUR_MS_COMPILE_CACHE")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), base.get("PYTHONPATH")]))
    cases = [c for c in args.cases.split(",") if c]
    variants = ("no cache", "MS cache, 1st", "MS cache, 2nd")
    res = {(c, v): [] for c in cases for v in variants}
    diffs = {c: [] for c in cases}
    loads = [os.getloadavg()]
    for r in range(args.rounds):
        for case in cases:
            steady = 3 if case.endswith("lenet") or case.startswith("vmap") else 5
            with tempfile.TemporaryDirectory(prefix="ms-cache-") as cache:
                on = {**base, "MS_COMPILER_CACHE_ENABLE": "1", "MS_COMPILER_CACHE_PATH": cache,
                      "ARMOUR_MS_COMPILE_CACHE": "1"}
                plain = _run_child(case, base, steady)
                res[(case, "no cache")].append(plain)
                res[(case, "MS cache, 1st")].append(_run_child(case, on, steady))
                second = _run_child(case, on, steady)
                res[(case, "MS cache, 2nd")].append(second)
            if "error" in plain:
                raise RuntimeError(f"{case} failed without the cache: {plain['error']}")
            if "error" in second:
                diffs[case].append(second["error"])
            else:
                a, b = np.asarray(plain["digest"]), np.asarray(second["digest"])
                diffs[case].append("NaN" if a.shape != b.shape or not np.isfinite(b).all()
                                   else f"{float(np.max(np.abs(a - b))):.2g}")
            print(f"round {r} {case}: no cache first {plain['first']:.2f}s steady {plain['steady'] * 1e3:.0f} ms; "
                  f"MS cache 2nd first {second.get('first', float('nan')):.2f}s, max|diff| {diffs[case][-1]} "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
        loads.append(os.getloadavg())

    def spread(vals, scale=1.0, fmt="{:.2f}"):
        med = statistics.median(vals) * scale
        return fmt.format(med) + " (" + fmt.format(min(vals) * scale) + "–" + fmt.format(max(vals) * scale) + ")"

    given = argv if argv is not None else sys.argv[1:]
    cmd = "python benchmarks/bench_firstcall.py" + "".join(" " + a for a in given)
    lines = ["# First call vs steady call (fresh processes)", "",
             f"Command: `{cmd}`  ", f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
             "Mode: PyNative with `launch_blocking` on CPU; armour's graphs are `mindspore.jit` functions. Batch "
             f"256 (MNIST 28x28), seeded untrained weights. {args.rounds} rounds; in each round every case runs "
             "in three fresh processes, back to back: armour's default (MindSpore's compile cache off), then "
             "`MS_COMPILER_CACHE_ENABLE=1` with a fresh cache directory (first process writes it, second reads it; "
             "`ARMOUR_MS_COMPILE_CACHE=1` keeps armour from switching it off). Values: median (min–max) over "
             "rounds, never the best run. *first* = the first public call in the process (PGD: "
             "`attack.generate`; DP: building the step as `DPModel.train` does (ghost analysis, compile) plus "
             "the first step, after `DPModel(...)` was constructed), *steady* = "
             "median of the following calls in the same process. `max |diff|` compares the second cached "
             "process's results with the uncached process of the same round (same seeds): NaN means non-finite "
             "or wrongly shaped results.", "",
             "| case | variant | first call s | steady ms | first / steady | max \\|diff\\| vs no cache |",
             "|---|---|---|---|---|---|"]
    for case in cases:
        for v in variants:
            rows = [row for row in res[(case, v)] if "error" not in row]
            d = ", ".join(dict.fromkeys(diffs[case])) if v == "MS cache, 2nd" else ""
            if not rows:
                lines.append(f"| {CASES[case]} | {v} | fails: {res[(case, v)][0]['error']} | | | {d} |")
                continue
            ratio = [row["first"] / row["steady"] for row in rows]
            lines.append(f"| {CASES[case]} | {v} | {spread([row['first'] for row in rows])} | "
                         f"{spread([row['steady'] for row in rows], 1e3, '{:.1f}')} | {spread(ratio, fmt='{:.1f}')}× | "
                         f"{d} |")
    lines += ["", "armour's default is the `no cache` row: MindSpore 2.10's compile cache is switched off by "
              "`armour_core.ms.runtime` because of the wrong results above (NaN, other graphs, failed exports); see "
              "`docs/performance.md`, \"Compile cache\". Goal (issue 10): a second process pays ≤ 3× a steady "
              "call."]
    lines += ["", "Load average (1/5/15 min) before and after each round: " +
              "; ".join(f"{a:.1f}/{b:.1f}/{c:.1f}" for a, b, c in loads) + " (2 cores, shared).", ""]
    atomic = __import__("armour_core.atomic", fromlist=["atomic_write_text"]).atomic_write_text
    atomic(OUT, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
