"""The implementation: subclass the kind's base and fill in the protected hook."""

from armour_core.api.mutator import Mutator

from .configs import InvertConfig


class Invert(Mutator):
    """x -> (1 - s) x + s (lo + hi - x), with s drawn per sample (vectorised over the batch)."""

    Config = InvertConfig
    category = "pixel"
    ranges = ("strength",)

    def _mutate(self, x, params, rng):
        lo, hi = self.bounds
        s = params["strength"].reshape((-1,) + (1,) * (x.ndim - 1))
        return (1 - s) * x + s * (lo + hi - x)
