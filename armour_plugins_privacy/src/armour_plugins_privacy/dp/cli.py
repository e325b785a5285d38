"""``armour train-dp`` (train the default CNN with DP-SGD, print ε over steps and accuracy, plot ε vs steps) and
``armour dp-audit`` (an empirical lower bound on ε from canaries, next to the accountant's)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from armour_core.cli_args import (nonnegative_int, optional_output_file, output_dir, output_file, positive_float,
                                  positive_int, probability)
from armour_core.errors import InvalidInputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-dp", aliases=["train_dp"], help="train the default CNN with DP-SGD; print and plot epsilon over steps",
        description="Train a network from the registry on an embedded dataset with DP-SGD (Poisson sampling, "
                    "per-example clipping, Gaussian noise), print epsilon per epoch and the test accuracy, and "
                    "save a plot of epsilon against steps.")
    from armour_core.loading import add_model_arguments

    add_model_arguments(p, limit=False,
                        checkpoint_help="weights to start --network from (a MindSpore .ckpt; default: as built)",
                        data_help="your data: an .npz with x_train, y_train, x_test, y_test (or x and y), "
                                  "floats within --bounds")
    p.add_argument("--epochs", type=positive_int, default=15)
    p.add_argument("--batch-size", type=positive_int, default=256, help="expected (Poisson) batch size")
    p.add_argument("--target-epsilon", type=positive_float, default=3.0,
                   help="calibrate the noise multiplier to reach this epsilon after all epochs (default 3)")
    p.add_argument("--noise-multiplier", type=positive_float, default=None,
                   help="use this sigma instead of calibrating")
    p.add_argument("--clip-norm", type=positive_float, default=1.0)
    p.add_argument("--delta", type=probability, default=1e-5)
    p.add_argument("--lr", type=positive_float, default=0.2, help="SGD learning rate (momentum 0.9)")
    p.add_argument("--noise", default="gaussian", help="noise plugin (gaussian, ada_gaussian)")
    p.add_argument("--clip", default="fixed", help="clip plugin (fixed, adaptive)")
    p.add_argument("--accountant", default="pld", help="accountant plugin (pld, rdp, zcdp)")
    p.add_argument("--method", default="auto", choices=("auto", "ghost", "vmap"))
    p.add_argument("--per-layer", action="store_true", help="per-layer clipping")
    p.add_argument("--secure", action="store_true", help="cryptographically secure noise (os.urandom)")
    p.add_argument("--budget", type=positive_float, default=None, help="stop training before epsilon exceeds this")
    p.add_argument("--ledger", type=output_file, default=None, help="privacy ledger path (resumed if it exists)")
    p.add_argument("--plot", type=optional_output_file, default="dp_epsilon.png",
                   help="where to save the epsilon-vs-steps plot ('' for none)")
    p.add_argument("--json", type=output_file, default=None, help="write the results as JSON here")
    p.add_argument("--save-checkpoint", type=output_file, default=None,
                   help="save the trained weights here, stamped with the ledger's head (armour audit --checkpoint "
                        "then checks that a ledger is this run's and complete)")
    p.add_argument("--checkpoint-every", type=positive_int, default=None,
                   help="also save --save-checkpoint every this many steps (a failed run resumes from it)")
    p.add_argument("--audit-canaries", type=nonnegative_int, default=0, metavar="M",
                   help="audit this run with M canaries (one-run audit, Steinke et al. 2023): prints an empirical "
                        "lower bound on epsilon next to the claimed one and fails (exit 1) if it is above (0: off)")
    p.add_argument("--audit-kind", choices=("gradient", "input"), default="gradient",
                   help="white-box Dirac gradient canaries (strong) or mislabelled input canaries (black-box)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--workers", type=positive_int, default=1,
                   help="data-parallel workers on this host, started through MindSpore's msrun (one global "
                        "Poisson sample, one AllReduce per step, the same epsilon; see docs/scale.md)")
    p.set_defaults(func=run, parser=p)


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


def _data_and_network(args: argparse.Namespace):
    """(dataset record, untrained or --checkpoint network, label): the embedded default, or the user's
    network and data through the shared loader (same checks and errors as every other command)."""
    from armour_core import loading, registry

    if args.network or args.data or args.checkpoint:
        if not (args.network and args.data):
            raise InvalidInputError("--network and --data: give both to train your own network (--checkpoint "
                                    "optionally starts it from trained weights)")
        data = loading.load_data(args.data, bounds=tuple(args.bounds))
        model = loading.user_model(args.network, args.checkpoint, loading.split_arrays(data), bounds=data.bounds)
        return data, model.network, f"{args.network} on {data.name}"
    data = registry.create("dataset", args.dataset)
    net = registry.create("model", args.model, input_shape=data.input_shape, num_classes=data.num_classes)
    return data, net, f"{args.model} on {args.dataset}"


def _check_resumed_weights(checkpoint: str, ledger_path: str | None, ledger) -> None:
    """Weights that DPModel trained carry the head of their ledger: continuing from them needs that ledger,
    complete (otherwise ε would leave out the steps already in the weights). Weights without a head (not
    trained by DPModel) start a run like any initialisation."""
    from .ledger import LedgerError, read_ledger_head

    head = read_ledger_head(checkpoint)
    if head is None:
        return
    if ledger is None:
        raise LedgerError(f"--checkpoint {checkpoint}: these weights come from {head.steps} DP-SGD steps recorded in a "
                          f"privacy ledger; pass that ledger with --ledger (a new one would under-report epsilon)"
                          + (f", not the missing {ledger_path}" if ledger_path else ""))
    ledger.verify_head(head, what=f"--checkpoint {checkpoint}")


def _checkpoint_every(k: int, model, path: str):
    """A callback saving the model's checkpoint (ledger head stamped in) every ``k`` steps."""
    from mindspore.train.callback import Callback

    class CheckpointEvery(Callback):
        def on_train_step_end(self, run_context) -> None:
            if run_context.original_args().cur_step_num % k == 0:
                model.save_checkpoint(path)

    return CheckpointEvery()


