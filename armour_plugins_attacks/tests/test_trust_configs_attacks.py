"""Issue 9 item 15 for this distribution's configs: numpy numbers accepted, string numbers refused naming the
field, eps finite wherever defined, unknown norms answered with the valid ones (checks in
armour_core.testing.config_checks, shared with every distribution)."""

from __future__ import annotations

import pytest

from armour_core.testing.config_checks import check_config_types, registered_configs

CONFIGS = registered_configs("armour-plugins-attacks")


def test_distribution_registers_configs():
    assert CONFIGS


@pytest.mark.parametrize("kind, name, cls", CONFIGS, ids=[f"{k}:{n}" for k, n, _ in CONFIGS])
def test_config_types(kind, name, cls):
    check_config_types(cls, name)
