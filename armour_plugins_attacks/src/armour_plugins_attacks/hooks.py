"""Registration hooks (light: records only; implementations are imported on use).

Each family package holds its own records; this module only yields them."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec

from .autoattack import records as autoattack
from .blackbox import records as blackbox
from .cli import records as cli
from .defenses import records as defenses
from .detectors import records as detectors
from .gradient import records as gradient
from .minnorm import records as minnorm


@hookimpl
def armour_attacks():
    yield from gradient.attacks()
    yield from minnorm.attacks()
    yield from autoattack.attacks()
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
                           target="armour_plugins_attacks.cli.audit_section:robustness_section", order=10)
