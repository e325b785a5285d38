"""Registration hooks (light: records only; implementations are imported on use)."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec

from .records import blackbox, cli, defenses, detectors, minnorm, whitebox


@hookimpl
def armour_attacks():
    yield from whitebox.attacks()
    yield from minnorm.attacks()
    yield from blackbox.attacks()


@hookimpl
def armour_defenses():
    yield from defenses.defenses()


@hookimpl
def armour_detectors():
    yield from detectors.detectors()


@hookimpl
def armour_cli_commands():
    yield from cli.commands()


@hookimpl
def armour_audit_sections():
    yield AuditSectionSpec(name="robustness", title="Robustness",
                           target="armour_plugins_attacks.audit_section:robustness_section", order=10)
