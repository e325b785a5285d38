"""Data-parallel DP-SGD: 1 worker against 2 msrun workers on this machine, side by side in one run.

Run: ``python benchmarks/bench_dp_workers.py [--quick] [--rounds R] [--steps K]``. Writes
``benchmarks/results/dp_workers.md``. For each model (MLP and LeNet5 on the embedded digits, expected batch
256), each round runs a 1-worker job (a plain process) and a 2-worker job (``msrun`` on the loopback) in turn;
each job compiles, warms up, then times K DP-SGD steps of ``DPModel.train``. Reported: steps/s (median and
range over rounds), and for 2 workers the split of a step into local compute (clipped sums of the rank's
share), the AllReduce, and the update, as ``DPModel`` measures them. The 2-worker job also times AllReduce
alone for message sizes up to 4M floats (and the noise draw up to 11.2M, ResNet-18's size): the costs of the
loopback used by the scaling model in docs/scale.md. Job start-up (MindSpore's cluster set-up) is excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "dp_workers.md"
#: floats per AllReduce (11.2M, ResNet-18's |θ|, made MindSpore's CPU AllReduce fail under load: "Launch kernel
#: failed"); the noise draw is timed up to 11.2M
SIZES = (10_000, 100_000, 1_000_000, 4_000_000)
NOISE_SIZES = (*SIZES, 11_200_000)


#: Assumptions of the projection to a cluster (docs/scale.md states and discusses them).
ALPHA_S = 25e-6  # per-hop latency of a ring AllReduce step (TCP over a datacentre network)
BETA_BYTES_S = 25e9 / 8  # link bandwidth: 25 Gb/s Ethernet
GLOBAL_BATCH = 4096  # expected global batch (fixed: strong scaling, ε unchanged)
WORKERS = (1, 8, 64, 512)
#: ResNet-18 (CIFAR, 32x32) was not run here: ~0.56 GFLOP forward, DP-SGD with ghost clipping ~6x forward per
#: example (~3.3 GFLOP), at an assumed 1 TFLOP/s sustained per worker; 20 ms fixed per step (launch, update).
RESNET18 = {"model": "ResNet-18-sized (assumed compute)", "params": 11_200_000, "c0_ms": 20.0, "c1_ms": 3.3}


def ring_allreduce_s(workers: int, params: int) -> float:
    """Ring AllReduce of ``params`` float32: 2(N−1) latency hops, 2(N−1)/N of the message per link."""
    if workers == 1:
        return 0.0
    return 2 * (workers - 1) * ALPHA_S + 2 * (workers - 1) / workers * 4 * params / BETA_BYTES_S


def projected(workers: int, params: int, c0_ms: float, c1_ms: float, noise_ms: float) -> tuple[float, float]:
    """(steps/s, AllReduce share of the step) at ``workers``: local compute c0 + c1·B/N, plus the AllReduce;
    never faster than rank 0 draws the noise (it overlaps the step on a background thread)."""
    compute = (c0_ms + c1_ms * GLOBAL_BATCH / workers) / 1e3
    comm = ring_allreduce_s(workers, params)
    step = max(compute + comm, noise_ms / 1e3)
    return 1.0 / step, comm / step


def job(out: Path, model_name: str, steps: int, warmup: int, batch: int) -> None:
    """One training job (one process, or one msrun rank): time ``steps`` steps after ``warmup``."""
    from armour_plugins_privacy.dp.distributed import initialise

    initialise()
    import mindspore as ms
    import numpy as np
    from mindspore import nn
    from mindspore.train.callback import Callback

    import armour_core.ms  # noqa: F401
    from armour_core import registry
    from armour_plugins_privacy.dp.model import DPModel

    data = registry.create("dataset", "digits")

    def timed(b: int):
        """``DPModel.train`` at expected batch ``b``: (model, steps/s over ``steps`` steps after ``warmup``)."""
        ms.set_seed(0)
        net = registry.create("model", model_name, input_shape=data.input_shape, num_classes=10)
        model = DPModel(network=net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                        optimizer=nn.SGD(net.trainable_params(), learning_rate=0.1), noise_multiplier=1.0,
                        clip_norm=1.0, batch_size=b, accountant="rdp", seed=0)
        stamps: list[float] = []

        class Clock(Callback):
            def on_train_step_end(self, run_context):
                stamps.append(time.perf_counter())
                if len(stamps) == warmup and model.cluster is not None:
                    model.cluster.timings.update(local=0.0, allreduce=0.0, apply=0.0, steps=0)
                if len(stamps) >= warmup + steps:
                    run_context.request_stop()

        epochs = -(-(warmup + steps) // max(1, round(len(data.x_train) / b)))
        model.train(epochs, (data.x_train, data.y_train), callbacks=[Clock()])
        stamps = stamps[warmup - 1:warmup + steps]
        return model, (len(stamps) - 1) / (stamps[-1] - stamps[0])

    model, sps = timed(batch)
    result = {"model": model_name, "params": int(model._n_noise), "steps_per_s": sps,
              "workers": 1 if model.cluster is None else model.cluster.size}
    if model.cluster is None:  # the cost model's compute terms: step time at two batch sizes, noise draw
        result["small_batch"] = max(8, batch // 8)
        result["steps_per_s_small"] = timed(result["small_batch"])[1]
        result["noise_ms_by_size"] = {}
        for size in NOISE_SIZES:
            t0 = time.perf_counter()
            model.noise.sample(size, 0, clip_norm=1.0, dtype=np.float32)
            result["noise_ms_by_size"][str(size)] = 1e3 * (time.perf_counter() - t0)
    else:
        t = model.cluster.timings
        result.update({k: 1e3 * t[k] / max(t["steps"], 1) for k in ("local", "allreduce", "apply")})
        result["allreduce_ms_by_size"] = _allreduce_sizes(model.cluster)
        if not model.cluster.leader:
            return
    out.write_text(json.dumps(result))


def _allreduce_sizes(cluster) -> dict[str, float]:
    """Median ms of one AllReduce per message size (5 repetitions after one warm-up)."""
    import mindspore as ms
    import numpy as np

    res = {}
    for size in SIZES:
        x = ms.Tensor(np.ones(size, np.float32))
        cluster.allreduce(x, "warm-up")
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            cluster.allreduce(x, "benchmark")
            times.append(time.perf_counter() - t0)
        res[str(size)] = 1e3 * statistics.median(times)
    return res


def _run(workers: int, model: str, steps: int, warmup: int, batch: int) -> dict:
    from armour_plugins_privacy.dp.launch import free_port

    with tempfile.TemporaryDirectory(prefix="armour-bench-") as tmp:
        out = Path(tmp) / "result.json"
        args = [str(Path(__file__).resolve()), "--job", str(out), "--model", model, "--steps", str(steps),
                "--warmup", str(warmup), "--batch", str(batch)]
        env = {**os.environ, "GLOG_v": "3", "PYTHONPATH": str(HERE.parent)}
        if workers == 1:
            cmd = [sys.executable, *args]
        else:
            cmd = ["msrun", f"--worker_num={workers}", f"--local_worker_num={workers}",
                   f"--master_port={free_port()}", "--join=True", f"--log_dir={tmp}/logs", *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not out.exists():
            logs = "".join(p.read_text()[-1500:] for p in Path(tmp).glob("logs/worker_*.log"))
            raise RuntimeError(f"{workers}-worker job failed: {proc.stderr[-1500:]}{logs}")
        return json.loads(out.read_text())


def _projection(runs: dict, batch: int) -> list[str]:
    """Projected steps/s at 8, 64, 512 workers from the 1-worker step times at two batch sizes (T = c0 + c1·b)
    and the noise draw rate measured here, under the cluster assumptions above."""
    rows = []
    noise_rate = None
    for (model, workers), res in runs.items():
        if workers != 1:
            continue
        big = statistics.median(1e3 / r["steps_per_s"] for r in res)
        small = statistics.median(1e3 / r["steps_per_s_small"] for r in res)
        b = res[0]["small_batch"]
        c1 = max((big - small) / (batch - b), 0.0)
        # a fixed cost cannot be negative (two noisy points can extrapolate below zero)
        rows.append({"model": model, "params": res[0]["params"], "c0_ms": max(small - c1 * b, 0.0), "c1_ms": c1})
        noise_rate = statistics.median(r["noise_ms_by_size"][str(NOISE_SIZES[-1])] / NOISE_SIZES[-1] for r in res)
    rows.append(RESNET18)
    lines = ["### Projection to a cluster (ring AllReduce model)", "",
             f"Expected global batch {GLOBAL_BATCH}; per-hop latency {ALPHA_S * 1e6:g} µs, link bandwidth "
             f"{BETA_BYTES_S * 8 / 1e9:g} Gb/s (assumptions); local compute c0 + c1·B/N from the 1-worker step "
             f"times above at batch {batch} and {runs[next(iter(runs))][0].get('small_batch', '?')} (MLP, LeNet5) "
             "or assumed (ResNet-18); steps never faster than rank 0 draws the noise "
             f"({noise_rate * 1e6:.1f} ms per million floats here). Cells: steps/s (AllReduce share).", "",
             "| model | params | c0 ms | c1 ms/example | " + " | ".join(f"N={n}" for n in WORKERS) + " |",
             "|---|---|---|---|" + "---|" * len(WORKERS)]
    for row in rows:
        cells = []
        for n in WORKERS:
            sps, share = projected(n, row["params"], row["c0_ms"], row["c1_ms"], noise_rate * row["params"])
            cells.append(f"{sps:.3g} ({100 * share:.0f} %)")
        lines.append(f"| {row['model']} | {row['params']:,} | {row['c0_ms']:.2f} | {row['c1_ms']:.4f} | "
                     + " | ".join(cells) + " |")
    return [*lines, ""]


def _fmt(values: list[float], digits: int = 1) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}–{max(values):.{digits}f}]"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="MLP only, 2 rounds, 20 steps (proves it runs)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--model", default="mlp", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.job:
        job(args.job, args.model, args.steps, args.warmup, args.batch)
        return 0
    if shutil.which("msrun") is None:
        print("msrun (MindSpore's launcher) is not on PATH", file=sys.stderr)
        return 1
    rounds = args.rounds or (2 if args.quick else 5)
    steps = args.steps or (20 if args.quick else 100)
    models = ("mlp",) if args.quick else ("mlp", "lenet5")
    runs: dict[tuple[str, int], list[dict]] = {}
    for model in models:
        for r in range(rounds):
            for workers in (1, 2):  # interleaved: both see the same machine state
                res = _run(workers, model, steps, args.warmup, args.batch)
                runs.setdefault((model, workers), []).append(res)
                print(f"{model} round {r + 1}/{rounds}, {workers} worker(s): {res['steps_per_s']:.1f} steps/s",
                      flush=True)
    lines = ["## Data-parallel DP-SGD: 1 vs 2 workers (msrun, CPU, loopback)", "",
             f"`python benchmarks/bench_dp_workers.py{' --quick' if args.quick else ''}`: expected batch "
             f"{args.batch} (Poisson), {steps} timed steps after {args.warmup} warm-up steps, {rounds} interleaved "
             "rounds; median [min–max] over rounds. DPModel in PyNative with jitted step graphs; 2 workers share "
             "this machine's cores, so they compete for the same CPU as well as splitting the batch.", "",
             "| model | params | workers | steps/s | local ms/step | AllReduce ms/step | update ms/step | "
             "AllReduce share |", "|---|---|---|---|---|---|---|---|"]
    for (model, workers), res in runs.items():
        sps = [r["steps_per_s"] for r in res]
        if workers == 1:
            lines.append(f"| {model} | {res[0]['params']} | 1 | {_fmt(sps)} | | | | |")
            continue
        share = [r["allreduce"] / (r["local"] + r["allreduce"] + r["apply"]) for r in res]
        lines.append(f"| {model} | {res[0]['params']} | {workers} | {_fmt(sps)} | "
                     f"{_fmt([r['local'] for r in res], 2)} | {_fmt([r['allreduce'] for r in res], 2)} | "
                     f"{_fmt([r['apply'] for r in res], 2)} | {_fmt([100 * s for s in share])} % |")
    sizes = [r["allreduce_ms_by_size"] for (m, w), res in runs.items() if w == 2 for r in res]
    lines += ["", "AllReduce alone, 2 workers on the loopback (median ms over jobs; 5 calls each):", "",
              "| floats | MB | ms |", "|---|---|---|"]
    for size in SIZES:
        lines.append(f"| {size:,} | {4 * size / 1e6:.2f} | {_fmt([s[str(size)] for s in sizes], 2)} |")
    lines += ["", "Load average (1/5/15 min) at the end: " + "/".join(f"{v:.1f}" for v in os.getloadavg()) + ".", ""]
    lines += _projection(runs, args.batch)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
