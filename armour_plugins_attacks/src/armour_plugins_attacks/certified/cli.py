"""``armour certify``: certified L2 accuracy of the randomized-smoothing classifier built on a model, at several
radii, optionally after noise-augmented training of the model; prints the figures and writes certify.json and a
self-contained certify.html (curve of certified accuracy vs radius) into ``--out``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from armour_core.cli_args import nonnegative_int, positive_float, positive_int
from armour_core.errors import InvalidInputError
from armour_core.loading import add_model_arguments, target_from_args

from ..cli.commands import _floats, add_run_options


def register_certify(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "certify", help="certified L2 accuracy of the randomized-smoothing classifier at several radii",
        description="Randomized smoothing (Cohen et al. 2019) on a model: certify each point (n0 selection and n "
                    "estimation noise samples, Clopper-Pearson bound at 1 - alpha), print certified accuracy at "
                    "the radii and the abstain rate; writes certify.json and certify.html into --out. "
                    "--train-epochs first fine-tunes the model with Gaussian noise of the same sigma.")
    p.add_argument("--sigma", type=positive_float, default=0.25, help="noise standard deviation (default 0.25)")
    p.add_argument("--n0", type=positive_int, default=100, help="selection samples per point (default 100)")
    p.add_argument("--samples", type=positive_int, default=10_000, metavar="SAMPLES",
                   help="estimation samples per point, the paper's n (default 10000)")
    p.add_argument("--alpha", type=positive_float, default=0.001, help="failure probability (default 0.001)")
    p.add_argument("--radii", default="0,0.1,0.25,0.5,0.75,1", help="comma-separated L2 radii to report")
    p.add_argument("--train-epochs", type=nonnegative_int, default=0,
                   help="first train the model this many epochs with Gaussian noise of --sigma (needs a training "
                        "split: the embedded default); 0: certify the model as it is (default)")
    p.add_argument("--learning-rate", type=positive_float, default=1e-3, help="for --train-epochs (default 1e-3)")
    add_model_arguments(p, limit_default=100)
    add_run_options(p, out="armour-certify", func=run_certify, batch_size=1000,
                    batch_help="noisy inputs per forward pass (default 1000)")


def run_certify(args: argparse.Namespace) -> int:
    from armour_core import registry
    from armour_core import report as R

    from . import report

    radii = _floats(args.radii, "--radii")
    if any(r < 0 for r in radii):
        raise InvalidInputError(f"--radii: expected radii >= 0, got {args.radii!r}")
    if not 0 < args.alpha < 1:
        raise InvalidInputError(f"--alpha: expected a probability in (0, 1), got {args.alpha}")
    target = target_from_args(args)
    description = target.description
    if args.train_epochs:
        if target.x_train is None:
            raise InvalidInputError("--train-epochs: noise-augmented training needs a training split; your --data "
                                    "gives none (train your network with Gaussian noise yourself, or use the "
                                    "embedded default)")
        from .training import train_with_noise

        print(f"armour certify: training {target.name} {args.train_epochs} epochs with Gaussian noise "
              f"σ={args.sigma:g}", file=sys.stderr)
        train_with_noise(target.model.network, target.x_train, target.y_train, sigma=args.sigma,
                         epochs=args.train_epochs, learning_rate=args.learning_rate, seed=args.seed,
                         progress=args.progress)
        target.model.refresh()
        description += f", then {args.train_epochs} epochs of Gaussian-noise training (σ={args.sigma:g})"
    certifier = registry.create("certifier", "randomized_smoothing", model=target.model, sigma=args.sigma,
                                n0=args.n0, n=args.samples, alpha=args.alpha, batch_size=args.batch_size,
                                seed=args.seed)
    print(f"armour certify: {description}, {len(target.x)} points, σ={args.sigma:g}, n0={args.n0}, "
          f"n={args.samples}, α={args.alpha:g}", file=sys.stderr)
    cert = certifier.certify(target.x, progress=args.progress)
    summ = {"model": description, **report.summary(cert, target.y, radii, certifier.config)}
    out = Path(args.out)
    if args.train_epochs:
        from armour_core.ms.checkpoint import save_checkpoint_atomic

        out.mkdir(parents=True, exist_ok=True)
        save_checkpoint_atomic(target.model.network, out / "noise_trained.ckpt")
        summ["checkpoint"] = str(out / "noise_trained.ckpt")
    html_path, json_path = R.write(out, "certify", R.page("armour certified robustness", [
        R.Section("certified", "Certified accuracy vs L2 radius (randomized smoothing)", report.html(summ))]),
        summ)
    for r, a in zip(summ["radii"], summ["certified_accuracy"]):
        print(f"  radius {r:<6g} certified accuracy {a:.3f}")
    print(f"abstain rate {summ['abstain_rate']:.3f}; smoothed-classifier accuracy {summ['smoothed_accuracy']:.3f}; "
          f"{summ['queries']} queries in {summ['seconds']:.1f} s")
    print(f"wrote {html_path} and {json_path}")
    return 0
