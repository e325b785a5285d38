"""The measurements behind ``docs/performance.md`` (not part of ``run.py``: they print, they do not write
RESULTS.md). Batch 256 of MNIST-5k, PyNative with armour's runtime settings, CPU.

* ``profile_step.py profile {train,xgrad} OUT``: MindSpore's profiler (CPU activity) around 10 steps of the
  plain LeNet5 training step or of its forward + input-gradient pass; per-op tables land in
  ``OUT/*/FRAMEWORK/cpu_op_type_info_0.csv``.
* ``profile_step.py knob SETTING``: median of 8 plain LeNet5 steps in this process under ``SETTING``
  (``default``, ``threads<n>``, ``cell``, ``graph``); run one fresh process per setting, interleaved.
* ``profile_step.py dp {mlp,lenet} [ROUNDS]``: plain step vs armour's ghost DP step (as ``bench_dp.py``
  builds both: the next step's noise drawn on a background thread, as ``DPModel.train`` does), the same with
  the noise drawn inline, the DP graph alone with fixed noise, and the host noise draw; interleaved rounds in
  one process, median and per-round ratios.
* ``profile_step.py contention``: the plain MLP step and the ghost DP graph (fixed noise) with the second core
  idle, then busy with a spawned process that only draws numpy normals, then idle again.
* ``profile_step.py noise``: the MLP's 203,530 float32 Gaussian numbers drawn by the ``gaussian`` plugin, by
  numpy's float32 ziggurat, and by MindSpore's ``StandardNormal`` inside a ``jit`` graph.
* ``profile_step.py export save|load DIR``: the MLP's input gradient (batch 256) exported to MindIR
  (``save``: jit first call, export time), then in a fresh process (``load``) loaded into an ``nn.GraphCell``:
  load time, first and steady call, results against the saved ones, and whether an in-place change of a
  network weight reaches the ``GraphCell`` (it holds copies).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
BATCH = 256


def _setup(setting: str = "default"):
    import armour_core.ms  # noqa: F401  (runtime settings)
    import mindspore as ms

    if setting.startswith("threads"):
        ms.device_context.cpu.op_tuning.threads_num(int(setting[7:]))
    elif setting == "graph":
        ms.set_context(mode=ms.GRAPH_MODE)
    import numpy as np

    from armour_core.builtin.datasets import load_mnist5k

    data = load_mnist5k()
    x = np.ascontiguousarray(data.x_train[:BATCH], dtype=np.float32)
    y = data.y_train[:BATCH].astype(np.int32)
    return ms, np, x, y


def _net(kind: str):
    from armour_core.builtin.models import MLP, LeNet5

    return MLP(input_shape=(1, 28, 28), hidden=256) if kind == "mlp" else LeNet5(input_shape=(1, 28, 28))


def _plain_cell(net):
    from mindspore import nn

    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    cell = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.SGD(net.trainable_params(), learning_rate=0.01))
    cell.set_train()

    def run(a, b):
        return cell(a, b).asnumpy()

    return run


def _input_gradient(ms, net):
    from mindspore import nn

    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="none")

    def total(a, b):
        return ce(net(a), b).sum()

    grad = ms.jit(ms.grad(total, grad_position=0))

    def run(a, b):
        return grad(a, b).asnumpy()

    return run


def profile(what: str, out: str) -> None:
    from bench_dp import plain_step
    from mindspore.profiler import Profiler, ProfilerActivity

    ms, np, x, y = _setup()
    ms.set_seed(0)
    net = _net("lenet")
    fn = plain_step(net) if what == "train" else _input_gradient(ms, net)
    xt, yt = ms.Tensor(x), ms.Tensor(y)
    for _ in range(3):
        fn(xt, yt)
    prof = Profiler(output_path=out, activities=[ProfilerActivity.CPU])
    t = time.perf_counter()
    for _ in range(10):
        fn(xt, yt)
    print(f"{what}: 10 steps {time.perf_counter() - t:.2f} s, load {os.getloadavg()[0]:.1f}")
    prof.stop()
    prof.analyse()


def knob(setting: str) -> None:
    from bench_dp import plain_step

    ms, np, x, y = _setup(setting)
    ms.set_seed(0)
    net = _net("lenet")
    fn = _plain_cell(net) if setting == "cell" else plain_step(net)
    xt, yt = ms.Tensor(x), ms.Tensor(y)
    for _ in range(3):
        fn(xt, yt)
    times = []
    for _ in range(8):
        t = time.perf_counter()
        fn(xt, yt)
        times.append((time.perf_counter() - t) * 1e3)
    print(f"{setting}: median {statistics.median(times):.1f} ms, load {os.getloadavg()[0]:.1f}")


def dp(kind: str, rounds: int) -> None:
    from bench_dp import armour_step, make_armour_runner, plain_step

    ms, np, x, y = _setup()
    xt, yt = ms.Tensor(x), ms.Tensor(y)
    ms.set_seed(0)
    fns = {"plain": plain_step(_net(kind))}
    model = armour_step(_net(kind), BATCH, "ghost")
    fns["ghost"] = make_armour_runner(model, x, y, BATCH)
    step = model._compiled["step"]
    fixed = (ms.Tensor(np.ones(BATCH, np.float32)), ms.Tensor(1.0, ms.float32),
             model._noise_tensors(np.zeros(model._n_noise, np.float32)), ms.Tensor(1.0 / BATCH, ms.float32))

    def graph_only(a, b):
        return step(a, b, *fixed)[1].asnumpy()

    def noise_draw(a, b):
        return model.noise.sample(model._n_noise, 0, clip_norm=1.0 / BATCH, dtype=np.float32)

    def inline(a, b):
        z = model._noise_tensors(noise_draw(a, b))
        return step(a, b, fixed[0], fixed[1], z, fixed[3])[1].asnumpy()

    fns["ghost inline noise"] = inline
    fns["ghost graph only"] = graph_only
    fns["host noise draw"] = noise_draw
    for fn in fns.values():
        fn(xt, yt)
    inner = 5 if kind == "mlp" else 2
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            for _ in range(inner):
                fn(xt, yt)
            times[k].append((time.perf_counter() - t) / inner * 1e3)
    base = statistics.median(times["plain"])
    print(f"{kind}: load {os.getloadavg()[0]:.1f}")
    for k, v in times.items():
        per_round = [round(a / b, 2) for a, b in zip(v, times["plain"])]
        print(f"  {k:18s} median {statistics.median(v):8.2f} ms ({min(v):.2f}-{max(v):.2f}), "
              f"x plain {statistics.median(v) / base:.2f}, per round {per_round}")


def _median_ms(fn, calls: int = 10, rounds: int = 7) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t) / calls * 1e3)
    return statistics.median(times)


def _busy_normals(stop) -> None:
    import numpy as np

    gen, buf = np.random.default_rng(0), np.empty(203_530, np.float32)
    while not stop.is_set():
        gen.standard_normal(out=buf, dtype=np.float32)


def contention() -> None:
    import multiprocessing

    from bench_dp import armour_step, plain_step

    ms, np, x, y = _setup()
    xt, yt = ms.Tensor(x), ms.Tensor(y)
    ms.set_seed(0)
    plain = plain_step(_net("mlp"))
    model = armour_step(_net("mlp"), BATCH, "ghost")
    model._build(x, y, BATCH)
    step = model._compiled["step"]
    fixed = (ms.Tensor(np.ones(BATCH, np.float32)), ms.Tensor(1.0, ms.float32),
             model._noise_tensors(np.zeros(model._n_noise, np.float32)), ms.Tensor(1.0 / BATCH, ms.float32))

    def measure(label: str) -> None:
        a = _median_ms(lambda: plain(xt, yt))
        b = _median_ms(lambda: step(xt, yt, *fixed)[1].asnumpy())
        print(f"{label:28s} plain step {a:6.2f} ms, ghost graph {b:6.2f} ms")

    measure("second core idle")
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    busy = ctx.Process(target=_busy_normals, args=(stop,))
    busy.start()
    time.sleep(1.0)
    measure("second core drawing normals")
    stop.set()
    busy.join()
    measure("second core idle again")


def noise() -> None:
    ms, np, _, _ = _setup()
    from mindspore import ops

    from armour_plugins_privacy.dp.noise import Gaussian

    n = 203_530
    plugin, gen = Gaussian(noise_multiplier=1.0, seed=0), np.random.default_rng(0)
    normal = ops.StandardNormal(seed=1, seed2=2)

    def in_graph(z):
        return z + normal((n,))

    graph, zero = ms.jit(in_graph), ms.Tensor(np.zeros(n, np.float32))
    print(f"gaussian plugin (float32)       {_median_ms(lambda: plugin.sample(n, dtype=np.float32)):6.2f} ms")
    print(f"numpy float32 ziggurat          {_median_ms(lambda: gen.standard_normal(n, dtype=np.float32)):6.2f} ms")
    print(f"MindSpore StandardNormal in jit {_median_ms(lambda: graph(zero).asnumpy()):6.2f} ms")


def export(action: str, out: str) -> None:
    ms, np, x, y = _setup()
    from mindspore import nn, ops

    from armour_core.ms.losses import cross_entropy

    ms.set_seed(0)
    net = _net("mlp")
    net.set_train(False)

    class InputGradient(nn.Cell):
        def __init__(self, network):
            super().__init__()
            self.network = network

        def construct(self, a, b):
            def total(u, v):
                return cross_entropy(self.network(u), v).sum()

            return ms.grad(total, grad_position=0)(a, b)

    cell, xt, yt = InputGradient(net), ms.Tensor(x), ms.Tensor(y)
    path = Path(out) / "input_gradient"
    if action == "save":
        jitted = ms.jit(cell.construct)
        t = time.perf_counter()
        ref = jitted(xt, yt).asnumpy()
        first = time.perf_counter() - t
        print(f"jit first call {first:.3f} s, steady {_median_ms(lambda: jitted(xt, yt).asnumpy()):.2f} ms")
        t = time.perf_counter()
        ms.export(cell, xt, yt, file_name=str(path), file_format="MINDIR")
        print(f"export {time.perf_counter() - t:.3f} s")
        np.save(str(path) + ".npy", ref)
        return
    t = time.perf_counter()
    graph = nn.GraphCell(ms.load(str(path) + ".mindir"))
    loaded = time.perf_counter() - t
    t = time.perf_counter()
    out_first = graph(xt, yt).asnumpy()
    first = time.perf_counter() - t
    steady = _median_ms(lambda: graph(xt, yt).asnumpy())
    diff = float(np.abs(out_first - np.load(str(path) + ".npy")).max())
    print(f"load {loaded * 1e3:.1f} ms, first call {first * 1e3:.1f} ms, steady {steady:.2f} ms, max |diff| {diff:g}")
    w = next(iter(net.get_parameters()))
    ops.assign(w, w * 2.0)
    live = ms.jit(cell.construct)(xt, yt).asnumpy()
    print(f"after doubling {w.name} in the network: the network's gradient moved by "
          f"{float(np.abs(live - out_first).max()):g}, the GraphCell's by "
          f"{float(np.abs(graph(xt, yt).asnumpy() - out_first).max()):g}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "profile":
        profile(args[0], args[1])
    elif cmd == "knob":
        knob(args[0])
    elif cmd == "dp":
        dp(args[0], int(args[1]) if len(args) > 1 else 7)
    elif cmd == "contention":
        contention()
    elif cmd == "noise":
        noise()
    elif cmd == "export":
        export(args[0], args[1])
    else:
        raise SystemExit(__doc__)
