"""``armour fuzz``: coverage-guided fuzz testing on the embedded default (scikit-learn digits and a small
network trained and cached on first use) or on your own network and data.

Model and data flags are shared with the other workflow commands (:mod:`armour_core.loading`); with your
own data, ``--data seeds.npz`` holds the initial seeds as ``x`` and ``y``. The corpus and findings persist
to ``--corpus-dir`` as the run goes, so running the same command again after an interruption resumes it;
results go to ``fuzz.json`` and ``fuzz.html`` in ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def register(subparsers: Any) -> None:
    from armour_core.cli_args import fraction, nonnegative_int, output_dir, positive_int
    from armour_core.loading import add_model_arguments

    p = subparsers.add_parser(
        "fuzz", help="coverage-guided fuzz testing (DeepHunter-style) with mutators and coverage from the registry",
        description=__doc__.split("\n\n")[0])
    add_model_arguments(p, limit_default=50)  # --n: how many initial seeds (from the test split by default)
    p.add_argument("--train-data", help="training inputs for criteria that need a profile when fuzzing your own "
                                        "model: an .npz with x (and optionally y)")
    p.add_argument("--mutators", help="comma-separated mutator names (default: every registered pixel and "
                                      "affine mutator; add --adversarial for the adversarial ones)")
    p.add_argument("--adversarial", action="store_true", help="also use every fuzzing-capable attack as a mutator")
    p.add_argument("--coverage", default="neuron", help="comma-separated coverage criteria (default neuron)")
    p.add_argument("--scheduler", default="deephunter", help="seed scheduler (default deephunter)")
    p.add_argument("--max-iters", type=positive_int, default=200, help="total iterations (default 200)")
    p.add_argument("--mutants-per-seed", type=positive_int, default=20)
    p.add_argument("--alpha", type=fraction, default=0.02, help="DeepHunter L0 bound (fraction of elements)")
    p.add_argument("--beta", type=fraction, default=0.2, help="DeepHunter L_inf bound (fraction of the range)")
    p.add_argument("--differential", choices=("graph", "float16"), help="also run the differential oracle")
    p.add_argument("--corpus-dir", default="armour-fuzz", type=output_dir,
                   help="corpus and checkpoints (default ./armour-fuzz)")
    p.add_argument("--fresh", action="store_true", help="ignore a checkpoint in --corpus-dir and start afresh")
    p.add_argument("--out", default="armour-report", type=output_dir,
                   help="output directory for fuzz.json and fuzz.html")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")
    p.add_argument("--fail-on-findings", action="store_true", help="exit with status 1 when failures were found")
    p.add_argument("--campaigns", type=positive_int, default=1, metavar="N",
                   help="run N fuzzers with seeds --seed, --seed+1, ... (each in --corpus-dir/campaign-i) and "
                        "merge them: coverage united, corpus merged by coverage gain, findings deduplicated")
    from armour_core.executors import add_executor_arguments

    add_executor_arguments(p)
    p.set_defaults(func=run)


def _target(args: argparse.Namespace):
    """(classifier, seeds_x, seeds_y, x_train, y_train, description) through :mod:`armour_core.loading`."""
    from armour_core.loading import load_npz, target_from_args, validate_xy

    t = target_from_args(args)
    x_train, y_train = t.x_train, t.y_train
    if args.train_data:
        arrays = load_npz(args.train_data, ("x",), what="--train-data")
        x_train = arrays["x"]
        y_train = arrays.get("y")
        if y_train is None:
            x_train, _ = validate_xy(x_train, np.zeros(len(x_train), np.int64), bounds=t.model.bounds,
                                     what="--train-data")
        else:
            x_train, y_train = validate_xy(x_train, y_train, bounds=t.model.bounds, num_classes=t.model.num_classes,
                                           what="--train-data")
    return t.model, t.x, t.y, x_train, y_train, t.description


def _default_mutators(adversarial: bool) -> list[str]:
    from armour_core import registry

    wanted = {"pixel", "affine"} | ({"adversarial"} if adversarial else set())
    return [s.name for s in registry.specs("mutator")
            if registry.availability("mutator", s.name) == "" and getattr(s.facet, "category", "pixel") in wanted]


def run(args: argparse.Namespace) -> int:
    from .fuzzer import Fuzzer

    model, xs, ys, x_train, y_train, desc = _target(args)
    mutators = _names(args.mutators) or _default_mutators(args.adversarial)
    if args.mutators and args.adversarial:
        from armour_core import registry

        adversarial = [m for m in _default_mutators(True)
                       if getattr(registry.spec("mutator", m).facet, "category", "") == "adversarial"]
        mutators += [m for m in adversarial if m not in mutators]
    coverage = _names(args.coverage)
    print(f"armour fuzz: {desc}; {len(xs)} seeds; mutators {', '.join(mutators)}; coverage {', '.join(coverage)}; "
          f"scheduler {args.scheduler}", file=sys.stderr)
    settings = dict(mutators=mutators, coverage=coverage, scheduler=args.scheduler,
                    mutants_per_seed=args.mutants_per_seed, alpha=args.alpha, beta=args.beta,
                    differential=args.differential)
    if args.campaigns == 1 and args.executor == "local" and args.ray_address is None:
        fz = Fuzzer(model, **settings, corpus_dir=args.corpus_dir, x_train=x_train, y_train=y_train, seed=args.seed)
        rep = fz.run(xs, ys, max_iters=args.max_iters, resume=not args.fresh, progress=args.progress)
    else:
        from armour_core.executors import executor_from_args
        from armour_core.loading import model_ref_from_args

        from .campaigns import run_campaigns

        executor = executor_from_args(args)
        rep = run_campaigns(model_ref_from_args(args, model), xs, ys, campaigns=args.campaigns, executor=executor,
                            max_iters=args.max_iters, seed=args.seed, corpus_dir=args.corpus_dir,
                            resume=not args.fresh, x_train=x_train, y_train=y_train, **settings)
        print(f"{args.campaigns} campaigns on the {executor.name} executor, merged", file=sys.stderr)
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
