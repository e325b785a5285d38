"""Evasion attacks: ``Attack.generate`` validates, calls ``_generate``, projects and reports."""

from __future__ import annotations

import abc
import time
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import ConfigError, InvalidInputError
from ..progress import Progress
from .arrays import check_inputs, check_labels, like, to_numpy
from .base import Algorithm, make_config, seed_field
from .model import Classifier, as_classifier
from .norms import NORMS, clip_to_ball_and_bounds, lp_norm
from .validators import eps_field, norm_field, norm_name


_norm_name = norm_name  # kept for plugins that imported it from here

#: what each capability an attack may need stands for (for error messages)
_NEEDS = {"gradients": "input gradients", "forward": "forward passes", "graphs": "MindSpore graphs",
          "parameters": "trainable parameters", "probabilities": "class probabilities",
          "activations": "layer activations"}


@attrs.frozen(kw_only=True)
class AttackConfig:
    """Hyperparameters every attack shares. ``eps=None`` means unbounded (minimum-norm attacks)."""

    eps: float | None = eps_field(0.1, optional=True)
    norm: str = norm_field("linf", NORMS)
    seed: int | None = seed_field()


@attrs.frozen(kw_only=True)
class AttackResult:
    """What an attack returns (same array type as its input for ``adversarial``)."""

    adversarial: Any
    success: np.ndarray  #: per sample: misclassified (untargeted) or classified as the target (targeted)
    norms: np.ndarray  #: per-sample ||adversarial - x|| in the attack's norm (absolute, input space)
    predictions: np.ndarray  #: model labels on the adversarial batch
    forward_calls: int = 0  #: batch forward passes used by the attack (not counting the success check)
    backward_calls: int = 0
    queries: int = 0  #: per-sample model evaluations (the black-box budget)
    seconds: float = 0.0

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.success)) if self.success.size else 0.0


def record_norm_field(record: Any):
    """The ``norm`` field of an attack's config, checked against the norms its record declares (default:
    the first), so the record stays the one place that says which norms an attack supports."""
    norms = tuple(record.facet.norms)

    def supported(inst: Any, attribute: Any, value: str) -> None:
        if value not in norms:
            raise InvalidInputError(f"norm={value!r} is not supported by {record.name!r}; supported: "
                                    f"{', '.join(norms)}")

    return attrs.field(default=norms[0], converter=norm_name, validator=supported)


