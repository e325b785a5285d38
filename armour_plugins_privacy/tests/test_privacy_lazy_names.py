"""The engines' old names in core still work for one release, with a DeprecationWarning naming the new import."""

from __future__ import annotations

import importlib

import pytest

import armour_core


@pytest.mark.parametrize("name", ["DPModel", "SuppressModel", "calibrate_noise"])
def test_old_name_warns_and_resolves_to_the_new_path(name):
    module, _, attr = armour_core.MOVED[name][0].partition(":")
    new = getattr(importlib.import_module(module), attr)  # the new path works
    with pytest.warns(DeprecationWarning, match=f"from {module} import {attr}") as record:
        old = getattr(armour_core, name)
    assert old is new
    assert record[0].filename == __file__  # the warning points at the caller, not at armour_core


def test_from_import_of_an_old_name_works():
    with pytest.warns(DeprecationWarning, match="armour-plugins-privacy"):
        from armour_core import DPModel
    from armour_plugins_privacy.dp.model import DPModel as new

    assert DPModel is new
