"""``armour train-dp``: train the default CNN with DP-SGD, print ε over steps and accuracy, plot ε vs steps."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-dp", aliases=["train_dp"], help="train the default CNN with DP-SGD; print and plot epsilon over steps",
        description="Train a network from the registry on an embedded dataset with DP-SGD (Poisson sampling, "
                    "per-example clipping, Gaussian noise), print epsilon per epoch and the test accuracy, and "
                    "save a plot of epsilon against steps.")
    p.add_argument("--model", default="lenet5", help="model from the registry (default: lenet5)")
    p.add_argument("--dataset", default="digits", help="dataset from the registry (default: digits)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=256, help="expected (Poisson) batch size")
    p.add_argument("--target-epsilon", type=float, default=3.0,
                   help="calibrate the noise multiplier to reach this epsilon after all epochs (default 3)")
    p.add_argument("--noise-multiplier", type=float, default=None, help="use this sigma instead of calibrating")
    p.add_argument("--clip-norm", type=float, default=1.0)
    p.add_argument("--delta", type=float, default=1e-5)
    p.add_argument("--lr", type=float, default=0.2, help="SGD learning rate (momentum 0.9)")
    p.add_argument("--noise", default="gaussian", help="noise plugin (gaussian, ada_gaussian)")
    p.add_argument("--clip", default="fixed", help="clip plugin (fixed, adaptive)")
    p.add_argument("--accountant", default="pld", help="accountant plugin (pld, rdp, zcdp)")
    p.add_argument("--method", default="auto", choices=("auto", "ghost", "vmap"))
    p.add_argument("--per-layer", action="store_true", help="per-layer clipping")
    p.add_argument("--secure", action="store_true", help="cryptographically secure noise (os.urandom)")
    p.add_argument("--budget", type=float, default=None, help="stop training before epsilon exceeds this")
    p.add_argument("--ledger", default=None, help="privacy ledger path (resumed if it exists)")
    p.add_argument("--plot", default="dp_epsilon.png", help="where to save the epsilon-vs-steps plot ('' for none)")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def _epsilon_curve(model, points: int = 16) -> tuple[list[int], list[float]]:
    """ε after each of ``points`` step counts, recomputed from the ledger."""
    total = model.steps_taken
    if total == 0:
        return [0], [0.0]
    grid = sorted({max(1, round(total * k / points)) for k in range(1, points + 1)})
    return [0, *grid], [0.0, *(model.ledger.epsilon(model.delta, model.accountant, upto=t) for t in grid)]


def save_plot(steps: list[int], eps: list[float], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from armour_core.atomic import atomic_write_bytes
    import io

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, eps, marker="o", markersize=3)
    ax.set_xlabel("DP-SGD steps")
    ax.set_ylabel("epsilon")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def run(args: argparse.Namespace) -> int:
    import mindspore as ms
    from mindspore import nn

    import armour_core.ms  # noqa: F401  (runtime settings)
    from armour_core import registry
    from armour_core.errors import InvalidInputError
    from armour_core.ms.train import accuracy
    from armour_core.wrappers.calibration import calibrate_noise
    from armour_core.wrappers.dp_callbacks import PrivacyMonitor
    from armour_core.wrappers.dp_model import DPModel

    if args.epochs < 1:
        raise InvalidInputError(f"--epochs must be >= 1, got {args.epochs}")
    data = registry.create("dataset", args.dataset)
    n = len(data.x_train)
    q = args.batch_size / n
    steps = args.epochs * max(1, round(1 / q))
    if args.noise_multiplier is None:
        sigma = calibrate_noise(args.target_epsilon, args.delta, q, steps, accountant=args.accountant)
        print(f"calibrated noise multiplier {sigma:.4f} for epsilon {args.target_epsilon} at delta {args.delta:g} "
              f"({steps} steps, sampling rate {q:.4f}, {args.accountant})")
    else:
        sigma = args.noise_multiplier
    ms.set_seed(args.seed)
    net = registry.create("model", args.model, input_shape=data.input_shape, num_classes=data.num_classes)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    opt = nn.Momentum(net.trainable_params(), learning_rate=args.lr, momentum=0.9)
    noise = (args.noise, {"secure": True}) if args.secure else args.noise
    model = DPModel(network=net, loss_fn=loss, optimizer=opt, noise_multiplier=sigma, clip_norm=args.clip_norm,
                    noise=noise, clip=args.clip, accountant=args.accountant, delta=args.delta, ledger=args.ledger,
                    batch_size=args.batch_size, per_layer=args.per_layer, method=args.method, seed=args.seed)
    monitor = PrivacyMonitor(args.budget, every="epoch")
    model.train(args.epochs, (data.x_train, data.y_train), callbacks=[monitor], progress=None)
    acc = accuracy(net, data.x_test, data.y_test)
    eps = model.epsilon()
    print(f"{args.model} on {args.dataset}: {model.steps_taken} DP-SGD steps ({model.clipper.method} clipping), "
          f"test accuracy {acc:.4f}, epsilon {eps:.4f} at delta {args.delta:g} ({args.accountant})")
    if monitor.stopped_at is not None:
        print(f"stopped at step {monitor.stopped_at}: the next step would exceed the budget {args.budget}")
    steps_curve, eps_curve = _epsilon_curve(model)
    if args.plot:
        save_plot(steps_curve, eps_curve, args.plot,
                  f"DP-SGD {args.model}/{args.dataset}: sigma={sigma:.3g}, q={q:.3g}, delta={args.delta:g}")
        print(f"epsilon-vs-steps plot: {Path(args.plot).resolve()}")
    if args.json:
        from armour_core.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps({
            "model": args.model, "dataset": args.dataset, "noise_multiplier": sigma, "clip_norm": args.clip_norm,
            "sampling_rate": q, "steps": model.steps_taken, "delta": args.delta, "epsilon": eps,
            "accountant": args.accountant, "test_accuracy": acc, "method": model.clipper.method,
            "epsilon_curve": {"steps": steps_curve, "epsilon": eps_curve}, "history": model.history}, indent=2))
    sys.stdout.flush()
    return 0
