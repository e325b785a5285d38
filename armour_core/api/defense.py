"""Adversarial-training defenses: train a network in place, reporting clean and robust accuracy per epoch.

``Defense.fit`` owns the invariants every defense shares — input validation, a seeded shuffle into
mini-batches, the network's train/eval mode, per-epoch evaluation and the history record — and calls the
plugin's :meth:`Defense._train_batch` once per mini-batch. Nothing here imports MindSpore.
"""

from __future__ import annotations

import abc
import time
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import CapabilityError, InvalidInputError
from ..wiring import default_registry
from .arrays import check_inputs, check_labels
from .base import Algorithm, make_config, seed_field
from .model import as_classifier

OPTIMIZERS = ("adam", "sgd", "momentum")


@attrs.frozen(kw_only=True)
class DefenseConfig:
    """Training hyperparameters every defense shares.

    ``optimizer``: ``adam``, ``sgd`` or ``momentum`` (SGD with ``momentum``); ``weight_decay`` is L2 on the
    weights. ``eval_batch_size`` bounds memory of the per-epoch evaluation.
    """

    epochs: int = attrs.field(default=1, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)])
    batch_size: int = attrs.field(default=64, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)])
    learning_rate: float = attrs.field(default=0.01, validator=attrs.validators.gt(0.0))
    optimizer: str = attrs.field(default="adam", validator=attrs.validators.in_(OPTIMIZERS))
    momentum: float = attrs.field(default=0.9, validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)])
    weight_decay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    eval_batch_size: int = attrs.field(default=256, validator=[attrs.validators.instance_of(int),
                                                               attrs.validators.ge(1)])
    seed: int | None = seed_field()


def ratio_field(default: float):
    """``replace_ratio``: the fraction of each batch replaced by adversarial examples, in [0, 1].

    1.0 is pure adversarial training (Madry et al.); 0.0 is plain training.
    """
    return attrs.field(default=default, converter=float,
                       validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)])


@attrs.frozen(kw_only=True)
class EpochRecord:
    """One epoch of training: mean training loss, accuracy on the validation set (clean and under the
    evaluation attack, when given) and wall time of the training part."""

    epoch: int
    loss: float
    clean_accuracy: float | None = None
    robust_accuracy: float | None = None
    seconds: float = 0.0


