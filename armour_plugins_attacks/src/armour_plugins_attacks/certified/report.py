"""The certified-accuracy summary that ``armour certify`` and the audit section share: numbers for JSON and an
HTML block with the certified-accuracy-vs-radius curve."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Certification


def summary(cert: Certification, y: np.ndarray, radii: list[float], config: Any) -> dict[str, Any]:
    """Certified accuracy at each radius, abstain rate, and what the certificate means."""
    acc = cert.certified_accuracy(y, radii)
    c = config
    return {"radii": [float(r) for r in radii], "certified_accuracy": [float(a) for a in acc],
            "abstain_rate": cert.abstain_rate, "n_points": int(len(y)), "norm": cert.norm,
            "sigma": c.sigma, "n0": c.n0, "n": c.n, "alpha": c.alpha,
            "smoothed_accuracy": float(np.mean(cert.labels == y)),
            "median_radius_correct": float(np.median(cert.radii[cert.labels == y])) if np.any(cert.labels == y)
            else 0.0,
            "max_certifiable_radius": float(max_radius(c.sigma, c.n, c.alpha)),
            "forward_calls": cert.forward_calls, "queries": cert.queries, "seconds": cert.seconds}


def max_radius(sigma: float, n: int, alpha: float) -> float:
    """The largest radius ``n`` estimation samples can certify: all ``n`` votes for the top class."""
    from scipy import stats

    return sigma * stats.norm.ppf(alpha ** (1.0 / n))


def meaning(s: dict[str, Any]) -> str:
    return (f"Randomized smoothing (Cohen et al. 2019), σ = {s['sigma']:g}: for the smoothed classifier (the "
            f"majority vote of the model under N(0, σ²) noise, not the model itself), a point is certified at "
            f"radius r when no L2 perturbation of norm ≤ r changes its vote, with probability ≥ "
            f"{1 - s['alpha']:g} over the {s['n0']} + {s['n']} noise samples per point. Radii above "
            f"{s['max_certifiable_radius']:.3g} cannot be certified with {s['n']} samples.")


def html(s: dict[str, Any]) -> str:
    from armour_core import report as R

    chart = R.line_chart(s["radii"], {"certified accuracy": s["certified_accuracy"]}, xlabel="L2 radius",
                         ylabel="certified accuracy", ylim=(-0.02, 1.02),
                         title=f"certified accuracy vs L2 radius (σ = {s['sigma']:g})")
    rows = [[f"{r:g}", a] for r, a in zip(s["radii"], s["certified_accuracy"])]
    return (f"<p>{R.esc(meaning(s))}</p>" + R.table(["radius", "certified accuracy"], rows)
            + f"<p>{s['n_points']} points; abstain rate {s['abstain_rate']:.3f}; smoothed-classifier accuracy "
              f"{s['smoothed_accuracy']:.3f}; {s['queries']} model queries in {s['seconds']:.1f} s.</p>" + chart)
