"""armour-core's own datasets and models through the conformance kit (one test per plugin and check)."""

from __future__ import annotations

from armour_core.testing import parametrize_with_checks, plugin_cases


@parametrize_with_checks("dataset", plugin_cases("dataset", "armour-core"))
def test_datasets(plugin, check, request):
    check(plugin, request)


@parametrize_with_checks("model", plugin_cases("model", "armour-core"))
def test_models(plugin, check, request):
    check(plugin, request)
