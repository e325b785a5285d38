"""The ``armour`` pytest plugin (entry point ``pytest11``): shared fixtures and a hypothesis profile.

Fixtures: ``armour_digits`` (the embedded digits dataset), ``armour_mlp`` and ``armour_lenet`` (default
models trained on it, cached), ``armour_softmax`` (a pure-numpy classifier: no MindSpore needed).
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    try:
        from hypothesis import HealthCheck, settings

        settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True,
                                  suppress_health_check=[HealthCheck.too_slow])
        settings.register_profile("dev", max_examples=50, deadline=None)
        if os.environ.get("HYPOTHESIS_PROFILE"):
            settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
    except ImportError:
        pass


@pytest.fixture(scope="session")
def armour_digits():
    pytest.importorskip("sklearn")
    from .. import registry

    return registry.create("dataset", "digits")


def _pretrained(model: str):
    pytest.importorskip("mindspore")
    from ..ms.pretrained import pretrained

    return pretrained(model, "digits").model


@pytest.fixture(scope="session")
def armour_mlp():
    """The default MLP trained on digits (an ``MSModel``; counters are reset for each test that uses it)."""
    return _pretrained("mlp")


@pytest.fixture(scope="session")
def armour_lenet():
    """The default LeNet5 trained on digits (an ``MSModel``)."""
    return _pretrained("lenet5")


@pytest.fixture(scope="session")
def armour_softmax(armour_digits):
    """A numpy softmax-regression classifier fitted on digits (exact gradients, no MindSpore)."""
    from .models import SoftmaxRegression

    d = armour_digits
    return SoftmaxRegression.fit(d.x_train, d.y_train, d.num_classes)
