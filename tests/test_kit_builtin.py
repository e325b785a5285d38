"""armour-core's own datasets and models through the conformance kit (one test per plugin and check)."""

from __future__ import annotations

from armour_core.testing import parametrize_distribution


@parametrize_distribution("armour-core")
def test_kit(plugin, check, request):
    check(plugin, request)
