"""What the fuzzer checks on every mutant: validity (DeepHunter's constraints) and the test oracles.

Validity (Xie et al. 2019, Eq. 1): a mutant ``m`` of a lineage whose reference image is ``r`` (the initial
seed, after the lineage's single affine transform if it had one) is kept for testing when

    L0(m - r) < alpha * size(r)   or   L_inf(m - r) <= beta * (high - low)

i.e. either few elements changed, or none changed by much. DeepHunter states the L_inf bound as
``beta * 255`` for 8-bit images; here it is relative to the model's input range, so data in [0, 1] and in
[0, 255] are treated alike (MindArmour compares [0, 1] data against 0.2 * 255 and accepts everything).
An element counts as changed when it moved by more than ``change_tol`` (default: half an 8-bit grey level of
the range), so float round-off from resampling is not a "change".

Oracles (each returns a boolean mask over the batch plus per-sample details):

* ``misclassification``: the model's label differs from the initial seed's label;
* ``nan_inf``: some output is NaN or infinite;
* ``differential``: two executions of the same network disagree on the label (or, with ``tol``, on some
  logit by more than ``tol``): compiled graph vs PyNative, or float32 vs float16.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from armour_core.api.mutator import validity  # noqa: F401  (DeepHunter's formula, kept once in the mutator base)
from armour_core.errors import CapabilityError, InvalidInputError

ORACLES = ("misclassification", "nan_inf", "differential")
DIFFERENTIAL_MODES = ("graph", "float16")


def check_oracles(names: Any) -> tuple[str, ...]:
    names = (names,) if isinstance(names, str) else tuple(names)
    bad = [n for n in names if n not in ORACLES]
    if bad:
        raise InvalidInputError(f"oracles: unknown oracle(s) {bad}; choose from {', '.join(ORACLES)}")
    return names


def misclassification(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.argmax(logits, axis=1) != labels


def nan_inf(logits: np.ndarray) -> np.ndarray:
    return ~np.all(np.isfinite(logits.reshape(logits.shape[0], -1)), axis=1)


class Differential:
    """A second execution of the model's network to compare against the fuzzer's own forward pass.

    ``mode="graph"``: the network run eagerly (PyNative) is compared with its compiled ``jit`` forward.
    ``mode="float16"``: a float16 copy of the network (``Cell.to_float``) is compared with the float32
    compiled forward. Both need the model's ``graphs`` capability (:class:`armour_core.ms.model.MSModel`).
    """

    def __init__(self, model: Any, mode: str, tol: float | None = None):
        if mode not in DIFFERENTIAL_MODES:
            raise InvalidInputError(f"differential: expected one of {', '.join(DIFFERENTIAL_MODES)}, got {mode!r}")
        if tol is not None and not tol > 0:
            raise InvalidInputError(f"differential_tol: expected a positive float or None, got {tol!r}")
        caps = getattr(model, "capabilities", frozenset())
        if "graphs" not in caps:
            raise CapabilityError(f"differential={mode!r} needs a model with the 'graphs' capability (a MindSpore "
                                  f"network it can run eagerly and compiled: MSModel); {type(model).__name__} "
                                  f"declares {sorted(caps)}")
        self.model, self.mode, self.tol = model, mode, tol
        self._other = None

    def _float16_twin(self, x: np.ndarray):
        """The float16 copy, built at the first comparison: a never-called network learns its number of
        classes from that batch first."""
        if self._other is None:
            import mindspore as ms

            from armour_core.ms.model import MSModel

            m = self.model
            num_classes = m.num_classes_for(x)
            net16 = copy.deepcopy(m.network)
            net16.to_float(ms.float16)
            self._other = MSModel(net16, bounds=m.bounds, num_classes=num_classes, input_shape=m.input_shape,
                                  output=m.output)
        return self._other

    def compare(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(disagreement mask, max |logit difference| per sample)."""
        if self.mode == "graph":
            import mindspore as ms

            with self.model.inference():  # PyNative, outside the compiled cache: eval mode here too
                a = self.model.logits_fn(ms.Tensor(np.ascontiguousarray(x, dtype=np.float32))).asnumpy()
            b = self.model._logits(x)
        else:
            a = self.model._logits(x)
            b = self._float16_twin(x)._logits(x).astype(np.float32)
        self.model.count(forward=2, queries=2 * int(x.shape[0]))
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64)).reshape(len(a), -1)
        diff = np.where(np.isfinite(diff), diff, np.inf).max(axis=1)
        bad = np.argmax(a, axis=1) != np.argmax(b, axis=1)
        if self.tol is not None:
            bad |= diff > self.tol
        return bad, diff
