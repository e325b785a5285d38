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


def check_hooks(pm: pluggy.PluginManager) -> None:
    """Raise :class:`PluginLoadError` when a registered plugin implements a hook no spec defines.

    pluggy accepts such an implementation silently (it may be an optional hook of another project), so a
    misspelled ``armour_attack`` would register nothing; :meth:`pluggy.PluginManager.check_pending` finds it,
    and the message suggests the hook meant.
    """
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        hook = next((name for name in vars(pm.hook) if not name.startswith("_")
                     and not getattr(pm.hook, name).has_spec() and getattr(pm.hook, name).get_hookimpls()), "")
        specs = [n for n in dir(hookspecs.ArmourSpecs) if n.startswith(hookspecs.PROJECT + "_")]
        close = difflib.get_close_matches(hook, specs, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; armour hooks are: {', '.join(specs)}"
        raise PluginLoadError(f"hook {hook!r} is not an armour hook{hint}") from exc
