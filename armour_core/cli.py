"""The ``armour`` command.

Core subcommands: ``plugins`` (list what is installed, from records only — MindSpore is not imported)
and ``demo``. Plugin distributions add their own subcommands through the ``armour_cli_commands`` hook:
each :class:`~armour_core.specs.CommandSpec` names a ``register(subparsers)`` function that adds a
subparser and sets ``func`` (called with the parsed arguments; its return value is the exit code).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import __version__, registry
from .errors import ArmourError
from .registry import import_target


def _rows(load: bool) -> list[dict[str, Any]]:
    rows = []
    for spec in registry.specs():
        state = registry.availability(spec.kind, spec.name) or "ok"
        if load and state == "ok":
            try:
                registry.get(spec.kind, spec.name)
            except ArmourError as exc:
                state = f"error: {exc}"
        rows.append({"kind": spec.kind, "name": spec.name, "aliases": list(spec.aliases), "dist": spec.dist,
                     "version": spec.version, "status": state, "summary": spec.summary,
                     "target": spec.target if isinstance(spec.target, str) else repr(spec.target),
                     "requires": list(spec.requires), "capabilities": sorted(spec.capabilities)})
    return rows


def cmd_plugins(args: argparse.Namespace) -> int:
    if args.kind is not None and args.kind not in registry.kinds():
        print(f"armour plugins: --kind {args.kind!r} is not a kind; choose from {', '.join(registry.kinds())}",
              file=sys.stderr)
        return 2
    rows = [r for r in _rows(args.load) if args.kind is None or r["kind"] == args.kind]
    problems = [s for s in registry.status() if s.state not in ("ok",)]
    if args.json:
        payload = {"armour_core": __version__, "plugins": rows,
                   "distributions": [{"plugin": s.plugin, "dist": s.dist, "version": s.version, "state": s.state,
                                      "records": s.records, "error": s.error,
                                      **({"traceback": s.traceback} if args.verbose else {})}
                                     for s in registry.status()]}
        print(json.dumps(payload, indent=2))
        return 0
    headers = ("kind", "name", "aliases", "distribution", "version", "status", "summary")
    table = [(r["kind"], r["name"], ",".join(r["aliases"]), r["dist"], r["version"], r["status"],
              r["summary"] if args.verbose else r["summary"][:60]) for r in rows]
    widths = [max([len(h)] + [len(str(t[i])) for t in table]) for i, h in enumerate(headers[:-1])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(fmt.format(*headers))
    for t in table:
        print(fmt.format(*t))
    if problems:
        print("\nplugins not loaded:")
        for s in problems:
            print(f"  {s.plugin} ({s.dist} {s.version}): {s.state}: {s.error}")
            if args.verbose and s.traceback:
                print("    " + s.traceback.replace("\n", "\n    "))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Train or load the default model, attack it with FGSM and report clean vs adversarial accuracy."""
    from .ms import pretrained as pt

    print(f"armour {__version__}: {len(registry.specs())} algorithms from "
          f"{len({s.dist for s in registry.specs()})} distributions")
    pre = pt.pretrained(args.model, args.dataset, seed=args.seed, progress=None)
    how = "trained now" if pre.trained_now else "loaded from cache"
    print(f"model {args.model} on {args.dataset}: test accuracy {pre.test_accuracy:.3f} ({how}: {pre.checkpoint})")
    x, y = pre.dataset.x_test, pre.dataset.y_test
    attack = registry.create("attack", args.attack, model=pre.model, eps=args.eps)
    res = attack.batch_generate(x, y, batch_size=256)
    clean = float((pre.model.predict(x) == y).mean())
    adv = float((res.predictions == y).mean())
    print(f"{args.attack} eps={args.eps}: clean accuracy {clean:.3f} -> adversarial accuracy {adv:.3f} "
          f"(max L-inf {res.norms.max():.4f}, {res.forward_calls} forward / {res.backward_calls} backward passes, "
          f"{res.seconds:.2f} s)")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Evaluate one model with every installed plugin distribution; write report.html and report.json."""
    from pathlib import Path

    from .audit.context import AuditContext
    from .audit.runner import run_audit
    from .ms import pretrained as pt
    from .ms.model import MSModel

    if args.network:
        from .loading import load_data, load_network

        import attrs

        net = load_network(args.network, args.checkpoint)
        data = load_data(args.data)
        model = MSModel(net, bounds=data.bounds, input_shape=data.input_shape)
        data = attrs.evolve(data, num_classes=model.num_classes)  # the network's output width, not max(y) + 1
        model_name, train_fn = args.network, None
    else:
        pre = pt.pretrained(args.model, args.data, seed=args.seed)
        model, data, model_name = pre.model, pre.dataset, registry.spec("model", args.model).name
        train_fn = pt.trainer(args.model, data)
    ctx = AuditContext(model=model, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                       y_test=data.y_test, num_classes=data.num_classes, bounds=data.bounds, profile=args.profile,
                       seed=args.seed, out_dir=Path(args.out), model_name=model_name, dataset_name=data.name,
                       ledger=args.ledger, train_fn=train_fn)
    html, js, report = run_audit(ctx, command=" ".join(["armour", *sys.argv[1:]]) if args.command_line is None
                                 else args.command_line)
    width = max(len(s["title"]) for s in report["summary"])
    for s in report["summary"]:
        print(f"{s['title']:<{width}}  {s['verdict'].replace('_', ' ').upper():<13}  {s['headline']}")
    print(f"report: {html}\njson:   {js}")
    return 0


def build_parser(wanted: str | None = None) -> argparse.ArgumentParser:
    """The parser; of the plugin subcommands only ``wanted`` is imported and fully defined."""
    parser = argparse.ArgumentParser(
        prog="armour", description="Security and privacy testing for MindSpore models: attacks, defenses, "
        "detectors, fuzzing, differential privacy, membership inference. Start with 'armour audit'.")
    parser.add_argument("--version", action="version",
                        version=f"armour-core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list installed plugins and algorithms")
    p.add_argument("--kind", help="only this kind (attack, noise, mutator, ...)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--load", action="store_true", help="also import every implementation to verify it")
    p.add_argument("--verbose", "-v", action="store_true", help="full summaries and tracebacks of failures")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("demo", help="train/load the default model and compare clean vs FGSM accuracy")
    p.add_argument("--model", default="lenet5")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--attack", default="fgsm")
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("audit", help="robustness, testing and privacy risk of a model in one report")
    p.add_argument("--model", default="lenet5", help="embedded model architecture (default: lenet5)")
    p.add_argument("--data", default="digits",
                   help="embedded dataset name, or (with --network) an .npz with x_train, y_train, x_test, y_test "
                        "(or x and y)")
    p.add_argument("--network", help="your model as 'package.module:factory' (called with no arguments)")
    p.add_argument("--checkpoint", help="MindSpore checkpoint to load into --network")
    p.add_argument("--profile", choices=("quick", "standard", "thorough"), default="quick")
    p.add_argument("--out", default="armour-report", help="output directory (default: armour-report)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ledger", help="privacy ledger of a DPModel-trained model, reported next to the audit")
    p.add_argument("--command-line", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_audit)

    core = set(sub.choices)
    for cmd in registry.commands():
        if cmd.name.replace("_", "-") in core:
            print(f"armour: ignoring subcommand {cmd.name!r} from {cmd.dist}: it shadows a core command",
                  file=sys.stderr)
            continue
        # Only the subcommand being run is imported; the others are listed from their records.
        if cmd.name.replace("_", "-") != (wanted or "").replace("_", "-"):
            sub.add_parser(cmd.name, help=f"{cmd.summary} [{cmd.dist}]", add_help=False)
            continue
        try:
            import_target(cmd.target)(sub)
        except Exception as exc:  # noqa: BLE001 - a broken plugin command must not break the CLI
            print(f"armour: subcommand {cmd.name!r} from {cmd.dist} is broken: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(wanted)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ArmourError as exc:
        print(f"armour {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
