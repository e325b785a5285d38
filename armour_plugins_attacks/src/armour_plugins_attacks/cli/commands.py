"""``armour attack`` and ``armour evaluate``: attack a model, or run the robustness suite with a report.

Both run on the embedded default (``--model lenet5 --dataset digits``) or on your network and data
(``--network module:factory --checkpoint file.ckpt --data file.npz``); see :mod:`armour_core.loading`.
MindSpore is imported only when a command runs, never when the parser is built.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from armour_core.cli_args import (finite_float, nonnegative_float, nonnegative_int, output_dir, positive_float,
                                  positive_int)
from armour_core.errors import InvalidInputError
from armour_core.executors import add_executor_arguments, executor_from_args
from armour_core.loading import add_model_arguments, target_from_args


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_settings(items: list[str] | None, *, scoped: bool = False) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as JSON when they can be). ``scoped``: ``attack.key=value`` pairs,
    returned as {attack: {key: value}}."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(f"--set: expected key=value, got {item!r}")
        if scoped:
            attack, dot, name = key.partition(".")
            if not dot or not attack or not name:
                raise InvalidInputError(f"--set: expected attack.key=value (e.g. pgd.steps=20), got {item!r}")
            out.setdefault(attack, {})[name] = _value(raw)
        else:
            out[key] = _value(raw)
    return out


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InvalidInputError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise InvalidInputError(f"{what}: expected at least one number")
    return values


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    from armour_core.atomic import atomic_write_bytes

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (default: on a terminal)")


def add_run_options(p: argparse.ArgumentParser, *, out: str, func: Any, batch_size: int = 256,
                    batch_help: str | None = None) -> None:
    """The flags that end every single-run command (batch size, seed, output directory, progress) and its
    handler."""
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help=batch_help)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--out", default=out, type=output_dir, help=f"output directory (default ./{out})")
    _progress_flag(p)
    p.set_defaults(func=func)


# ------------------------------------------------------------------------------------------ attack
def register_attack(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "attack", help="run one attack on a model and save the adversarial examples and metrics",
        description="Run one attack from the registry on a model and data; writes adversarial.npz "
                    "(x_adv, y, predictions, success, norms) and attack.json (metrics) atomically into --out.")
    p.add_argument("--attack", default="fgsm", help="attack name (see: armour plugins --kind attack); default fgsm")
    p.add_argument("--eps", type=nonnegative_float, default=None,
                   help="perturbation budget (default: the attack's own)")
    p.add_argument("--norm", default=None, help="linf, l2, l1 or l0 (default: the attack's own)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other attack setting, e.g. steps=20 "
                                                                      "(repeatable; values parsed as JSON)")
    p.add_argument("--target-class", type=nonnegative_int, default=None, help="targeted attack towards this class")
    add_model_arguments(p)
    add_run_options(p, out="armour-attack", func=run_attack)


def run_attack(args: argparse.Namespace) -> int:
    from armour_core import registry

    from ..evaluation.metrics import attack_metrics

    options = parse_settings(args.set)
    for flag, value in (("eps", args.eps), ("norm", args.norm)):
        if value is not None:
            options[flag] = value
    options.setdefault("seed", args.seed)
    registry.spec("attack", args.attack)  # an unknown name fails before any model is loaded
    target = target_from_args(args)
    model, x, y = target.model, target.x, target.y
    attack = registry.create("attack", args.attack, model=model, **options)
    tgt = None
    if args.target_class is not None:
        if not 0 <= args.target_class < model.num_classes:
            raise InvalidInputError(f"--target-class: expected a class in [0, {model.num_classes}), "
                                    f"got {args.target_class}")
        keep = y != args.target_class
        x, y = x[keep], y[keep]
        tgt = np.full(len(y), args.target_class, dtype=np.int64)
    print(f"armour attack: {args.attack} on {target.description}, {len(x)} points", file=sys.stderr)
    t0 = time.perf_counter()
    res = attack.batch_generate(x, y, target=tgt, batch_size=args.batch_size, progress=args.progress)
    adv = np.asarray(res.adversarial)
    metrics = attack_metrics(x, y, adv, model=model, target=tgt, data_range=model.bounds[1] - model.bounds[0])
    out = Path(args.out)
    arrays = {"x_adv": adv, "y": y, "predictions": res.predictions, "success": res.success, "norms": res.norms}
    if tgt is not None:
        arrays["target"] = tgt
    _save_npz(out / "adversarial.npz", **arrays)
    import attrs

    payload = {"attack": args.attack, "config": attrs.asdict(attack.config), "model": target.description,
               "n": int(len(x)), "metrics": metrics.as_dict(),
               "success_rate": res.success_rate, "norm": attack.config.norm,
               "max_norm": float(res.norms.max()) if res.norms.size else 0.0,
               "budget": {"forward_calls": res.forward_calls, "backward_calls": res.backward_calls,
                          "queries": res.queries, "seconds": res.seconds},
               "wall_seconds": time.perf_counter() - t0,
               "distortion_note": "absolute input-space norms, averaged over initially-correct points the "
                                  "attack broke"}
    from armour_core.atomic import atomic_write_text

    atomic_write_text(out / "attack.json", json.dumps(payload, indent=2, default=_jsonable, allow_nan=False))
    print(f"clean accuracy {metrics.clean_accuracy:.3f} -> robust accuracy {metrics.robust_accuracy:.3f}; "
          f"misclassification rate {metrics.misclassification_rate:.3f} of {metrics.attacked} correct points")
    print(f"wrote {out / 'adversarial.npz'} and {out / 'attack.json'}")
    return 0


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    return repr(obj)


# ---------------------------------------------------------------------------------------- evaluate
def register_evaluate(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate", help="robustness suite: robust accuracy per eps, worst case, reliability checks, HTML report",
        description="Attack a model with several attacks at several budgets; writes robustness.json and a "
                    "self-contained robustness.html (curves, warnings, budgets, examples) into --out.")
    p.add_argument("--attacks", default="fgsm,pgd", help="comma-separated attack names (default fgsm,pgd)")
    p.add_argument("--eps", default="0.05,0.1,0.2", help="comma-separated budgets (default 0.05,0.1,0.2)")
    p.add_argument("--norm", default="linf", help="threat model norm: linf, l2, l1, l0 (default linf)")
    p.add_argument("--set", action="append", metavar="ATTACK.KEY=VALUE",
                   help="attack settings, e.g. pgd.steps=20 (repeatable; values parsed as JSON)")
    add_model_arguments(p)
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--examples", type=nonnegative_int, default=8,
                   help="clean/adversarial pairs shown in the report (default 8)")
    p.add_argument("--no-determinism-check", action="store_true", help="skip re-running attacks with the same seed")
    p.add_argument("--no-gradient-check", action="store_true", help="skip the vanishing-gradient check")
    p.add_argument("--out", default="armour-report", type=output_dir,
                   help="output directory (default ./armour-report)")
    _progress_flag(p)
    add_executor_arguments(p)
    p.add_argument("--shard-size", type=positive_int, default=None, metavar="N",
                   help="examples per task with --executor (a multiple of --batch-size; default one batch); "
                        "the figures do not depend on it")
    p.set_defaults(func=run_evaluate)


def executor_and_model(args: argparse.Namespace, model: Any) -> tuple[Any, Any]:
    """(executor or None, the model to evaluate): ``--executor local`` without ``--shard-size`` runs in this
    process as always; otherwise the chosen executor and a reference its workers can load the model from."""
    if args.executor == "local" and getattr(args, "shard_size", None) is None and args.ray_address is None:
        return None, model
    from armour_core.loading import model_ref_from_args

    return executor_from_args(args), model_ref_from_args(args, model)


def run_evaluate(args: argparse.Namespace) -> int:
    from armour_core import registry
    from armour_core import report as R

    from ..evaluation.report import robustness_sections
    from ..evaluation.robustness import evaluate_robustness

    names = [t.strip() for t in args.attacks.split(",") if t.strip()]
    if not names:
        raise InvalidInputError("--attacks: expected at least one attack name")
    for name in names:
        registry.spec("attack", name)
    eps = _floats(args.eps, "--eps")
    settings = parse_settings(args.set, scoped=True)
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise InvalidInputError(f"--set: {unknown} not among --attacks {names}")
    target = target_from_args(args)
    print(f"armour evaluate: {', '.join(names)} at eps {eps} on {target.description}, {len(target.x)} points",
          file=sys.stderr)
    attacks = [(n, settings.get(n, {})) for n in names]
    executor, model = executor_and_model(args, target.model)
    rep = evaluate_robustness(model, target.x, target.y, attacks=attacks, eps=eps, norm=args.norm,
                              seed=args.seed, batch_size=args.batch_size,
                              check_determinism=not args.no_determinism_check,
                              check_gradients=not args.no_gradient_check, keep_examples=args.examples,
                              progress=args.progress, executor=executor, shard_size=args.shard_size)
    sections = robustness_sections(rep, description=target.description, bounds=target.model.bounds)
    data = {"model": target.description, **rep.to_dict()}
    html_path, json_path = R.write(args.out, "robustness", R.page("armour robustness evaluation", sections), data)
    for label, accs in rep.robust_accuracy.items():
        print(f"  {label:<24} " + "  ".join(f"eps={e:g}: {a:.3f}" for e, a in zip(rep.eps, accs)))
    print(f"  {'worst case':<24} " + "  ".join(f"eps={e:g}: {a:.3f}" for e, a in zip(rep.eps, rep.worst_case)))
    print(f"clean accuracy {rep.clean_accuracy:.3f}; {len(rep.warnings)} reliability warning(s)")
    for w in rep.warnings:
        print(f"  warning [{w.kind}] {w.message}")
    print(f"wrote {html_path} and {json_path}")
    return 0


# ------------------------------------------------------------------------------------------ defend
def register_defend(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "defend", help="adversarially train a model with a defense; save the checkpoint and a report",
        description="Fine-tune a model with a defense from the registry (pad, trades, mart, nad, ...) and write "
                    "defended.ckpt, defense.json and a self-contained defense.html (per-epoch clean/robust "
                    "accuracy, DEEPSEC defense metrics against the original model) into --out.")
    p.add_argument("--defense", default="pad", help="defense name (see: armour plugins --kind defense); default pad")
    p.add_argument("--eps", type=nonnegative_float, default=None,
                   help="the defense's perturbation budget (default: its own)")
    p.add_argument("--epochs", type=positive_int, default=1)
    p.add_argument("--learning-rate", type=positive_float, default=1e-3)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other defense setting, e.g. steps=7 "
                                                                      "(repeatable; values parsed as JSON)")
    p.add_argument("--static", default=None,
                   help="ensemble_adversarial_training: comma-separated embedded architectures, pre-trained on the "
                        "same dataset, used as static models (default mlp)")
    p.add_argument("--eval-attack", default=None, help="attack for per-epoch robust accuracy (default: the "
                                                       "defense's own, e.g. compiled PGD-20 for pad/trades/mart)")
    g = p.add_argument_group("model and data (default: the embedded lenet5 on digits)")
    g.add_argument("--model", default="lenet5", help="embedded architecture; default lenet5")
    g.add_argument("--dataset", default="digits", help="embedded dataset; default digits")
    g.add_argument("--network", help="your network: 'package.module:factory' or 'file.py:factory'")
    g.add_argument("--checkpoint", help="trained weights of --network to start from (a MindSpore .ckpt)")
    g.add_argument("--data", help="your data: an .npz with x_train, y_train, x_test, y_test")
    g.add_argument("--bounds", type=finite_float, nargs=2, default=(0.0, 1.0), metavar=("LOW", "HIGH"))
    g.add_argument("--train-n", type=positive_int, default=None, help="train on the first N training points")
    g.add_argument("--test-n", type=positive_int, default=None, help="evaluate on the first N test points")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--out", default="armour-defense", type=output_dir,
                   help="output directory (default ./armour-defense)")
    _progress_flag(p)
    p.set_defaults(func=run_defend)


def _defend_target(args: argparse.Namespace):
    """(network, dataset record, description)."""
    import attrs

    import armour_core.ms  # noqa: F401
    from armour_core import loading

    if args.network or args.data or args.checkpoint:
        if not (args.network and args.data):
            raise InvalidInputError("--network and --data: give both to defend your own model")
        data = loading.load_data(args.data, bounds=tuple(args.bounds))
        model = loading.user_model(args.network, args.checkpoint, loading.split_arrays(data), bounds=data.bounds)
        data = attrs.evolve(data, num_classes=model.num_classes)  # the network's output width, not max(y) + 1
        return model.network, data, f"{args.network}" + (f" ({args.checkpoint})" if args.checkpoint else "")
    from armour_core import registry
    from armour_core.ms.pretrained import pretrained

    spec = registry.spec("model", args.model)
    pre = pretrained(spec.name, args.dataset, seed=args.seed, progress=args.progress)
    return pre.model.network, pre.dataset, f"{spec.name} on {pre.dataset.name} (test accuracy " \
                                           f"{pre.test_accuracy:.3f})"


def run_defend(args: argparse.Namespace) -> int:
    import attrs

    from armour_core import registry
    from armour_core import report as R
    from armour_core.ms.model import MSModel

    from ..evaluation.metrics import defense_metrics, radar_plot

    spec = registry.spec("defense", args.defense)
    options = parse_settings(args.set)
    options.update(epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed)
    if args.eps is not None:
        options["eps"] = args.eps
    net, data, desc = _defend_target(args)
    x_tr, y_tr = data.x_train[:args.train_n], data.y_train[:args.train_n]
    x_te, y_te = data.x_test[:args.test_n], data.y_test[:args.test_n]
    model = MSModel(net, bounds=data.bounds, num_classes=data.num_classes, input_shape=data.input_shape)
    extra: dict[str, Any] = {}
    if spec.name == "ensemble_adversarial_training":
        if args.network:
            if not args.static:
                raise InvalidInputError("--static: ensemble_adversarial_training on your network needs static "
                                        "models; name embedded architectures pre-trained on --dataset")
        from armour_core.ms.pretrained import pretrained

        names = [s.strip() for s in (args.static or "mlp").split(",") if s.strip()]
        extra["static_models"] = [pretrained(n, args.dataset, seed=args.seed).model for n in names]
    elif args.static:
        raise InvalidInputError(f"--static: only ensemble_adversarial_training takes static models, not {spec.name}")
    defense = registry.create("defense", spec.name, network=model, **extra, **options)
    attack = defense.resolve_eval_attack(args.eval_attack)
    raw_probs = np.asarray(model.probabilities(x_te))
    before = defense.evaluate(x_te, y_te, attack)
    print(f"armour defend: {spec.name} on {desc}; {len(x_tr)} training / {len(x_te)} test points", file=sys.stderr)
    history = defense.fit(x_tr, y_tr, x_val=x_te, y_val=y_te, eval_attack=attack, progress=args.progress)
    after = (history[-1].clean_accuracy, history[-1].robust_accuracy)
    metrics = defense_metrics(raw_probs, np.asarray(model.probabilities(x_te)), y_te)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "defended.ckpt"
    from armour_core.ms.checkpoint import save_checkpoint_atomic

    save_checkpoint_atomic(net, ckpt)
    robust_name = type(attack).__name__ if attack is not None else None
    payload = {"defense": spec.name, "config": attrs.asdict(defense.config, filter=lambda a, v: a.name != "attacks"),
               "model": desc, "checkpoint": str(ckpt), "eval_attack": robust_name,
               "before": {"clean_accuracy": before[0], "robust_accuracy": before[1]},
               "after": {"clean_accuracy": after[0], "robust_accuracy": after[1]},
               "history": [attrs.asdict(h) for h in history], "defense_metrics": metrics.as_dict()}
    epochs = [h.epoch + 1 for h in history]
    series = {"clean accuracy": [before[0]] + [h.clean_accuracy for h in history]}
    if before[1] is not None:
        series["robust accuracy"] = [before[1]] + [h.robust_accuracy for h in history]
    curves = R.line_chart([0, *epochs], series, xlabel="epoch (0: before)", ylabel="accuracy", ylim=(-0.02, 1.02),
                          title=f"test accuracy per epoch ({robust_name or 'no attack'} for robust accuracy)")
    m = metrics.as_dict()
    radar_values = {k.upper(): (v if v is not None else 0.0) for k, v in m.items()}
    limits = {"CAV": (-0.25, 0.25), "CRR": (0.0, 0.25), "CSR": (0.0, 0.25), "CCV": (0.0, 0.5), "COS": (0.0, 0.35)}
    radar = R.img(R.figure_uri(radar_plot({spec.name: radar_values}, limits=limits)),
                  "DEEPSEC defense metrics; rim: CAV +0.25, CRR/CSR 0.25, CCV 0.5, COS 0.35 nats (centre: CAV "
                  "-0.25, the rest 0)")
    rows = [["clean accuracy", before[0], after[0]], ["robust accuracy", before[1], after[1]]]
    body = (f"<p>{R.esc(desc)}: {R.esc(spec.name)}, {len(x_tr)} training points, config "
            f"<code>{R.esc(payload['config'])}</code>.</p>" + R.table(["", "before", "after"], rows) + curves)
    metric_html = R.table(["metric", "value"], [[k.upper(), v if v is not None else "n/a"] for k, v in m.items()])
    metric_html += ('<p class="muted">CAV: accuracy change; CRR/CSR: share of test points rectified/sacrificed; '
                    "CCV: mean change of the true-class probability; COS: mean Jensen–Shannon divergence of the "
                    "outputs (both over points classified correctly before and after).</p>") + radar
    sections = [R.Section("training", "Adversarial training", body),
                R.Section("metrics", "Defense metrics (against the original model)", metric_html)]
    R.write(out, "defense", R.page("armour defense report", sections), payload)
    print(f"clean accuracy {before[0]:.3f} -> {after[0]:.3f}" + (
        f"; robust accuracy {before[1]:.3f} -> {after[1]:.3f}" if before[1] is not None else ""))
    print(f"wrote {ckpt}, {out / 'defense.json'} and {out / 'defense.html'}")
    return 0


