"""The record shape every family of this distribution shares (light: imports only ``armour_core.specs``).

A family is a subpackage (``mutators``, ``coverage``, ``schedulers``) holding its algorithms, their configs in
its ``configs`` module and its records in its ``records`` module. A record names its class once, as
``"module:Class"`` inside the family; the target and the config path are derived from that, the config class
being ``<Class>Config`` unless another is named.
"""

from __future__ import annotations

from armour_core.specs import PluginSpec

PACKAGE = __name__.rpartition(".")[0]


def family_spec(kind: str, family: str, name: str, target: str, summary: str, *, config: str | None = None,
                **fields) -> PluginSpec:
    """The ``PluginSpec`` of ``target`` (``"module:Class"`` in ``family``) with its config from the family's
    ``configs`` module; ``fields``: the record's other fields (aliases, facet, capabilities, requires)."""
    module, _, cls = target.partition(":")
    return PluginSpec(name=name, kind=kind, target=f"{PACKAGE}.{family}.{module}:{cls}",
                      config=f"{PACKAGE}.{family}.configs:{config or cls + 'Config'}", summary=summary, **fields)