def run(args: argparse.Namespace) -> int:
    from . import distributed

    if args.workers > 1 and args.audit_canaries:
        raise InvalidInputError("--audit-canaries: the one-run audit runs in one process only (not with --workers)")
    if args.workers > 1 and distributed.detect() is None:
        from .launch import command_line, launch

        return launch(args.workers, command_line(args.parser, args))
    import mindspore as ms
    from mindspore import nn

    import armour_core.ms  # noqa: F401  (runtime settings)
    from armour_core.errors import BudgetExceededError
    from armour_core.ms.train import accuracy

    from .calibration import calibrate_noise
    from .callbacks import PrivacyMonitor
    from .model import DPModel

    ms.set_seed(args.seed)
    data, net, name = _data_and_network(args)
    n = len(data.x_train)
    if args.batch_size > n:
        raise InvalidInputError(f"--batch-size: expected at most the {n} training points of {name}, "
                                f"got {args.batch_size}")
    q = args.batch_size / n
    steps = args.epochs * max(1, round(1 / q))
    spent, resumed, previous = [], "", None
    if args.ledger and Path(args.ledger).exists():  # a resumed run: its earlier steps count against the target
        from .ledger import PrivacyLedger

        previous = PrivacyLedger.read(args.ledger)  # read-only; a damaged or foreign ledger stops here
        previous.check_compatible(delta=args.delta, sampling="poisson")
        spent = previous.events()
    if args.checkpoint:
        _check_resumed_weights(args.checkpoint, args.ledger, previous)
        if spent:
            resumed = (f"; the remaining budget after the ledger's {previous.num_steps} earlier steps "
                       f"(epsilon {previous.epsilon(args.delta, args.accountant):.4f})")
    if args.noise_multiplier is None:
        try:
            sigma = calibrate_noise(args.target_epsilon, args.delta, q, steps, accountant=args.accountant,
                                    spent=spent)
        except BudgetExceededError:
            raise BudgetExceededError(
                f"--target-epsilon {args.target_epsilon}: the ledger {args.ledger} already spent epsilon "
                f"{previous.epsilon(args.delta, args.accountant):.4f} at delta {args.delta:g} over "
                f"{previous.num_steps} steps; no budget remains (use a new --ledger or a larger target)") from None
        print(f"calibrated noise multiplier {sigma:.4f} for epsilon {args.target_epsilon} at delta {args.delta:g} "
              f"({steps} steps, sampling rate {q:.4f}, {args.accountant}{resumed})")
    else:
        sigma = args.noise_multiplier
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    opt = nn.Momentum(net.trainable_params(), learning_rate=args.lr, momentum=0.9)
    noise = (args.noise, {"secure": True}) if args.secure else args.noise
    model = DPModel(network=net, loss_fn=loss, optimizer=opt, noise_multiplier=sigma, clip_norm=args.clip_norm,
                    noise=noise, clip=args.clip, accountant=args.accountant, delta=args.delta, ledger=args.ledger,
                    batch_size=args.batch_size, per_layer=args.per_layer, method=args.method, seed=args.seed,
                    audit_canaries=args.audit_canaries or None, audit_kind=args.audit_kind)
    callbacks = [PrivacyMonitor(args.budget, every="epoch")]
    if args.checkpoint_every:
        if not args.save_checkpoint:
            raise InvalidInputError("--checkpoint-every: give --save-checkpoint (where to save)")
        callbacks.append(_checkpoint_every(args.checkpoint_every, model, args.save_checkpoint))
    model.train(args.epochs, (data.x_train, data.y_train), callbacks=callbacks, progress=None)
    if model.cluster is not None and not model.cluster.leader:
        return 0  # rank 0 reports and writes the outputs
    monitor = callbacks[0]
    acc = accuracy(net, data.x_test, data.y_test)
    eps = model.epsilon()
    print(f"{name}: {model.steps_taken} DP-SGD steps ({model.clipper.method} clipping), "
          f"test accuracy {acc:.4f}, epsilon {eps:.4f} at delta {args.delta:g} ({args.accountant})")
    audit = model.privacy_audit
    if audit is not None:
        print(audit.describe(), file=sys.stderr if audit.violated else sys.stdout)
    if monitor.stopped_at is not None:
        print(f"stopped at step {monitor.stopped_at}: the next step would exceed the budget {args.budget}")
    steps_curve, eps_curve = _epsilon_curve(model)
    if args.plot:
        save_plot(steps_curve, eps_curve, args.plot,
                  f"DP-SGD {name}: sigma={sigma:.3g}, q={q:.3g}, delta={args.delta:g}")
        print(f"epsilon-vs-steps plot: {Path(args.plot).resolve()}")
    if args.save_checkpoint:
        model.save_checkpoint(args.save_checkpoint)
        print(f"checkpoint (with the ledger head at step {model.steps_taken}): {Path(args.save_checkpoint).resolve()}")
    if args.json:
        from armour_core.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps({
            "model": args.network or args.model, "dataset": args.data or args.dataset, "noise_multiplier": sigma,
            "clip_norm": args.clip_norm,
            "sampling_rate": q, "steps": model.steps_taken, "delta": args.delta, "epsilon": eps,
            "accountant": args.accountant, "test_accuracy": acc, "method": model.clipper.method,
            "epsilon_curve": {"steps": steps_curve, "epsilon": eps_curve}, "history": model.history,
            "audit": None if audit is None else audit.summary()}, indent=2))
    sys.stdout.flush()
    return 1 if audit is not None and audit.violated else 0


