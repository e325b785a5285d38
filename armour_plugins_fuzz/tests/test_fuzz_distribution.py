"""The distribution as a whole: records valid and unique, listing import-light, helpful errors for the
kinds other first-party distributions provide."""

from __future__ import annotations

import pytest

from armour_core import registry
from armour_core.errors import UnknownPluginError
from armour_core.registry import FIRST_PARTY, _dist_installed
from armour_core.testing import DistributionContract

DIST = "armour-plugins-fuzz"


class TestDistribution(DistributionContract):
    dist = DIST


def test_registers_only_its_own_kinds():
    kinds = {s.kind for s in registry.specs() if s.dist == DIST}
    assert kinds and kinds <= set(FIRST_PARTY[DIST]), kinds


@pytest.mark.parametrize("other", [d for d in FIRST_PARTY if d != DIST])
def test_missing_sibling_distribution_is_named(other, monkeypatch):
    """Installed alone, asking for another distribution's kind names the pip install that adds it."""
    if _dist_installed(other):
        monkeypatch.setattr("armour_core.registry._dist_installed", lambda name: name != other)
    kind = FIRST_PARTY[other][0]
    with pytest.raises(UnknownPluginError) as exc:
        registry.get(kind, "armour_surely_not_a_plugin")
    assert f"pip install {other}" in str(exc.value)
