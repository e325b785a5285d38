"""The ``armour`` command.

Core subcommands: ``plugins`` (list what is installed, from records only — MindSpore is not imported)
and ``demo``. Plugin distributions add their own subcommands through the ``armour_cli_commands`` hook:
each :class:`~armour_core.specs.CommandSpec` names a ``register(subparsers)`` function that adds a
subparser and sets ``func`` (called with the parsed arguments; its return value is the exit code).

Failures are one line on stderr, ``armour: error: ...``; ``--debug`` (anywhere on the command line) or
``ARMOUR_DEBUG=1`` adds the traceback and lets MindSpore's own log lines and library warnings through.

Exit codes (every command):

* 0 success (``armour audit``: every section PASS, WARN, SKIPPED or NOT INSTALLED)
* 1 the run completed and found a problem: ``armour audit`` has a FAIL section, ``armour fuzz
  --fail-on-findings`` found failures, ``armour plugins`` in strict mode found a broken plugin
* 2 usage or input error: a bad argument, an output path that cannot be written, a missing, damaged or
  mismatched checkpoint or data file, a missing dependency, out of memory, an armour error raised by a plugin,
  a task that failed on every attempt (``--executor``; nothing partial is written)
* 3 ``armour audit``: a section ended in ERROR (the report is incomplete)
* 4 internal error: an unexpected exception (a bug in armour or a plugin); rerun with ``--debug``
* 130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import Any, NoReturn

from . import __version__, registry
from .audit.profiles import PROFILES
from .cli_args import input_file, nonnegative_float, nonnegative_int, output_dir
from .errors import ArmourError
from .executors import add_executor_arguments
from .registry import import_target

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_SECTION_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


def _rows(load: bool) -> list[dict[str, Any]]:
    """One row per record, conflicting and unavailable ones included (``registry.listing`` never raises)."""
    rows = []
    for spec, state in registry.listing():
        if load and state == "ok":
            error = registry.verify(spec)
            state = f"error: {error}" if error else state
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
    code = _strict_exit(problems)
    if args.json:
        payload = {"armour_core": __version__, "plugins": rows,
                   "kinds": [{"name": k.name, "hook": k.hook, "dist": k.dist, "base": k.base, "summary": k.summary}
                             for k in registry.declared_kinds()],
                   "distributions": [{"plugin": s.plugin, "dist": s.dist, "version": s.version, "state": s.state,
                                      "records": s.records, "error": s.error,
                                      **({"traceback": s.traceback} if args.verbose else {})}
                                     for s in registry.status()]}
        print(json.dumps(payload, indent=2))
        return code
    headers = ("kind", "name", "aliases", "distribution", "version", "status", "summary")
    table = [(r["kind"], r["name"], ",".join(r["aliases"]), r["dist"], r["version"], r["status"],
              r["summary"] if args.verbose else r["summary"][:60]) for r in rows]
    widths = [max([len(h)] + [len(str(t[i])) for t in table]) for i, h in enumerate(headers[:-1])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(fmt.format(*headers))
    for t in table:
        print(fmt.format(*t))
    declared = [k for k in registry.declared_kinds() if args.kind in (None, k.name)]
    if declared:
        print("\nkinds declared by distributions: "
              + "; ".join(f"{k.name} ({k.dist}, hook {k.hook})" for k in declared))
    if problems:
        print("\nplugins not loaded:")
        for s in problems:
            print(f"  {s.plugin} ({s.dist} {s.version}): {s.state}: {s.error}")
            if args.verbose and s.traceback:
                print("    " + s.traceback.replace("\n", "\n    "))
    return code


def _strict_exit(problems: list[Any]) -> int:
    """``armour plugins`` lists even in strict mode (it is how problems are diagnosed), then fails in one line
    when ARMOUR_PLUGINS_STRICT=1 and a plugin is broken or a name conflicts."""
    from .registry import _strict

    bad = [s for s in problems if s.state in ("broken", "conflict")]
    if not bad or not _strict():
        return 0
    print(f"armour plugins: ARMOUR_PLUGINS_STRICT=1 and {len(bad)} plugin problem(s): "
          + "; ".join(f"{s.plugin} ({s.dist}) {s.state}" for s in bad), file=sys.stderr, flush=True)
    return 1


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
    from .audit.profiles import parse_eps
    from .audit.runner import run_audit

    overrides: dict[str, dict[str, Any]] = {}
    if args.eps is not None:  # checked before any model is loaded (against the embedded dataset's bounds)
        bounds = (0.0, 1.0) if args.network else tuple(registry.spec("dataset", args.data).facet.bounds)
        overrides["robustness"] = {"eps": list(parse_eps(args.eps, bounds))}
    from .ms import pretrained as pt

    for section in registry.audit_sections():  # e.g. the privacy ledger, verified read-only before any computation
        if section.precheck:
            import_target(section.precheck)(vars(args))
    if args.network:
        import attrs

        from .loading import load_data, split_arrays, user_model

        data = load_data(args.data)
        model = user_model(args.network, args.checkpoint, split_arrays(data), bounds=data.bounds)
        data = attrs.evolve(data, num_classes=model.num_classes)  # the network's output width, not max(y) + 1
        model_name, train_fn = args.network, None
    else:
        pre = pt.pretrained(args.model, args.data, seed=args.seed)
        model, data, model_name = pre.model, pre.dataset, registry.spec("model", args.model).name
        train_fn = pt.trainer(args.model, data)
    executor = model_ref = None
    if args.executor != "local" or args.ray_address is not None:
        from .executors import executor_from_args
        from .loading import model_ref_from_args

        executor, model_ref = executor_from_args(args), model_ref_from_args(args, model)
    ctx = AuditContext(model=model, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                       y_test=data.y_test, num_classes=data.num_classes, bounds=data.bounds, profile=args.profile,
                       seed=args.seed, out_dir=Path(args.out), model_name=model_name, dataset_name=data.name,
                       ledger=args.ledger, ledger_checkpoint=args.checkpoint, train_fn=train_fn,
                       executor=executor, model_ref=model_ref)
    html, js, report = run_audit(ctx, command=" ".join(["armour", *sys.argv[1:]]) if args.command_line is None
                                 else args.command_line, overrides=overrides)
    width = max(len(s["title"]) for s in report["summary"])
    for s in report["summary"]:
        print(f"{s['title']:<{width}}  {s['verdict'].replace('_', ' ').upper():<13}  {s['headline']}")
    print(f"report: {html}\njson:   {js}")
    return audit_exit_code(report)


def audit_exit_code(report: dict[str, Any]) -> int:
    """3 when a section ended in ERROR (the report is incomplete), else 1 when one FAILed, else 0."""
    verdicts = {s["verdict"] for s in report["summary"]}
    return EXIT_SECTION_ERROR if "error" in verdicts else EXIT_FINDINGS if "fail" in verdicts else EXIT_OK


def build_parser(wanted: str | None = None) -> argparse.ArgumentParser:
    """The parser; of the plugin subcommands only ``wanted`` is imported and fully defined."""
    parser = ArgumentParser(
        prog="armour", description="Security and privacy testing for MindSpore models: attacks, defenses, "
        "detectors, fuzzing, differential privacy, membership inference. Start with 'armour audit'.",
        epilog="exit status: 0 success; 1 completed with findings (an audit FAIL, fuzz failures with "
               "--fail-on-findings); 2 usage or input error; 3 an audit section ended in ERROR; 4 internal error "
               "(rerun with --debug); 130 interrupted")
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
    p.add_argument("--eps", type=nonnegative_float, default=0.1)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("audit", help="robustness, testing and privacy risk of a model in one report",
                       epilog="exit status: 0 every section PASS, WARN or SKIPPED; 1 a section FAILed; 2 a usage "
                              "or input error (bad argument, unreadable --network/--checkpoint/--data/--ledger, "
                              "unwritable --out); 3 a section ended in ERROR (the report is incomplete; 3 wins "
                              "over 1); 4 an internal error (rerun with --debug)")
    p.add_argument("--model", default="lenet5", help="embedded model architecture (default: lenet5)")
    p.add_argument("--data", default="digits",
                   help="embedded dataset name, or (with --network) an .npz with x_train, y_train, x_test, y_test "
                        "(or x and y)")
    p.add_argument("--network", help="your model as 'package.module:factory' (called with no arguments)")
    p.add_argument("--checkpoint", help="MindSpore checkpoint to load into --network")
    p.add_argument("--profile", choices=PROFILES, default=PROFILES[0])
    p.add_argument("--eps", metavar="E1,E2,...",
                   help="robustness budgets, e.g. 0.01,0.03 or 4/255,8/255 (finite, > 0, at most the input range). "
                        "Default: 1,2,4,8,16 /255 of the range for image-sized inputs (>= 3 channels or >= 28x28), "
                        "judged at 8/255; the profile's 0.05,0.1,0.2 (quick) for smaller ones, judged at 0.1")
    p.add_argument("--out", default="armour-report", type=output_dir,
                   help="output directory (default: armour-report)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--ledger", type=input_file,
                   help="privacy ledger of a DPModel-trained model, reported next to the audit")
    p.add_argument("--command-line", help=argparse.SUPPRESS)
    add_executor_arguments(p)
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
    """Run one ``armour`` command; returns the exit status (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv[:argv.index("--")] if "--" in argv else "--debug" in argv
    debug = debug or os.environ.get("ARMOUR_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    with _output_policy(debug):
        try:
            wanted = next((a for a in argv if not a.startswith("-")), None)
            parser = build_parser(wanted)
            args = parser.parse_args(argv)
            if not getattr(args, "func", None):
                parser.print_help()
                return EXIT_OK
            return int(args.func(args) or 0)
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
        except KeyboardInterrupt:
            print("armour: interrupted", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # `armour plugins | head`: the reader left; nothing to report
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        except Exception as exc:  # noqa: BLE001 - the one place every failure becomes one line
            return _report_failure(exc, debug)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with armour's one-line usage errors; lists ``--debug`` in every command's help (``main``
    honours it anywhere on the command line). Subparsers, plugins' included, inherit the class."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.add_help:
            self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                              help="on failure print the traceback; let MindSpore's log lines and library "
                                   "warnings through (also ARMOUR_DEBUG=1)")

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"armour: error: {message} (see '{self.prog} --help')\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _report_failure(exc: Exception, debug: bool) -> int:
    """One line on stderr for every failure; the traceback only with ``--debug``.

    armour's own errors, OS errors on paths, bad files (``ValueError``), a missing dependency and
    ``MemoryError`` are the user's to fix (exit 2); anything else is a bug (exit 4)."""
    if debug:
        traceback.print_exception(exc)
    hint = "" if debug else " (rerun with --debug for the traceback)"
    first = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, ArmourError):
        msg, code = _one_line(str(exc)), EXIT_USAGE
    elif isinstance(exc, OSError):
        where = f": {exc.filename!r}" if exc.filename else ""
        msg, code = f"{exc.strerror or first or type(exc).__name__}{where}", EXIT_USAGE
    elif isinstance(exc, ModuleNotFoundError):
        msg, code = f"a dependency is missing: {first}{hint}", EXIT_USAGE
    elif isinstance(exc, MemoryError):
        msg, code = "out of memory: use fewer points (--n) or a smaller --batch-size", EXIT_USAGE
    elif isinstance(exc, ValueError):
        msg, code = f"{type(exc).__name__}: {first}{hint}", EXIT_USAGE
    else:
        msg, code = (f"internal error: {type(exc).__name__}: {first} (a bug in armour or a plugin"
                     f"{'' if debug else '; rerun with --debug for the traceback'})"), EXIT_INTERNAL
    print(f"armour: error: {msg}", file=sys.stderr, flush=True)
    return code


#: Loggers of libraries armour drives whose warnings are not the user's business on a normal run.
_QUIET_LOGGERS = ("absl", "jax", "matplotlib", "PIL", "numba")
#: Modules whose Python warnings (deprecations in MindSpore, dp-accounting, scikit-learn...) are hidden.
_QUIET_MODULES = r"(mindspore|dp_accounting|absl|scipy|sklearn|matplotlib|numpy|pluggy|attr)(\.|$)"


def _warning_line(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """What remains after the filters is armour's (or a plugin's) own: one line, not Python's source echo."""
    print(f"armour: warning: {_one_line(str(message))}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _output_policy(debug: bool) -> Iterator[None]:
    """A normal run prints only armour's lines; ``--debug`` shows everything, armour's debug log included.

    * ``GLOG_v=3`` (errors only) for MindSpore's C++ and Python log, set before MindSpore is imported and only
      when you have not set ``GLOG_v`` yourself (then your setting wins). If MindSpore is already imported
      (``main`` called in-process), its Python logger is raised to ERROR for the duration instead.
    * Python warnings issued by those libraries, and every ``DeprecationWarning``/``FutureWarning``, are
      ignored inside the command only (``warnings.catch_warnings``), never process-wide.
    * Loggers of libraries armour drives (absl: dp-accounting's convergence notes) log ERROR and above.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        restore: list[tuple[logging.Logger, int]] = []
        if debug:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("armour debug: %(name)s: %(message)s"))
            for name in ("armour", "armour_core", "armour_plugins_attacks", "armour_plugins_privacy",
                         "armour_plugins_fuzz"):
                lg = logging.getLogger(name)
                restore.append((lg, lg.level))
                lg.setLevel(logging.DEBUG)
                lg.addHandler(handler)
                stack.callback(lg.removeHandler, handler)
        else:
            user_glog = "GLOG_v" in os.environ
            if not user_glog:
                os.environ["GLOG_v"] = "3"
                stack.callback(os.environ.pop, "GLOG_v", None)
            ms_log = sys.modules.get("mindspore.log")
            if ms_log is not None and not user_glog and hasattr(ms_log, "_get_logger"):
                restore.append((ms_log._get_logger(), ms_log._get_logger().level))
                ms_log._get_logger().setLevel(logging.ERROR)
            for name in _QUIET_LOGGERS:
                lg = logging.getLogger(name)
                restore.append((lg, lg.level))
                lg.setLevel(max(lg.getEffectiveLevel(), logging.ERROR))
            warnings.filterwarnings("ignore", module=_QUIET_MODULES)
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.filterwarnings("ignore", category=category)
            warnings.showwarning = _warning_line  # restored by catch_warnings
        try:
            yield
        finally:
            for lg, level in restore:
                lg.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
