"""Data-parallel DP-SGD scenarios: run by ``msrun`` (one JSON of results per rank) and imported by
``test_dp_distributed.py`` for the single-process references, so both sides train exactly the same thing.

    msrun --worker_num=2 --local_worker_num=2 --master_port=P --join=True dist_worker.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

N, BATCH = 256, 64  # q = 0.25: 4 steps per epoch


def digits() -> tuple[np.ndarray, np.ndarray]:
    from armour_core import registry

    d = registry.create("dataset", "digits")
    return d.x_train[:N], d.y_train[:N]


class CountingSource:
    """A random-access source that records the indices each read asked for."""

    def __init__(self, x, y):
        self.x, self.y, self.reads, self._current = x, y, [], None

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if self._current:
            self.reads[-1].append(int(i))
        return self.x[i], self.y[i]

    def mark(self):
        """Start recording a new read (one per step after the checks)."""
        self._current = True
        self.reads.append([])


def build(noise=None, ledger=None, seed=0):
    import mindspore as ms
    from mindspore import nn

    import armour_core.ms  # noqa: F401
    from armour_core import registry
    from armour_plugins_privacy.dp.model import DPModel

    ms.set_seed(0)
    net = registry.create("model", "mlp", input_shape=(1, 8, 8), num_classes=10)
    kw = {"noise": noise} if noise is not None else {"noise_multiplier": 1.0}
    return DPModel(network=net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                   optimizer=nn.SGD(net.trainable_params(), learning_rate=0.5), clip_norm=1.0, ledger=ledger,
                   batch_size=BATCH, seed=seed, **kw)


def zero_noise():
    """Gaussian noise scaled to zero: the σ = 0 comparison (DPModel refuses σ = 0 itself)."""
    from armour_plugins_privacy.dp.noise import Gaussian

    class ZeroNoise(Gaussian):
        def sample(self, shape, step=0, *, clip_norm=None, dtype=np.float32):
            return np.zeros(shape, dtype)

    return ZeroNoise(noise_multiplier=1.0, clip_norm=1.0, seed=0)


def stop_after(k: int, hook=None):
    from mindspore.train.callback import Callback

    class StopAfter(Callback):
        def on_train_step_begin(self, run_context):
            if hook is not None:
                hook()

        def on_train_step_end(self, run_context):
            if run_context.original_args().cur_step_num >= k:
                run_context.request_stop()

    return StopAfter()


def flat(model) -> list[float]:
    return np.concatenate([p.asnumpy().reshape(-1) for p in model._dp_opt.parameters]).tolist()


def case_zero() -> dict:
    """One step without noise."""
    model = build(noise=zero_noise())
    model.train(1, digits(), callbacks=[stop_after(1)])
    return {"params": flat(model), "steps": model.steps_taken}


def case_noisy(ledger: str) -> dict:
    """Two epochs (8 steps) with σ = 1, a ledger file and a checkpoint."""
    model = build(ledger=ledger)
    model.train(2, digits())
    saved = model.save_checkpoint(str(Path(ledger).with_suffix(".ckpt")))
    return {"params": flat(model), "steps": model.steps_taken, "epsilon": model.epsilon(),
            "sigmas": [s["sigma"] for s in model.ledger.counted_steps],
            "qs": [s["q"] for s in model.ledger.counted_steps], "saved": saved is not None}


def case_lazy() -> dict:
    """Three steps from a GeneratorDataset over a random-access source: which indices each step read."""
    from mindspore.dataset import GeneratorDataset

    source = CountingSource(*digits())
    model = build()
    model.train(1, GeneratorDataset(source, ["x", "y"], shuffle=False), callbacks=[stop_after(3, source.mark)])
    return {"params": flat(model), "reads": source.reads}


def case_divergence() -> dict:
    """A parameter changed on one rank only: the next check must fail on every rank."""
    from mindspore import ops

    from armour_plugins_privacy.dp.distributed import DivergenceError

    model = build()
    model.cluster.check_every = 1
    if model.cluster.rank == 1:
        p = model._dp_opt.parameters[0]
        ops.assign(p, p + 1e-3)
    try:
        model.train(1, digits(), callbacks=[stop_after(1)])
    except DivergenceError as exc:
        return {"error": str(exc)}
    return {"error": None}


def case_unseeded() -> dict:
    """``seed=None``: rank 0's entropy is broadcast, so every rank still draws the same sample."""
    model = build(seed=None)
    model.train(1, digits(), callbacks=[stop_after(2)])
    return {"params": flat(model)}


def case_other_ledger(out: Path, rank: int) -> dict:
    """Rank 1 given a ledger file the others do not see: refused before any step, on every rank."""
    from armour_plugins_privacy.dp.distributed import DistributedError

    try:
        build(ledger=str(out / ("noisy.ledger" if rank == 0 else "elsewhere.ledger")))
    except DistributedError as exc:
        return {"error": str(exc)}
    return {"error": None}


def main(out: Path) -> None:
    """No ``init()`` here: under msrun, DPModel initialises ``mindspore.communication`` itself (the first
    case proves it; msrun's scheduler process stays inside that first DPModel until the job ends)."""
    from mindspore.communication import get_rank

    results = {"zero": case_zero()}
    rank = get_rank()
    results.update({"noisy": case_noisy(str(out / "noisy.ledger")), "lazy": case_lazy(),
                    "divergence": case_divergence(), "unseeded": case_unseeded(),
                    "other_ledger": case_other_ledger(out, rank)})
    (out / f"rank{rank}.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
