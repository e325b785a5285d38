"""The public ``hookimpl`` marker and the plugin manager factory.

Plugins write::

    from armour_core.plugins import hookimpl

    @hookimpl
    def armour_attacks():
        yield PluginSpec(...)
"""

from __future__ import annotations

import difflib

import pluggy

from . import hookspecs
from .errors import PluginLoadError

ENTRY_POINT_GROUP = "armour_core.plugins"

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT)


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh manager knowing the armour hookspecs (no plugin loaded)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs.ArmourSpecs)
    return pm


def check_hooks(pm: pluggy.PluginManager, plugin: object) -> None:
    """Raise :class:`PluginLoadError` when ``plugin`` implements a hook no spec defines.

    pluggy accepts such an implementation silently (it may be an optional hook of another project), so a
    misspelled ``armour_attack`` would register nothing; the message suggests the hook meant. Asked per plugin
    once every distribution's kinds are declared (a declared kind's hook has a spec by then), so one plugin's
    misspelling never marks another broken.
    """
    unknown = sorted(hc.name for hc in pm.get_hookcallers(plugin) or () if not hc.has_spec())
    if not unknown:
        return
    hook = unknown[0]
    specs = sorted(n for n in vars(pm.hook) if n.startswith(hookspecs.PROJECT + "_") and getattr(pm.hook, n).has_spec())
    close = difflib.get_close_matches(hook, specs, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; armour hooks are: {', '.join(specs)}"
    raise PluginLoadError(f"hook {hook!r} is not an armour hook{hint}")
