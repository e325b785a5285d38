"""Names that moved out of core (``from armour_core import DPModel``) resolve lazily from their distribution for
one release; without that distribution the ImportError says what to pip install. No plugin needed here."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import armour_core


def _missing(monkeypatch, module: str) -> None:
    """Make importing ``module`` fail as it does when its distribution is not installed."""
    real = importlib.import_module

    def fake(name, package=None):
        if name == module or name.startswith(module.split(".")[0] + "."):
            raise ModuleNotFoundError(f"No module named {module.split('.')[0]!r}", name=module.split(".")[0])
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)


@pytest.mark.parametrize("name", sorted(armour_core.MOVED))
def test_a_missing_distribution_names_the_pip_install(name, monkeypatch):
    target, dist = armour_core.MOVED[name]
    module, _, attr = target.partition(":")
    _missing(monkeypatch, module)
    with pytest.raises(ImportError, match=f"pip install {dist}") as info:
        getattr(armour_core, name)
    assert f"from {module} import {attr}" in str(info.value)


def test_a_missing_dependency_of_an_installed_distribution_is_not_blamed_on_it(monkeypatch):
    """Only the distribution's own package missing means 'pip install it'; its broken dependency says itself."""
    monkeypatch.setitem(armour_core.MOVED, "Thing", ("armour_core.fake_engine:Thing", "armour-plugins-fake"))
    real = importlib.import_module

    def fake(name, package=None):
        if name == "armour_core.fake_engine":
            raise ModuleNotFoundError("No module named 'somedep'", name="somedep")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ModuleNotFoundError, match="somedep"):
        armour_core.Thing  # noqa: B018


def test_the_table_names_module_attr_and_distribution():
    for name, (target, dist) in armour_core.MOVED.items():
        module, sep, attr = target.partition(":")
        assert sep and module.startswith("armour_plugins_") and attr, name
        assert dist.startswith("armour-plugins-") and dist.replace("-", "_") == module.split(".")[0], name
        assert name not in armour_core.__all__  # deprecated: not re-exported by `import *`


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="NoSuchThing"):
        armour_core.NoSuchThing  # noqa: B018


def test_importing_core_imports_no_engine():
    code = ("import sys, armour_core\n"
            "assert 'mindspore' not in sys.modules\n"
            "assert not any(m.startswith('armour_plugins_') for m in sys.modules), sorted(sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
