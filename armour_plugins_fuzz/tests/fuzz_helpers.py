"""Shared helpers of the fuzzer tests: a deterministic affine mutator and a numpy classifier with activations,
so the lineage rules and oracles can be tested whatever mutators the registry holds."""

from __future__ import annotations

import attrs
import numpy as np

from armour_core.api.model import Classifier
from armour_core.api.mutator import Mutator, MutatorConfig, range_field


@attrs.frozen(kw_only=True)
class ShiftConfig(MutatorConfig):
    dx: tuple[float, float] = range_field((-2.0, 2.0), low=-8, high=8)
    dy: tuple[float, float] = range_field((-2.0, 2.0), low=-8, high=8)


class IntegerShift(Mutator):
    """Affine: translate by whole pixels (rounded parameters), zero fill; fully determined by its parameters."""

    Config = ShiftConfig
    category = "affine"
    ranges = ("dx", "dy")

    def _mutate(self, x, params, rng):
        out = np.zeros_like(x)
        h, w = x.shape[-2:]
        for dx in np.unique(np.round(params["dx"]).astype(int)):  # loop over distinct shifts, not samples
            for dy in np.unique(np.round(params["dy"]).astype(int)):
                sel = (np.round(params["dx"]).astype(int) == dx) & (np.round(params["dy"]).astype(int) == dy)
                if not sel.any():
                    continue
                src = x[sel]
                dst = np.zeros_like(src)
                ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
                xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
                dst[..., yd, xd] = src[..., ys, xs]
                out[sel] = dst
        return out


class NanLinear(Classifier):
    """A linear classifier whose logits become NaN when the input's mean exceeds ``nan_above``; its only
    "layer" is the hidden product, exposed through :meth:`activations`."""

    capabilities = frozenset({"forward", "activations"})

    def __init__(self, w: np.ndarray, *, input_shape, nan_above: float):
        super().__init__()
        self.w = w
        self.input_shape = tuple(input_shape)
        self.bounds = (0.0, 1.0)
        self.num_classes = w.shape[1]
        self.nan_above = nan_above

    def _logits(self, x):
        z = x.reshape(len(x), -1) @ self.w
        z[x.reshape(len(x), -1).mean(1) > self.nan_above] = np.nan
        return z.astype(np.float32)

    def layer_names(self):
        return ["hidden"]

    def activations(self, x, layers=None):
        self.forward_calls += 1
        return {"hidden": np.maximum(x.reshape(len(x), -1) @ self.w, 0.0)}


def affine_steps(report, chain) -> int:
    cats = report.config["mutators"]
    return sum(1 for s in chain if cats[s["mutator"]]["category"] == "affine")
