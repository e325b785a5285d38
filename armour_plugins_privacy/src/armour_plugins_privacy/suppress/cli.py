"""``armour suppress``: suppress-privacy training of the embedded default or of your own network and data,
with achieved sparsity, accuracy and membership leakage next to the same training without suppression."""

from __future__ import annotations

import argparse
from typing import Any

from armour_core.cli_args import fraction, nonnegative_int, output_dir, positive_float, positive_int
from armour_core.errors import InvalidInputError


def register(subparsers) -> None:
    p = subparsers.add_parser("suppress", help="suppress-privacy training with a sparsity schedule",
                              description="Train the embedded default network with SuppressModel, report the "
                                          "achieved sparsity per layer, accuracy and membership leakage next "
                                          "to the same training without suppression.")
    p.add_argument("--model", default="mlp")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--network", help="your network instead: 'package.module:factory' or 'file.py:factory' "
                                     "returning an untrained nn.Cell (with --data; trained from scratch)")
    p.add_argument("--data", help="your data: an .npz with x_train, y_train, x_test, y_test (or x and y)")
    p.add_argument("--suppressor", default="magnitude", help="suppressor plugin (magnitude, random, layerwise)")
    p.add_argument("--layers", help="comma-separated parameter names (default: every weight matrix/kernel)")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--start-epoch", type=positive_int, default=2)
    p.add_argument("--end-epoch", type=positive_int, default=12)
    p.add_argument("--mask-times", type=positive_int, default=30)
    p.add_argument("--sparse-start", type=fraction, default=0.0)
    p.add_argument("--sparse-end", type=fraction, default=0.9)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--learning-rate", type=positive_float, default=3e-3)
    p.add_argument("--mode", choices=("pynative", "graph"), default="pynative", help="MindSpore execution mode")
    p.add_argument("--no-baseline", action="store_true", help="skip the unsuppressed comparison run")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--out", default="armour-report", type=output_dir)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from armour_core import report

    from .experiment import suppress_experiment

    layers = [s.strip() for s in args.layers.split(",")] if args.layers else None
    user: dict[str, Any] = {}
    if args.network or args.data:
        if not (args.network and args.data):
            raise InvalidInputError("--network and --data: give both to train your own network with suppression")
        from armour_core import loading

        data = loading.load_data(args.data)
        loading.user_model(args.network, None, loading.split_arrays(data), bounds=data.bounds)
        if args.batch_size > len(data.x_train):
            raise InvalidInputError(f"--batch-size: expected at most the {len(data.x_train)} training points of "
                                    f"{args.data!r}, got {args.batch_size}")
        user = {"network_fn": loading.import_factory(args.network), "data": data}
        args.model, args.dataset = args.network, args.data  # the labels of the run
    res = suppress_experiment(model=args.model, dataset=args.dataset, suppressor=args.suppressor, layers=layers,
                              epochs=args.epochs, start_epoch=args.start_epoch, end_epoch=args.end_epoch,
                              mask_times=args.mask_times, sparse_start=args.sparse_start,
                              sparse_end=args.sparse_end, batch_size=args.batch_size,
                              learning_rate=args.learning_rate, mode=args.mode, baseline=not args.no_baseline,
                              seed=args.seed, **user)
    print(f"{args.model} on {args.dataset}, suppressor {args.suppressor}, {args.mode} mode, "
          f"{res['seconds']:.1f} s")
    for name, s in res["sparsity"].items():
        print(f"  sparsity {name:<16} {s:.3f}")
    print(f"  test accuracy {res['accuracy']:.3f}  train accuracy {res['train_accuracy']:.3f}  "
          f"membership AUC (loss threshold) {res['membership_auc']:.3f}")
    if res.get("baseline"):
        b = res["baseline"]
        print(f"  without suppression: test accuracy {b['accuracy']:.3f}  train accuracy "
              f"{b['train_accuracy']:.3f}  membership AUC {b['membership_auc']:.3f}")
    rows = [(n, s) for n, s in res["sparsity"].items()]
    comp = [("suppressed", res["accuracy"], res["train_accuracy"], res["membership_auc"])]
    if res.get("baseline"):
        b = res["baseline"]
        comp.append(("no suppression", b["accuracy"], b["train_accuracy"], b["membership_auc"]))
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    hist = res["history"]
    ax.plot([h["step"] for h in hist], [h["target"] for h in hist], "k--", label="scheduled")
    ax.plot([h["step"] for h in hist], [h["achieved"]["__all__"] for h in hist], "o", ms=3, label="achieved")
    ax.set_xlabel("training step")
    ax.set_ylabel("sparsity")
    ax.legend()
    body = "\n".join([
        f"<p>{report.esc(args.model)} on {report.esc(args.dataset)}, suppressor "
        f"<b>{report.esc(args.suppressor)}</b>, {args.mode} mode, {res['seconds']:.1f} s.</p>",
        report.table(("parameter", "achieved sparsity"), rows),
        report.table(("model", "test accuracy", "train accuracy", "membership AUC (loss threshold)"), comp),
        report.img(report.figure_uri(fig), "sparsity schedule")])
    html_path, json_path = report.write(args.out, "suppress", report.page(
        "armour suppress-privacy report", [report.Section("suppress", "Suppress-privacy training", body)]), res)
    print(f"report: {html_path} and {json_path}")
    return 0