def register_audit(subparsers) -> None:
    p = subparsers.add_parser("dp-audit", aliases=["dp_audit"],
                              help="empirical DP audit: lower bound on epsilon from canaries",
                              description="Train the embedded network several times with random subsets of "
                                          "mislabelled canaries, test canary membership, and print a "
                                          "Clopper-Pearson lower bound on epsilon next to the accountant's.")
    p.add_argument("--model", default="mlp")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--train-size", type=positive_int, default=400, help="training examples per run (default 400)")
    p.add_argument("--canaries", type=positive_int, default=64)
    p.add_argument("--canary-kind", choices=("mislabel", "clean"), default="mislabel")
    p.add_argument("--runs", type=positive_int, default=6, help="training runs (each inserts each canary w.p. 1/2)")
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--learning-rate", type=positive_float, help="default 1e-3 (Adam) or 0.5 (DP-SGD)")
    p.add_argument("--dp", action="store_true", help="train with armour's DPModel (DP-SGD)")
    p.add_argument("--noise-multiplier", type=positive_float, default=1.0)
    p.add_argument("--clip-norm", type=positive_float, default=1.0)
    p.add_argument("--delta", type=probability, default=1e-5)
    p.add_argument("--alpha", type=probability, default=0.05, help="1 - confidence of the bound (default 0.05)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--out", default="armour-report", type=output_dir)
    p.set_defaults(func=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    from armour_core import registry, report
    from armour_core.api.inference import plot_rocs

    from .audit import audit, classifier_train_fn, dp_train_fn

    data = registry.create("dataset", args.dataset)
    if not 1 <= args.train_size <= len(data.x_train):
        raise InvalidInputError(f"--train-size: expected 1..{len(data.x_train)}, got {args.train_size}")
    common = dict(input_shape=data.input_shape, num_classes=data.num_classes, epochs=args.epochs,
                  batch_size=args.batch_size)
    if args.dp:
        fn = dp_train_fn(args.model, **common, learning_rate=args.learning_rate or 0.5,
                         noise_multiplier=args.noise_multiplier, clip_norm=args.clip_norm, delta=args.delta)
        how = f"DP-SGD (noise multiplier {args.noise_multiplier}, clip {args.clip_norm})"
    else:
        fn = classifier_train_fn(args.model, **common, learning_rate=args.learning_rate or 1e-3)
        how = "non-private training"
    res = audit(fn, data.x_train[:args.train_size], data.y_train[:args.train_size], canaries=args.canaries,
                canary_kind=args.canary_kind, canary_pool=(data.x_test, data.y_test),
                num_classes=data.num_classes, runs=args.runs, delta=args.delta, alpha=args.alpha, seed=args.seed,
                progress=None)
    print(f"{args.model} on {args.dataset}, {how}, {args.runs} runs x {args.canaries} canaries "
          f"({res.seconds:.1f} s)")
    print("  " + res.describe())
    acc = "n/a" if res.accountant_epsilon is None else f"{res.accountant_epsilon:.3f}"
    rows = [("empirical lower bound on epsilon", f"{res.epsilon_lower:.3f}"),
            ("accountant epsilon", acc), ("confidence", f"{res.confidence:.0%}"), ("delta", f"{res.delta:g}"),
            ("evaluation trials", res.trials), ("threshold FPR / FNR", f"{res.fpr:.3f} / {res.fnr:.3f}"),
            ("Clopper-Pearson upper FPR / FNR", f"{res.fpr_upper:.3f} / {res.fnr_upper:.3f}"),
            ("canary attack AUC", f"{res.membership.auc:.3f}")]
    body = "\n".join([f"<p>{report.esc(args.model)} on {report.esc(args.dataset)}, {report.esc(how)}.</p>",
                      report.table(("quantity", "value"), rows),
                      report.img(report.figure_uri(plot_rocs([res.membership]).figure),
                                 "canary membership ROC (log-log)")])
    html_path, json_path = report.write(args.out, "audit", report.page(
        "armour empirical DP audit", [report.Section("audit", "Empirical DP audit", body)]),
        {"setting": how, **res.summary()})
    print(f"report: {html_path} and {json_path}")
    return 0
