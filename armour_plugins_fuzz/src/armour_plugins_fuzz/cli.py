"""``armour fuzz``: coverage-guided fuzz testing on the embedded default (scikit-learn digits and a small
network trained and cached on first use) or on your own network and data.

The corpus and findings persist to ``--corpus-dir`` as the run goes, so running the same command again
after an interruption resumes it; results go to ``fuzz.json`` and ``fuzz.html`` in ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from armour_core.errors import InvalidInputError


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fuzz", help="coverage-guided fuzz testing (DeepHunter-style) with mutators and coverage from the registry",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="lenet5", help="embedded architecture (registry kind 'model'); default lenet5")
    p.add_argument("--dataset", default="digits", help="embedded dataset (registry kind 'dataset'); default digits")
    p.add_argument("--network", help="your network: 'package.module:factory' returning an nn.Cell")
    p.add_argument("--checkpoint", help="trained weights of --network (a MindSpore .ckpt)")
    p.add_argument("--data", help="your data: .npz with x_seeds and y_seeds (optional x_train for profiles)")
    p.add_argument("--bounds", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="input range of your data (default: the dataset's, or 0 1)")
    p.add_argument("--mutators", help="comma-separated mutator names (default: every registered pixel and "
                                      "affine mutator; add --adversarial for the adversarial ones)")
    p.add_argument("--adversarial", action="store_true", help="also use every registered adversarial mutator")
    p.add_argument("--coverage", default="neuron", help="comma-separated coverage criteria (default neuron)")
    p.add_argument("--scheduler", default="deephunter", help="seed scheduler (default deephunter)")
    p.add_argument("--seeds", type=int, default=50, help="initial seeds taken from the test split (default 50)")
    p.add_argument("--max-iters", type=int, default=200, help="total iterations (default 200)")
    p.add_argument("--mutants-per-seed", type=int, default=20)
    p.add_argument("--alpha", type=float, default=0.02, help="DeepHunter L0 bound (fraction of elements)")
    p.add_argument("--beta", type=float, default=0.2, help="DeepHunter L_inf bound (fraction of the range)")
    p.add_argument("--differential", choices=("graph", "float16"), help="also run the differential oracle")
    p.add_argument("--corpus-dir", default="armour-fuzz", help="corpus and checkpoints (default ./armour-fuzz)")
    p.add_argument("--fresh", action="store_true", help="ignore a checkpoint in --corpus-dir and start afresh")
    p.add_argument("--out", default="armour-report", help="output directory for fuzz.json and fuzz.html")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")
    p.add_argument("--fail-on-findings", action="store_true", help="exit with status 1 when failures were found")
    p.set_defaults(func=run)


def _target(args: argparse.Namespace):
    """(classifier, seeds_x, seeds_y, x_train, description)."""
    import armour_core.ms  # noqa: F401  (CPU runtime settings)
    from armour_core.ms.model import MSModel

    if args.network or args.data:
        if not (args.network and args.data):
            raise InvalidInputError("--network and --data: give both to fuzz your own model")
        from armour_core.registry import import_target

        try:
            data = np.load(args.data)
        except OSError as exc:
            raise InvalidInputError(f"--data: cannot read {args.data!r} ({exc})") from None
        missing = [k for k in ("x_seeds", "y_seeds") if k not in data]
        if missing:
            raise InvalidInputError(f"--data: {args.data!r} lacks array(s) {missing}; it has {sorted(data.files)}")
        try:
            net = import_target(args.network)()
        except Exception as exc:  # noqa: BLE001
            raise InvalidInputError(f"--network: cannot build {args.network!r} ({type(exc).__name__}: {exc})") from None
        if args.checkpoint:
            import mindspore as ms

            ms.load_param_into_net(net, ms.load_checkpoint(args.checkpoint), strict_load=True)
        xs = np.asarray(data["x_seeds"], dtype=np.float32)
        model = MSModel(net, bounds=tuple(args.bounds or (0.0, 1.0)), input_shape=xs.shape[1:])
        x_train = data["x_train"].astype(np.float32) if "x_train" in data else None
        return model, xs[: args.seeds], data["y_seeds"][: args.seeds], x_train, f"{args.network} on {args.data}"
    from armour_core.ms.pretrained import pretrained

    pre = pretrained(args.model, args.dataset, seed=args.seed, progress=args.progress)
    d = pre.dataset
    how = "trained now" if pre.trained_now else "loaded from cache"
    desc = f"{args.model} on {args.dataset} (test accuracy {pre.test_accuracy:.3f}, {how})"
    return pre.model, d.x_test[: args.seeds], d.y_test[: args.seeds], d.x_train, desc


def _default_mutators(adversarial: bool) -> list[str]:
    from armour_core import registry

    wanted = {"pixel", "affine"} | ({"adversarial"} if adversarial else set())
    return [s.name for s in registry.specs("mutator")
            if registry.availability("mutator", s.name) == "" and getattr(s.facet, "category", "pixel") in wanted]


def run(args: argparse.Namespace) -> int:
    from armour_core.wrappers.fuzzer import Fuzzer

    if args.seeds < 1:
        raise InvalidInputError(f"--seeds: expected a positive count, got {args.seeds}")
    model, xs, ys, x_train, desc = _target(args)
    mutators = _names(args.mutators) or _default_mutators(args.adversarial)
    if args.mutators and args.adversarial:
        from armour_core import registry

        adversarial = [m for m in _default_mutators(True)
                       if getattr(registry.spec("mutator", m).facet, "category", "") == "adversarial"]
        mutators += [m for m in adversarial if m not in mutators]
    coverage = _names(args.coverage)
    print(f"armour fuzz: {desc}; {len(xs)} seeds; mutators {', '.join(mutators)}; coverage {', '.join(coverage)}; "
          f"scheduler {args.scheduler}", file=sys.stderr)
    fz = Fuzzer(model, mutators, coverage=coverage, scheduler=args.scheduler, corpus_dir=args.corpus_dir,
                mutants_per_seed=args.mutants_per_seed, alpha=args.alpha, beta=args.beta,
                differential=args.differential, x_train=x_train, seed=args.seed)
    rep = fz.run(xs, ys, max_iters=args.max_iters, resume=not args.fresh, progress=args.progress)
    html, js = rep.write(args.out)
    if rep.resumed_from is not None:
        print(f"resumed from iteration {rep.resumed_from} in {args.corpus_dir}")
    cov = ", ".join(f"{k} {v:.4f}" for k, v in rep.coverage.items())
    attacked = len({f["seed_index"] for f in rep.findings if f["chain"]})
    print(f"{rep.iterations} iterations ({rep.iterations_per_second:.1f}/s): coverage {cov}; "
          f"corpus {len(rep.corpus_x)}; {rep.failures} failing mutants from {attacked} seeds "
          f"({rep.seeds_misclassified} seeds already misclassified)")
    for k, s in rep.mutators.items():
        print(f"  {k:<22} tried {s.tried:>6}  valid {s.valid:>6}  kept {s.kept:>5}  failures {s.failures:>5}")
    print(f"report: {html}\njson:   {js}\ncorpus: {args.corpus_dir}")
    return 1 if (args.fail_on_findings and rep.failures) else 0