class Attack(Algorithm, abc.ABC):
    """Base of every evasion attack.

    Subclasses set ``Config`` (a subclass of :class:`AttackConfig`) and implement :meth:`_generate`. What
    the attack supports is declared once, in its registry record: a subclass names it in ``record`` and the
    base derives ``norms``, ``targeted``, ``minimum_norm`` and the capabilities it needs from the model
    (``record.capabilities``) from it. Classes without a record (third-party code written before records
    carried these facts) may still set ``norms``/``targeted``/``minimum_norm``/``needs_gradients``.
    """

    Config: ClassVar[type] = AttackConfig
    record: ClassVar[Any] = None  #: the PluginSpec (kind ``attack``, facet ``AttackSpec``) this class implements
    norms: ClassVar[tuple[str, ...]] = ("linf",)
    targeted: ClassVar[bool] = False
    minimum_norm: ClassVar[bool] = False  #: eps bounds the result only when set (None: unbounded)
    needs_gradients: ClassVar[bool] = True
    needs: ClassVar[frozenset[str]] = frozenset({"gradients"})  #: model capabilities checked at construction

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        record = cls.__dict__.get("record")
        if record is not None:
            cls.norms = tuple(record.facet.norms)
            cls.targeted = bool(record.facet.targeted)
            cls.minimum_norm = bool(record.facet.minimum_norm)
            cls.needs = frozenset(record.capabilities)
            cls.needs_gradients = "gradients" in cls.needs
        elif "needs_gradients" in cls.__dict__:
            cls.needs = frozenset({"gradients"}) if cls.needs_gradients else frozenset()

    def __init__(self, *, model: Any, bounds: tuple[float, float] | None = None, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        if self.config.norm not in self.norms:
            raise ConfigError(f"{type(self).__name__}: norm={self.config.norm!r} is not supported; "
                              f"supported: {', '.join(self.norms)}")
        self.model: Classifier = as_classifier(model, bounds=tuple(bounds) if bounds is not None else None)
        missing = sorted(self.needs - set(self.model.capabilities))
        if missing:
            from ..errors import CapabilityError

            raise CapabilityError(f"{type(self).__name__} needs the model capabilities {missing} "
                                  f"({', '.join(_NEEDS.get(c, c) for c in missing)}), which "
                                  f"{type(self.model).__name__} does not provide")

    @property
    def bounds(self) -> tuple[float, float]:
        return self.model.bounds

    # ------------------------------------------------------------------ template method
    def generate(self, x: Any, y: Any = None, *, target: Any = None) -> AttackResult:
        """Adversarial examples for ``x``.

        ``y``: true integer labels (untargeted); defaults to the model's predictions. ``target``: integer
        target labels for a targeted attack. The result stays within the ε-ball (when ``eps`` is set) and
        the model's bounds.
        """
        return self._run(x, y, target, stream=0)

    def _run(self, x: Any, y: Any, target: Any, stream: int) -> AttackResult:
        m = self.model
        xa = check_inputs(x, name="x", bounds=m.bounds, input_shape=m.input_shape)
        n = xa.shape[0]
        k = m.num_classes_for(xa)  # a never-called network learns its classes (and shape) from this batch
        if y is None:
            ya = m.predict(xa)
        else:
            ya = check_labels(y, n=n, num_classes=k, name="y")
        ta = None
        if target is not None:
            if not self.targeted:
                raise ConfigError(f"{type(self).__name__} is untargeted: target= is not accepted")
            ta = check_labels(target, n=n, num_classes=k, name="target")
        before = m.counters()
        t0 = time.perf_counter()
        self._stream = stream
        adv = self._generate(xa, ya, ta)
        adv = to_numpy(adv, "adversarial")
        if adv.shape != xa.shape:
            raise RuntimeError(f"{type(self).__name__}._generate returned shape {adv.shape} for input {xa.shape}")
        if not np.all(np.isfinite(adv)):
            raise RuntimeError(f"{type(self).__name__}._generate returned NaN/Inf values")
        eps = self.config.eps
        adv = clip_to_ball_and_bounds(xa, adv.astype(xa.dtype, copy=False), eps, self.config.norm, m.bounds)
        seconds = time.perf_counter() - t0
        after = m.counters()
        with m.uncounted():  # the success check is not the attack's cost
            pred = m.predict(adv)
        success = pred == ta if ta is not None else pred != ya
        norms = lp_norm(adv.astype(np.float64) - xa, self.config.norm)
        return AttackResult(adversarial=like(adv, x), success=success, norms=norms, predictions=pred,
                            forward_calls=after[0] - before[0], backward_calls=after[1] - before[1],
                            queries=after[2] - before[2], seconds=seconds)

    def batch_generate(self, x: Any, y: Any = None, *, target: Any = None, batch_size: int = 256,
                       progress: bool | None = None, first_batch: int = 0) -> AttackResult:
        """:meth:`generate` over a large input in batches, with a progress bar on a terminal.

        Batch ``i`` draws its randomness from stream ``first_batch + i``. A shard of whole batches of a larger
        input, starting at batch ``first_batch`` of it, therefore gets the very draws (and batch shapes) the
        whole input would: shards run anywhere merge into the unsharded result exactly."""
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(first_batch, bool) or not isinstance(first_batch, int) or first_batch < 0:
            raise InvalidInputError(f"first_batch: expected an int >= 0, got {first_batch!r}")
        xa = to_numpy(x, "x")
        n = xa.shape[0] if xa.ndim else 0
        if n == 0:
            raise InvalidInputError(f"x: the batch is empty (shape {xa.shape})")
        ya = None if y is None else to_numpy(y, "y")
        ta = None if target is None else to_numpy(target, "target")
        for name, arr in (("y", ya), ("target", ta)):
            if arr is not None and (arr.ndim == 0 or arr.shape[0] != n):
                raise InvalidInputError(f"{name}: expected {n} labels to match x, got shape {arr.shape}")
        parts: list[AttackResult] = []
        with Progress(n, type(self).__name__, enabled=progress, unit="samples") as bar:
            for i, start in enumerate(range(0, n, batch_size)):
                sl = slice(start, start + batch_size)
                parts.append(self._run(xa[sl], None if ya is None else ya[sl],
                                       None if ta is None else ta[sl], stream=first_batch + i))
                bar.update(len(parts[-1].success), success=f"{np.mean(np.concatenate([p.success for p in parts])):.2f}")
        return AttackResult(
            adversarial=like(np.concatenate([to_numpy(p.adversarial) for p in parts]), x),
            success=np.concatenate([p.success for p in parts]),
            norms=np.concatenate([p.norms for p in parts]),
            predictions=np.concatenate([p.predictions for p in parts]),
            forward_calls=sum(p.forward_calls for p in parts), backward_calls=sum(p.backward_calls for p in parts),
            queries=sum(p.queries for p in parts), seconds=sum(p.seconds for p in parts))

    def attack_rng(self) -> np.random.Generator:
        """The generator for this call (seeded by ``config.seed`` and the batch index)."""
        return self.rng(getattr(self, "_stream", 0))

    @abc.abstractmethod
    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """Return the adversarial batch (the base projects it onto the ε-ball and the bounds)."""
