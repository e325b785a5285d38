"""Adversarial training on examples produced outside the training graph: given in advance, or generated
per batch by attacks from the registry (on the network being trained, or on static models)."""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core import registry
from armour_core.api.model import as_classifier
from armour_core.errors import InvalidInputError

from .base import MSDefense
from .configs import EnsembleConfig, GivenExamplesConfig, NADConfig, WithAttacksConfig
from .records import RECORDS


class AdversarialTraining(MSDefense):
    """Train on given adversarial examples (``fit(x, y, x_adv=...)``, Goodfellow et al. 2015).

    In each batch a seeded ``replace_ratio`` share of the clean samples is swapped for its given
    adversarial counterpart; ``replace_ratio=1`` trains on the adversarial examples alone.
    """

    Config = GivenExamplesConfig
    record = RECORDS["adversarial_training"]
    uses_precomputed = True

    def _train_batch(self, x, y, x_adv, rng):
        idx = self.replace_indices(len(x), self.config.replace_ratio, rng)
        xb = x.copy()
        xb[idx] = x_adv[idx]
        return self.clean_step(xb, y)


def _attack_from(item: Any, model: Any, eps: float | None, seed: int | None) -> Any:
    """An Attack on ``model`` from a registry name, a ``(name, config)`` pair or an instance."""
    if hasattr(item, "generate"):
        return item
    name, options = (item, {}) if isinstance(item, str) else item
    options = dict(options)
    if eps is not None:
        options.setdefault("eps", eps)
    options.setdefault("seed", seed)
    return registry.create("attack", name, model=model, **options)


def _iterative_probe(model: Any, attack: Any, seed: int | None) -> Any:
    """PGD-20 at the training attack's budget: single-step training can mask its own gradients, so robust
    accuracy under the training attack itself would flatter it (Tramèr et al. 2018)."""
    cfg = attack.config
    eps, norm = getattr(cfg, "eps", None), getattr(cfg, "norm", "linf")
    if eps is None or norm not in ("linf", "l2"):
        return attack
    from .inner import PGDProbe

    return PGDProbe(model=model, eps=eps, norm=norm, steps=20, seed=seed)


class AdversarialTrainingWithAttacks(MSDefense):
    """Adversarial training with attacks from the registry, regenerated every batch on the current network.

    A seeded ``replace_ratio`` share of each batch is replaced by adversarial examples; that share is split
    evenly between ``attacks`` (each attack gets its own disjoint samples). ``replace_ratio=1`` is pure
    adversarial training. Attacks run with the network in inference mode, the update in training mode.
    """

    Config = WithAttacksConfig
    record = RECORDS["adversarial_training_with_attacks"]

    def __init__(self, *, network: Any, bounds: tuple[float, float] | None = None, **config: Any):
        super().__init__(network=network, bounds=bounds, **config)
        self.attacks = [_attack_from(a, self.model, self._attack_eps(), self.config.seed)
                        for a in self._attack_items()]

    def _attack_items(self) -> tuple:
        return self.config.attacks

    def _attack_eps(self) -> float | None:
        return self.config.eps

    def default_eval_attack(self) -> Any:
        return _iterative_probe(self.model, self.attacks[0], self.config.seed)

    def _train_batch(self, x, y, x_adv, rng):
        idx = self.replace_indices(len(x), self.config.replace_ratio, rng)
        xb = x.copy()
        if len(idx):
            self._set_train(False)
            try:
                for attack, part in zip(self.attacks, np.array_split(idx, len(self.attacks))):
                    if len(part):
                        xb[part] = np.asarray(attack.generate(x[part], y[part]).adversarial)
            finally:
                self._set_train(True)
        return self.clean_step(xb, y)


class NaturalAdversarialDefense(AdversarialTrainingWithAttacks):
    """NAD: adversarial training with FGSM examples of L∞ size ``eps`` (Kurakin et al. 2017's recipe, as
    MindArmour names it); ``replace_ratio`` of each batch is adversarial."""

    Config = NADConfig
    record = RECORDS["nad"]

    def _attack_items(self) -> tuple:
        return ("fgsm",)

    def _attack_eps(self) -> float | None:
        return self.config.eps


class EnsembleAdversarialTraining(MSDefense):
    """Ensemble adversarial training (Tramèr et al. 2018).

    ``static_models``: pre-trained networks (``nn.Cell`` or Classifier) that are never updated. Each batch
    takes its adversarial examples from one source, chosen round-robin among the network being trained and
    the static models, so the training data decouples from the current model's own gradients (which
    single-step adversarial training learns to mask).
    """

    Config = EnsembleConfig
    record = RECORDS["ensemble_adversarial_training"]

    def __init__(self, *, network: Any, static_models: Any, bounds: tuple[float, float] | None = None,
                 **config: Any):
        super().__init__(network=network, bounds=bounds, **config)
        if static_models is None or isinstance(static_models, (str, bytes)) or not hasattr(static_models, "__len__"):
            raise InvalidInputError("static_models: expected a non-empty list of pre-trained networks")
        statics = [self._wrap_static(m) for m in static_models]
        if not statics:
            raise InvalidInputError("static_models: expected at least one pre-trained network (with none, use "
                                    "adversarial_training_with_attacks)")
        for i, s in enumerate(statics):
            if s is self.model or getattr(s, "network", None) is self.network:
                raise InvalidInputError(f"static_models[{i}]: is the network being trained; static models must "
                                        "be separate pre-trained networks")
        self.static_models = statics
        self.sources = [self.model, *statics]
        options = dict(self.config.attack_config)
        options.setdefault("eps", self.config.eps)
        options.setdefault("seed", self.config.seed)
        self.attacks = [registry.create("attack", self.config.attack, model=m, **options) for m in self.sources]

    def _wrap_static(self, m: Any) -> Any:
        if hasattr(m, "predict"):
            return as_classifier(m)
        options = {"bounds": self.model.bounds, "input_shape": self.model.input_shape}
        try:
            options["num_classes"] = self.model.num_classes
        except InvalidInputError:
            pass
        return as_classifier(m, **options)

    def default_eval_attack(self) -> Any:
        return _iterative_probe(self.model, self.attacks[0], self.config.seed)

    def _train_batch(self, x, y, x_adv, rng):
        idx = self.replace_indices(len(x), self.config.replace_ratio, rng)
        source = self._batches_seen % len(self.sources)
        src = self.sources[source]
        try:
            _ = src.num_classes
        except InvalidInputError:  # a bare static network: one forward pass tells its number of classes
            src.predict(x[:1])
        xb = x.copy()
        if len(idx):
            self._set_train(False)
            try:
                xb[idx] = np.asarray(self.attacks[source].generate(x[idx], y[idx]).adversarial)
            finally:
                self._set_train(True)
        return self.clean_step(xb, y)
