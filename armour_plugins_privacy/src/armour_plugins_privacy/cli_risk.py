"""``armour membership``, ``armour suppress`` and ``armour audit``: privacy-risk workflows on the embedded
default (scikit-learn digits and a small network trained and cached on first use) or on your own network
and data. Results go to JSON and a self-contained HTML report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from armour_core.cli_args import (finite_float, fraction, nonnegative_int, output_dir, positive_float,
                                  positive_int, probability)
from armour_core.errors import InvalidInputError

DEFAULT_ATTACKS = "loss_threshold,entropy,classifier,lira"


# ------------------------------------------------------------------------------------------ shared
def _add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="mlp", help="embedded architecture (registry kind 'model'); default mlp")
    p.add_argument("--dataset", default="digits", help="embedded dataset (registry kind 'dataset')")
    p.add_argument("--network", help="your network: 'package.module:factory' returning an untrained nn.Cell")
    p.add_argument("--checkpoint", help="trained weights of --network (a MindSpore .ckpt)")
    p.add_argument("--data", help="your data: .npz with x_member, y_member, x_nonmember, y_nonmember "
                                  "(optional x_population, y_population)")
    p.add_argument("--bounds", type=finite_float, nargs=2, default=(0.0, 1.0), metavar=("LOW", "HIGH"))
    p.add_argument("--epochs", type=positive_int, help="training epochs of the target (and shadow models)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--learning-rate", type=positive_float, default=1e-3)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--out", default="armour-report", type=output_dir,
                   help="output directory for the JSON and HTML report")


def _target(args: argparse.Namespace):
    """(classifier, network builder, arch id, data dict, epochs, description)."""
    import armour_core.ms  # noqa: F401
    from armour_core import registry
    from armour_core.ms import pretrained as pt

    if args.network or args.data or args.checkpoint:
        if not (args.network and args.data and args.checkpoint):
            raise InvalidInputError("--network, --checkpoint and --data: give all three to assess your own model "
                                    "(its factory, its trained weights and an .npz of members and non-members)")
        from armour_core import loading

        d = loading.load_splits(args.data, loading.MEMBERSHIP, bounds=tuple(args.bounds),
                                optional=(("x_population", "y_population"),))
        model = loading.user_model(args.network, args.checkpoint, d, bounds=tuple(args.bounds))
        factory = loading.import_factory(args.network)  # LiRA trains shadow models of the same architecture
        return model, factory, None, d, args.epochs or 10, f"{args.network} ({args.checkpoint})"
    pre = pt.pretrained(args.model, args.dataset, seed=args.seed, epochs=args.epochs, progress=None)
    ds = pre.dataset
    d = {"x_member": ds.x_train, "y_member": ds.y_train, "x_nonmember": ds.x_test, "y_nonmember": ds.y_test}
    epochs = args.epochs or pt.DEFAULT_EPOCHS.get(ds.name, 10)
    name = registry.spec("model", args.model).name
    return pre.model, None, name, d, epochs, (f"{name} on {ds.name} (test accuracy {pre.test_accuracy:.3f}, "
                                              f"{'trained now' if pre.trained_now else 'cached'})")


def _write(out: str, name: str, title: str, sections, data: dict[str, Any]) -> tuple[Path, Path]:
    from armour_core import report

    return report.write(out, name, report.page(title, sections), data)


# ------------------------------------------------------------------------------------------ membership
def register_membership(subparsers) -> None:
    p = subparsers.add_parser("membership", help="membership-inference risk of a model",
                              description="Run membership-inference attacks and report ROC AUC, TPR at low "
                                          "FPR (log-log ROC), balanced accuracy and per-example risk.")
    _add_target_args(p)
    p.add_argument("--attacks", default=DEFAULT_ATTACKS, help=f"comma-separated (default {DEFAULT_ATTACKS})")
    p.add_argument("--classifier", default="lr", choices=("lr", "knn", "mlp", "rf"),
                   help="attack classifier of the 'classifier' attack")
    p.add_argument("--shadows", type=positive_int, default=8, help="LiRA shadow models (default 8)")
    p.add_argument("--offline", action="store_true", help="offline LiRA (shadows never see the targets)")
    p.add_argument("--max-examples", type=positive_int, default=500,
                   help="members and non-members evaluated, each (default 500)")
    p.set_defaults(func=run_membership)


def run_membership(args: argparse.Namespace) -> int:
    from armour_core import registry, report
    from armour_core.api.inference import plot_rocs

    model, factory, arch, d, epochs, desc = _target(args)
    attacks = [a.strip() for a in args.attacks.split(",") if a.strip()]
    for a in attacks:
        registry.spec("inference", a)  # unknown names fail before any work
    rng = np.random.default_rng(args.seed)

    def halves(x, y):
        idx = rng.permutation(len(x))[:2 * args.max_examples]
        h = len(idx) // 2
        return (x[idx[:h]], y[idx[:h]]), (x[idx[h:]], y[idx[h:]])

    (xma, yma), (xmb, ymb) = halves(d["x_member"], d["y_member"])
    (xna, yna), (xnb, ynb) = halves(d["x_nonmember"], d["y_nonmember"])
    print(f"target: {desc}")
    print(f"attack data: fit on {len(xma)} members + {len(xna)} non-members, evaluate on "
          f"{len(xmb)} + {len(xnb)} others")
    reports = []
    for name in attacks:
        t0 = time.perf_counter()
        kw: dict[str, Any] = {}
        if registry.spec("inference", name).name == "classifier":
            kw = {"method": args.classifier, "seed": args.seed}
        if registry.spec("inference", name).name == "lira":
            kw = {"shadows": args.shadows, "online": not args.offline, "epochs": epochs,
                  "batch_size": args.batch_size, "learning_rate": args.learning_rate, "seed": args.seed,
                  "progress": None}
            if arch:
                kw["architecture"] = arch
        is_lira = registry.spec("inference", name).name == "lira"
        extra = {"network_fn": factory} if is_lira and factory is not None else {}
        attack = registry.create("inference", name, model=model, **extra, **kw)
        attack.fit(xma, yma, xna, yna)
        if is_lira and "x_population" in d:
            attack.set_population(np.concatenate([xma, xna, d["x_population"]]),
                                  np.concatenate([yma, yna, d["y_population"]]))
        r = attack.evaluate(xmb, ymb, xnb, ynb)
        reports.append(r)
        print(f"  {name:<15} AUC {r.auc:.3f}  TPR@0.1%FPR {r.tpr_at_fpr[0.001]:.3f}  TPR@1%FPR "
              f"{r.tpr_at_fpr[0.01]:.3f}  balanced acc {r.balanced_accuracy:.3f}  "
              f"({time.perf_counter() - t0:.1f} s)")
    for note in sorted({n for r in reports for n in r.notes}):
        print(f"  note: {note}")
    rows = [(r.attack, r.auc, r.tpr_at_fpr[0.001], r.tpr_at_fpr[0.01], r.balanced_accuracy,
             "-" if r.precision is None else r.precision, "-" if r.recall is None else r.recall,
             "-" if r.accuracy is None else r.accuracy, r.seconds) for r in reports]
    body = [f"<p>Target: {report.esc(desc)}. Attacks fitted on {len(xma)} members and {len(xna)} non-members, "
            f"evaluated on {len(xmb)} and {len(xnb)} others.</p>",
            report.table(("attack", "ROC AUC", "TPR@0.1%FPR", "TPR@1%FPR", "balanced acc (best threshold)",
                          "precision", "recall", "accuracy", "seconds"), rows),
            report.img(report.figure_uri(plot_rocs(reports).figure), "ROC curves on log-log axes")]
    body += [f'<p class="warning">{report.esc(n)}</p>' for n in sorted({n for r in reports for n in r.notes})]
    best = max(reports, key=lambda r: (r.tpr_at_fpr[0.001], r.auc))
    order = np.argsort(-best.risk_member)[:10]
    if xmb.ndim == 4 and xmb.shape[1] in (1, 3):
        body.append(report.image_grid([xmb[order]], [f"highest {best.attack} risk"],
                                      [f"{best.risk_member[i]:.3f}" for i in order], bounds=tuple(model.bounds),
                                      title="members the strongest attack singles out (risk score)"))
    sections = [report.Section("membership", "Membership inference", "\n".join(body))]
    html_path, json_path = _write(args.out, "membership", "armour membership-inference report", sections,
                                  {"target": desc, "attacks": [r.to_dict() for r in reports]})
    print(f"report: {html_path} and {json_path}")
    return 0


# ------------------------------------------------------------------------------------------ suppress
def register_suppress(subparsers) -> None:
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
    p.set_defaults(func=run_suppress)


def run_suppress(args: argparse.Namespace) -> int:
    from armour_core import report

    from .risk_suppress import suppress_experiment

    layers = [s.strip() for s in args.layers.split(",")] if args.layers else None
    user: dict[str, Any] = {}
    if args.network or args.data:
        if not (args.network and args.data):
            raise InvalidInputError("--network and --data: give both to train your own network with suppression")
        from armour_core import loading

        data = loading.load_data(args.data)
        loading.user_model(args.network, None, {"x_train": data.x_train, "y_train": data.y_train,
                                                "x_test": data.x_test, "y_test": data.y_test}, bounds=data.bounds)
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
    html_path, json_path = _write(args.out, "suppress", "armour suppress-privacy report",
                                  [report.Section("suppress", "Suppress-privacy training", body)], res)
    print(f"report: {html_path} and {json_path}")
    return 0


# ------------------------------------------------------------------------------------------ audit
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
    html_path, json_path = _write(args.out, "audit", "armour empirical DP audit",
                                  [report.Section("audit", "Empirical DP audit", body)],
                                  {"setting": how, **res.summary()})
    print(f"report: {html_path} and {json_path}")
    return 0
