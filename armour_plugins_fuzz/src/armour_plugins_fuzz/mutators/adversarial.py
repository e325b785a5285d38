"""Adversarial mutators: any registered attack whose record says ``AttackSpec(fuzzing=True)``, as a mutator.

There is no list of attack names here: the attack is resolved through the registry by the ``attack``
setting, and :func:`armour_plugins_fuzz.mutators.resolve.create_mutator` makes ``"fgsm"``, ``"pgd"``... usable
as mutator names for every attack so marked. The perturbation budget ``eps`` is a per-element size as a fraction of the
data range: the attack gets ``eps·span`` for L∞, ``eps·span·√D`` for L2 and ``eps·span·D`` for L1 attacks
and ``eps·D`` changed elements for L0 attacks (D = elements per input), so one config fits [0, 1] and
[0, 255] data and any norm. A registered mutator wins a name it shares with an attack (``salt_and_pepper``
is both); such an attack stays reachable as ``("adversarial", {"attack": name})``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core import registry
from armour_core.api.arrays import to_numpy
from armour_core.api.model import as_classifier
from armour_core.api.mutator import Mutator
from armour_core.errors import ConfigError, InvalidInputError, UnknownPluginError

from .configs import AdversarialConfig
from .resolve import adversarial_attack_names


class AdversarialMutator(Mutator):
    """Untargeted attack against the model's current prediction, one run per distinct ``eps`` level.

    ``eps`` is drawn per input from ``levels`` evenly spaced values of its range, so a batch costs at most
    ``levels`` attack runs (vectorised over the inputs sharing a level) instead of one per input.
    """

    Config = AdversarialConfig
    category = "adversarial"
    image_only = False
    ranges = ("eps",)

    def __init__(self, *, model: Any, bounds: tuple[float, float] | None = None, **config: Any):
        self.model = as_classifier(model)
        super().__init__(bounds=tuple(self.model.bounds) if bounds is None else bounds, **config)
        if not np.allclose(self.bounds, self.model.bounds):
            raise InvalidInputError(f"bounds: {self.bounds} differ from the model's bounds {self.model.bounds}")
        name = self.config.attack
        try:
            spec = registry.spec("attack", name)
        except UnknownPluginError as exc:
            raise ConfigError(f"AdversarialMutator: attack={name!r}: {exc}") from None
        if not getattr(spec.facet, "fuzzing", False):
            raise ConfigError(f"AdversarialMutator: attack {spec.name!r} is not marked for fuzzing "
                              f"(AttackSpec.fuzzing=False); usable: {', '.join(adversarial_attack_names())}")
        self.attack_name = spec.name
        self.norm = self.config.attack_config.get("norm", spec.facet.norms[0])
        self._attacks: dict[float, Any] = {}
        self._attack_for(float(self.config.eps[1]))  # fail now, not mid-run, on a bad attack_config

    def sample_params(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        lo, hi = self.config.eps
        grid = np.linspace(lo, hi, self.config.levels) if hi > lo else np.array([lo])
        return {"eps": rng.choice(grid, size=int(n))}

    def _budget(self, eps: float, dim: int) -> float:
        if self.norm == "l0":  # a number of elements: eps is the fraction of them that may change
            return float(eps) * dim
        scale = {"linf": 1.0, "l2": float(np.sqrt(dim)), "l1": float(dim)}.get(self.norm, 1.0)
        return float(eps) * self.span * scale

    def _attack_for(self, budget: float):
        atk = self._attacks.get(budget)
        if atk is None:
            seed = 0 if self.config.seed is None else self.config.seed
            atk = registry.create("attack", self.attack_name, model=self.model,
                                  **{**self.config.attack_config, "eps": budget, "seed": seed})
            self._attacks[budget] = atk
        return atk

    def _mutate(self, x, params, rng):
        if self.model.input_shape is not None and tuple(x.shape[1:]) != tuple(self.model.input_shape):
            raise InvalidInputError(f"x: expected samples of shape {tuple(self.model.input_shape)}, "
                                    f"got {tuple(x.shape[1:])}")
        eps = np.asarray(params["eps"], dtype=np.float64)
        out = x.astype(np.float64, copy=True)
        labels = to_numpy(self.model.predict(x))
        dim = int(np.prod(x.shape[1:]))
        for level in np.unique(eps):
            rows = np.flatnonzero(eps == level)
            if level <= 0:
                continue
            res = self._attack_for(self._budget(level, dim)).generate(x[rows], labels[rows])
            out[rows] = to_numpy(res.adversarial)
        return out
