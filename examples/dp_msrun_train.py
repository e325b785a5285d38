"""Data-parallel DP-SGD with your own ``msrun`` launch: the usual single-process DPModel script plus ``init()``.

    msrun --worker_num=2 --local_worker_num=2 --master_port=8118 --join=True \
        examples/dp_msrun_train.py --data train.npz --ledger run.ledger --checkpoint run.ckpt

Every rank runs this same script. ``DPModel`` sees the initialised communication context and trains
data-parallel: one global Poisson sample split across ranks, one AllReduce of the clipped gradient sums per
step, the noise added once (by rank 0), identical parameters everywhere. Rank 0 alone writes the ledger and
the checkpoint, and ε is the single-process run's for the same (q, σ, steps). Rerunning with ``--resume``
continues from the checkpoint; the ledger keeps counting (the steps of the failed run included).

``network`` is also a factory for ``armour train-dp --network examples/dp_msrun_train.py:network``.
"""

from __future__ import annotations

import argparse

import numpy as np


def network(input_shape=(1, 8, 8), num_classes: int = 10):
    """A small MLP (the factory ``armour train-dp --network`` can load too)."""
    from armour_core import registry

    return registry.create("model", "mlp", input_shape=tuple(input_shape), num_classes=num_classes)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help=".npz with x_train and y_train")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--noise-multiplier", type=float, default=1.0)
    ap.add_argument("--ledger", required=True)
    ap.add_argument("--checkpoint", required=True, help="saved by rank 0 every --every steps and at the end")
    ap.add_argument("--every", type=int, default=2)
    ap.add_argument("--resume", action="store_true", help="continue from --checkpoint (checked against the ledger)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import mindspore as ms
    from mindspore import nn
    from mindspore.communication import get_rank, init
    from mindspore.train.callback import Callback

    import armour_core.ms  # noqa: F401  (CPU runtime settings)
    from armour_plugins_privacy.dp.model import DPModel

    init()  # the one line a data-parallel script adds
    ms.set_seed(args.seed)  # the same initial weights on every rank
    data = np.load(args.data)
    x, y = data["x_train"].astype(np.float32), data["y_train"].astype(np.int64)
    net = network(x.shape[1:], int(y.max()) + 1)
    model = DPModel(network=net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                    optimizer=nn.SGD(net.trainable_params(), learning_rate=0.5),
                    noise_multiplier=args.noise_multiplier, clip_norm=1.0, ledger=args.ledger,
                    batch_size=args.batch_size, seed=args.seed)
    if args.resume:
        model.load_checkpoint(args.checkpoint)  # refuses a ledger that is cut or another run's

    class Save(Callback):
        def on_train_step_end(self, run_context):
            if run_context.original_args().cur_step_num % args.every == 0:
                model.save_checkpoint(args.checkpoint)  # rank 0 writes, the others skip

    model.train(args.epochs, (x, y), callbacks=[Save()])
    model.save_checkpoint(args.checkpoint)
    if get_rank() == 0:
        print(f"rank 0 of {model.cluster.size if model.cluster else 1}: {model.steps_taken} steps in the ledger, "
              f"epsilon {model.epsilon():.4f} at delta {model.delta:g}", flush=True)


if __name__ == "__main__":
    main()
