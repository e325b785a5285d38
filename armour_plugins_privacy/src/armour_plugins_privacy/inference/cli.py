"""``armour membership``: membership-inference risk of the embedded default (scikit-learn digits and a small
network trained and cached on first use) or of your own network and data. Results go to JSON and a
self-contained HTML report."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from armour_core.cli_args import finite_float, nonnegative_int, output_dir, positive_float, positive_int
from armour_core.errors import InvalidInputError
from armour_core.executors import add_executor_arguments, executor_from_args

DEFAULT_ATTACKS = "loss_threshold,entropy,classifier,lira,rmia"
#: attacks calibrated with shadow models (they take the shadow and executor options)
SHADOW_ATTACKS = ("lira", "rmia")


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


def register(subparsers) -> None:
    p = subparsers.add_parser("membership", help="membership-inference risk of a model",
                              description="Run membership-inference attacks and report ROC AUC, TPR at low "
                                          "FPR (log-log ROC), balanced accuracy and per-example risk.")
    _add_target_args(p)
    p.add_argument("--attacks", "--attack", default=DEFAULT_ATTACKS,
                   help=f"comma-separated (default {DEFAULT_ATTACKS})")
    p.add_argument("--classifier", default="lr", choices=("lr", "knn", "mlp", "rf"),
                   help="attack classifier of the 'classifier' attack")
    p.add_argument("--shadows", type=positive_int, default=8,
                   help="shadow (reference) models of LiRA and RMIA (default 8)")
    p.add_argument("--offline", action="store_true",
                   help="offline LiRA/RMIA (shadows never see the targets)")
    p.add_argument("--max-examples", type=positive_int, default=500,
                   help="members and non-members evaluated, each (default 500)")
    add_executor_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from armour_core import registry, report
    from armour_core.api.inference import plot_rocs

    executor = executor_from_args(args)  # a bad executor choice fails before any work
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
        kind = registry.spec("inference", name).name
        kw: dict[str, Any] = {}
        if kind == "classifier":
            kw = {"method": args.classifier, "seed": args.seed}
        shadowed = kind in SHADOW_ATTACKS
        if shadowed:
            kw = {"shadows": args.shadows, "online": not args.offline, "epochs": epochs,
                  "batch_size": args.batch_size, "learning_rate": args.learning_rate, "seed": args.seed,
                  "progress": None, "executor": executor}
            if arch:
                kw["architecture"] = arch
            if factory is not None:
                kw["network_fn"] = factory
        attack = registry.create("inference", name, model=model, **kw)
        attack.fit(xma, yma, xna, yna)
        if shadowed and "x_population" in d:
            known = np.r_[np.ones(len(xma), bool), np.zeros(len(xna) + len(d["x_population"]), bool)]
            attack.set_population(np.concatenate([xma, xna, d["x_population"]]),
                                  np.concatenate([yma, yna, d["y_population"]]), known_members=known)
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
    html_path, json_path = report.write(args.out, "membership",
                                        report.page("armour membership-inference report", sections),
                                        {"target": desc, "attacks": [r.to_dict() for r in reports]})
    print(f"report: {html_path} and {json_path}")
    return 0