class Defense(Algorithm, abc.ABC):
    """Base of every defense. ``fit(x, y)`` trains ``network`` in place and returns the per-epoch history.

    With ``x_val``/``y_val`` each epoch also reports clean accuracy and robust accuracy under
    ``eval_attack`` — an :class:`~armour_core.api.attack.Attack`, or an attack name created from the registry
    on this model (``eps`` from the defense's own ``eps`` when it has one). When ``eval_attack`` is omitted
    the defense's :meth:`default_eval_attack` is used (``None``: clean accuracy only).

    Subclasses implement :meth:`_train_batch`. Set ``uses_precomputed = True`` to accept ``x_adv`` (given
    adversarial counterparts of ``x``) in :meth:`fit`.
    """

    Config: ClassVar[type] = DefenseConfig
    uses_precomputed: ClassVar[bool] = False
    #: the PluginSpec this class implements; when set, the model capabilities checked at construction
    #: (``needs``) are its ``capabilities``, declared there once
    record: ClassVar[Any] = None
    needs: ClassVar[frozenset[str]] = frozenset({"parameters"})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        record = cls.__dict__.get("record")
        if record is not None:
            cls.needs = frozenset(record.capabilities) | {"parameters"}

    def __init__(self, *, network: Any, bounds: tuple[float, float] | None = None, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.model = as_classifier(network, bounds=tuple(bounds) if bounds is not None else None)
        missing = sorted(self.needs - set(self.model.capabilities))
        if missing:
            raise CapabilityError(f"{type(self).__name__} trains the network and needs the model capabilities "
                                  f"{missing}, which {type(self.model).__name__} does not expose")
        self.history: list[EpochRecord] = []
        self._batches_seen = 0

    # ------------------------------------------------------------------ template method
    def fit(self, x: Any, y: Any, *, x_adv: Any = None, x_val: Any = None, y_val: Any = None,
            eval_attack: Any = None, progress: bool | None = None) -> list[EpochRecord]:
        """Train for ``config.epochs`` epochs on ``(x, y)``; returns (and appends to) :attr:`history`."""
        m = self.model
        xa = check_inputs(x, name="x", bounds=m.bounds, input_shape=m.input_shape)
        ya = check_labels(y, n=xa.shape[0], num_classes=self._num_classes(xa))
        xadv = self._check_precomputed(x_adv, xa)
        xv = yv = None
        if (x_val is None) != (y_val is None):
            raise InvalidInputError("x_val and y_val: give both or neither")
        if x_val is not None:
            xv = check_inputs(x_val, name="x_val", bounds=m.bounds, input_shape=xa.shape[1:])
            yv = check_labels(y_val, n=xv.shape[0], num_classes=m.num_classes, name="y_val")
        attack = self.resolve_eval_attack(eval_attack) if xv is not None else None
        from ..progress import Progress

        bs = min(self.config.batch_size, xa.shape[0])
        steps = -(-xa.shape[0] // bs)
        start = len(self.history)
        with Progress(self.config.epochs * steps, type(self).__name__, enabled=progress, unit="batches") as bar:
            for epoch in range(start, start + self.config.epochs):
                rng = self.rng(epoch)
                order = rng.permutation(xa.shape[0])
                t0 = time.perf_counter()
                total, count = 0.0, 0
                self._set_train(True)
                try:
                    for i in range(steps):
                        idx = order[i * bs:(i + 1) * bs]
                        loss = float(self._train_batch(xa[idx], ya[idx], None if xadv is None else xadv[idx], rng))
                        self._batches_seen += 1
                        total += loss * len(idx)
                        count += len(idx)
                        bar.update(1, epoch=epoch, loss=f"{loss:.3f}")
                finally:
                    self._set_train(False)
                seconds = time.perf_counter() - t0
                mean_loss = total / max(count, 1)
                if not np.isfinite(mean_loss):
                    raise FloatingPointError(f"{type(self).__name__}: training loss became {mean_loss} in epoch "
                                             f"{epoch}; lower learning_rate")
                clean = robust = None
                if xv is not None:
                    clean, robust = self.evaluate(xv, yv, attack)
                self.history.append(EpochRecord(epoch=epoch, loss=mean_loss, clean_accuracy=clean,
                                                robust_accuracy=robust, seconds=seconds))
        return self.history

    def train_batch(self, x: Any, y: Any, *, x_adv: Any = None) -> float:
        """One training step on one batch (for your own loop); returns the batch loss."""
        m = self.model
        xa = check_inputs(x, name="x", bounds=m.bounds, input_shape=m.input_shape)
        ya = check_labels(y, n=xa.shape[0], num_classes=self._num_classes(xa))
        xadv = self._check_precomputed(x_adv, xa)
        self._set_train(True)
        try:
            loss = float(self._train_batch(xa, ya, xadv, self.rng(10_000_000 + self._batches_seen)))
        finally:
            self._set_train(False)
        self._batches_seen += 1
        return loss

    def evaluate(self, x: np.ndarray, y: np.ndarray, attack: Any = None) -> tuple[float, float | None]:
        """Clean accuracy and (given ``attack``) robust accuracy — the share of points classified correctly
        both before and after the attack — of the current network on ``(x, y)``."""
        bs = self.config.eval_batch_size
        pred = np.concatenate([np.asarray(self.model.predict(x[i:i + bs])) for i in range(0, len(x), bs)])
        clean = float(np.mean(pred == y))
        if attack is None:
            return clean, None
        res = attack.batch_generate(x, y, batch_size=bs, progress=False)
        # robust: correct before and after the attack (a point the model gets wrong is never robust)
        return clean, float(np.mean((pred == y) & (np.asarray(res.predictions) == y)))

    # ------------------------------------------------------------------ hooks
    def default_eval_attack(self) -> Any:
        """The attack used for per-epoch robust accuracy when ``fit`` is given none (``None``: none)."""
        return None

    @abc.abstractmethod
    def _train_batch(self, x: np.ndarray, y: np.ndarray, x_adv: np.ndarray | None,
                     rng: np.random.Generator) -> float:
        """One optimisation step on a validated batch; returns its loss."""

    def _set_train(self, mode: bool) -> None:
        network = getattr(self.model, "network", None)
        if network is not None and hasattr(network, "set_train"):
            network.set_train(mode)

    # ------------------------------------------------------------------ helpers
    def _num_classes(self, xa: np.ndarray) -> int:
        return self.model.num_classes_for(xa)  # a bare network: learned from this batch

    def _check_precomputed(self, x_adv: Any, xa: np.ndarray) -> np.ndarray | None:
        if x_adv is None:
            if self.uses_precomputed:
                raise InvalidInputError(f"x_adv: {type(self).__name__} trains on given adversarial examples; "
                                        "pass x_adv (same shape as x)")
            return None
        if not self.uses_precomputed:
            raise InvalidInputError(f"x_adv: {type(self).__name__} generates its own adversarial examples and "
                                    "takes no x_adv")
        xadv = check_inputs(x_adv, name="x_adv", bounds=self.model.bounds)
        if xadv.shape != xa.shape:
            raise InvalidInputError(f"x_adv: expected shape {xa.shape} to match x, got {xadv.shape}")
        return xadv

    def resolve_eval_attack(self, eval_attack: Any) -> Any:
        """The attack ``fit`` evaluates with: an instance as is, a name created on this model, or the default."""
        if eval_attack is None:
            return self.default_eval_attack()
        if isinstance(eval_attack, str):
            eps = getattr(self.config, "eps", None)
            options = {"eps": eps} if eps is not None else {}
            seed = getattr(self.config, "seed", None)
            return default_registry().create("attack", eval_attack, model=self.model, seed=seed, **options)
        if not hasattr(eval_attack, "batch_generate"):
            raise InvalidInputError(f"eval_attack: expected an Attack or an attack name, got "
                                    f"{type(eval_attack).__name__}")
        return eval_attack
