"""``armour_core.specs.requirement``: a record's ``requires=`` string read from the distribution's metadata, so a
version is stated once (in the pyproject) and the record cannot drift from it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from armour_core.specs import requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_reads_the_declared_requirement_as_the_pyproject_states_it():
    declared = {Requirement(r).name: Requirement(r)
                for r in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]}
    for project in ("attrs", "pluggy", "numpy"):
        got = Requirement(requirement("armour-core", project))
        assert got.name == project and got.specifier == declared[project].specifier


def test_names_are_compared_canonically():
    assert requirement("armour-core", "Attrs") == requirement("armour-core", "attrs")


def test_requirements_behind_an_extra_are_found_without_their_marker():
    got = requirement("armour-core", "mindspore")  # only in the [mindspore] extra
    assert got.startswith("mindspore") and "extra" not in got


def test_unknown_distribution_or_project_is_a_clear_error():
    with pytest.raises(LookupError, match="'no-such-dist' is not installed.*'scipy'"):
        requirement("no-such-dist", "scipy")
    with pytest.raises(LookupError, match="declares no requirement on 'no-such-project'"):
        requirement("armour-core", "no-such-project")
