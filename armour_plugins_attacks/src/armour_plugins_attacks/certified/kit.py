"""Conformance checks of the ``certifier`` kind, supplied through the kind's declaration (``KindSpec.checks``)
and run by ``armour_core.testing.parametrize_with_checks("certifier", ...)`` after the record checks.

Case options: ``model`` (fixture name, default ``armour_softmax``: a numpy classifier, no MindSpore), ``n``
(inputs certified, default 24). Give small sample sizes in the case's config (``n``, ``n0``) to keep it quick.
"""

from __future__ import annotations

import numpy as np
import pytest
from armour_core.errors import InvalidInputError
from armour_core.testing.kit.evasion import _raises_naming, model_of
from armour_core.testing.kit.records import BUILDERS, cached, create
from armour_core.testing.models import SoftmaxRegression

from .base import ABSTAIN

BUILDERS["certifier"] = lambda case, request: {"model": model_of(case, request, "armour_softmax")}


def _data(case, request) -> tuple[np.ndarray, np.ndarray]:
    d = request.getfixturevalue("armour_digits")
    n = case.option("n", 24)
    model = model_of(case, request, "armour_softmax")
    x = d.x_test[:n]
    if model.input_shape is not None:
        x = x.reshape(len(x), *model.input_shape)
    return x, d.y_test[:n]


def _certified(case, request):
    return cached(request, case, "certify", lambda: create(case, request).certify(_data(case, request)[0]))


def check_certification_consistent(case, request) -> None:
    """One label, radius and bound per input; an abstention has label ABSTAIN and radius 0, a certified input
    a class in range and a positive finite radius; bounds are probabilities."""
    res = _certified(case, request)
    x, _ = _data(case, request)
    k = model_of(case, request, "armour_softmax").num_classes
    assert res.labels.shape == res.radii.shape == res.p_lower.shape == (len(x),)
    ab = res.labels == ABSTAIN
    assert np.all(res.radii[ab] == 0), "an abstention has a radius"
    assert np.all((res.labels[~ab] >= 0) & (res.labels[~ab] < k)), res.labels
    assert np.all(np.isfinite(res.radii)) and np.all(res.radii[~ab] > 0), res.radii
    assert np.all((res.p_lower >= 0) & (res.p_lower <= 1)), res.p_lower
    assert res.abstain_rate == pytest.approx(ab.mean())


def check_certified_accuracy_monotone(case, request) -> None:
    """Certified accuracy is a share, never rises with the radius, and at radius 0 counts exactly the inputs
    certified with their true label."""
    res = _certified(case, request)
    _, y = _data(case, request)
    radii = np.array([0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0])
    acc = res.certified_accuracy(y, radii)
    assert np.all((acc >= 0) & (acc <= 1)) and np.all(np.diff(acc) <= 0), acc
    assert acc[0] == pytest.approx(np.mean(res.labels == y))
    _raises_naming(InvalidInputError, "radii", res.certified_accuracy, y, [-1.0])


def check_predict_consistent(case, request) -> None:
    """PREDICT gives one label per input (a class or ABSTAIN) with a p-value in [0, 1]."""
    x, _ = _data(case, request)
    res = create(case, request).predict(x)
    k = model_of(case, request, "armour_softmax").num_classes
    assert res.labels.shape == res.p_values.shape == (len(x),)
    assert np.all((res.labels == ABSTAIN) | ((res.labels >= 0) & (res.labels < k)))
    assert np.all((res.p_values >= 0) & (res.p_values <= 1))


def check_passes_counted(case, request) -> None:
    """The reported forward passes and queries are the model's counter changes, and there are some."""
    certifier = create(case, request)
    before = certifier.model.counters()
    res = certifier.certify(_data(case, request)[0][:4])
    after = certifier.model.counters()
    assert res.forward_calls == after[0] - before[0] > 0 and res.queries == after[2] - before[2] > 0


def check_seed_reproduces(case, request) -> None:
    """The same seed gives the same certificates."""
    x = _data(case, request)[0][:6]
    a, b = create(case, request, seed=3).certify(x), create(case, request, seed=3).certify(x)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.radii, b.radii)


def check_constant_classifier_certified(case, request) -> None:
    """A base classifier that always answers class 2 is certified as class 2 everywhere, with a positive radius,
    and PREDICT answers 2 (no noise can change a constant)."""
    x = _data(case, request)[0][:5]
    shape = x.shape[1:]
    bias = np.zeros(10)
    bias[2] = 5.0
    constant = SoftmaxRegression(np.zeros((int(np.prod(shape)), 10)), bias, input_shape=shape)
    certifier = create(case, request, model=constant)
    res = certifier.certify(x)
    assert np.all(res.labels == 2) and np.all(res.radii > 0), (res.labels, res.radii)
    assert np.all(certifier.predict(x).labels == 2)


def check_rejects_bad_input(case, request) -> None:
    """NaN inputs, inputs outside the model's bounds and an empty batch are errors naming ``x``."""
    certifier = create(case, request)
    x = _data(case, request)[0][:2].copy()
    for bad in (np.full_like(x, np.nan), x + 5.0, x[:0]):
        _raises_naming(InvalidInputError, "x", certifier.certify, bad)
        _raises_naming(InvalidInputError, "x", certifier.predict, bad)


CHECKS = (check_certification_consistent, check_certified_accuracy_monotone, check_predict_consistent,
          check_passes_counted, check_seed_reproduces, check_constant_classifier_certified, check_rejects_bad_input)
