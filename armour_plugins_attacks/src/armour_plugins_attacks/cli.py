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

from armour_core.errors import InvalidInputError
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


# ------------------------------------------------------------------------------------------ attack
def register_attack(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "attack", help="run one attack on a model and save the adversarial examples and metrics",
        description="Run one attack from the registry on a model and data; writes adversarial.npz "
                    "(x_adv, y, predictions, success, norms) and attack.json (metrics) atomically into --out.")
    p.add_argument("--attack", default="fgsm", help="attack name (see: armour plugins --kind attack); default fgsm")
    p.add_argument("--eps", type=float, default=None, help="perturbation budget (default: the attack's own)")
    p.add_argument("--norm", default=None, help="linf, l2, l1 or l0 (default: the attack's own)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other attack setting, e.g. steps=20 "
                                                                      "(repeatable; values parsed as JSON)")
    p.add_argument("--target-class", type=int, default=None, help="targeted attack towards this class")
    add_model_arguments(p)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="armour-attack", help="output directory (default ./armour-attack)")
    _progress_flag(p)
    p.set_defaults(func=run_attack)


def run_attack(args: argparse.Namespace) -> int:
    from armour_core import registry

    from .evaluation.metrics import attack_metrics

    if args.batch_size <= 0:
        raise InvalidInputError(f"--batch-size: expected a positive int, got {args.batch_size}")
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
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--examples", type=int, default=8, help="clean/adversarial pairs shown in the report (default 8)")
    p.add_argument("--no-determinism-check", action="store_true", help="skip re-running attacks with the same seed")
    p.add_argument("--no-gradient-check", action="store_true", help="skip the vanishing-gradient check")
    p.add_argument("--out", default="armour-report", help="output directory (default ./armour-report)")
    _progress_flag(p)
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from armour_core import registry
    from armour_core import report as R

    from .evaluation.report import robustness_sections
    from .evaluation.robustness import evaluate_robustness

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
    rep = evaluate_robustness(target.model, target.x, target.y, attacks=attacks, eps=eps, norm=args.norm,
                              seed=args.seed, batch_size=args.batch_size,
                              check_determinism=not args.no_determinism_check,
                              check_gradients=not args.no_gradient_check, keep_examples=args.examples,
                              progress=args.progress)
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
