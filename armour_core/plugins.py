"""The public ``hookimpl`` marker and the plugin manager factory.

Plugins write::

    from armour_core.plugins import hookimpl

    @hookimpl
    def armour_attacks():
        yield PluginSpec(...)
"""

from __future__ import annotations

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "armour_core.plugins"

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT)


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh manager knowing the armour hookspecs (no plugin loaded)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs.ArmourSpecs)
    return pm
