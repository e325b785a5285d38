"""The ``armour`` pytest plugin (entry point ``pytest11``): shared fixtures, a hypothesis profile and a
guard that fails a run in which contract tests ran but no check executed.

Fixtures: ``armour_digits`` (the embedded digits dataset), ``armour_mlp`` and ``armour_lenet`` (default
models trained on it, cached), ``armour_softmax`` (a pure-numpy classifier: no MindSpore needed).
"""

from __future__ import annotations

import os

import pytest

from . import checks


def pytest_addoption(parser):
    group = parser.getgroup("armour")
    group.addoption("--armour-allow-no-checks", action="store_true",
                    help="do not fail a run in which armour contract tests executed no check")


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
    config._armour_contract_tests = 0


def pytest_collection_modifyitems(session, config, items):
    import sys

    contracts = sys.modules.get("armour_core.testing.contracts")
    if contracts is None:  # no test module imported the kit
        return
    bases = (contracts.PluginContract, contracts.DistributionContract)
    config._armour_contract_tests = sum(1 for it in items if it.cls is not None and issubclass(it.cls, bases))


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    ran = config._armour_contract_tests
    if ran and checks.count() == 0 and not config.getoption("--armour-allow-no-checks") and exitstatus == 0:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"armour: {ran} contract tests were collected but no contract check ran", red=True)
        session.exitstatus = 1


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
