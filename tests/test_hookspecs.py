"""Every hook is documented: what it yields, when it is called, an example."""

from __future__ import annotations

import inspect

from armour_core.hookspecs import ArmourSpecs
from armour_core.specs import KIND_HOOKS


def _hooks():
    return [(n, f) for n, f in inspect.getmembers(ArmourSpecs, inspect.isfunction) if n.startswith("armour_")]


def test_every_hook_is_documented():
    hooks = _hooks()
    assert len(hooks) >= len(KIND_HOOKS) + 1
    for name, fn in hooks:
        doc = inspect.getdoc(fn) or ""
        assert "Yield" in doc, f"{name}: docstring must say what it yields"
        assert "Called" in doc, f"{name}: docstring must say when it is called"
        assert "Example" in doc, f"{name}: docstring must give an example"


def test_every_kind_has_a_hook():
    names = {n for n, _ in _hooks()}
    assert set(KIND_HOOKS.values()) <= names


def test_registration_hooks_from_the_table_are_hookspecs_pluggy_validates():
    """The table-made hooks keep pluggy's checks: an implementation taking an argument is refused, and each
    docstring names its own kind."""
    import pluggy
    import pytest

    from armour_core.plugins import hookimpl, make_plugin_manager

    for kind, hook in KIND_HOOKS.items():
        assert f'kind="{kind}"' in inspect.getdoc(getattr(ArmourSpecs, hook))

    class TakesAnArgument:
        @hookimpl
        def armour_attacks(extra):
            yield from ()

    with pytest.raises(pluggy.PluginValidationError, match="extra"):
        make_plugin_manager().register(TakesAnArgument)
