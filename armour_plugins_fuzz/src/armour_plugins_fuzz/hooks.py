"""Registration hooks (light: records only; implementations are imported on use)."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec

from .records import cli, coverage, mutators, schedulers


@hookimpl
def armour_mutators():
    yield from mutators.mutators()


@hookimpl
def armour_coverage_metrics():
    yield from coverage.coverage_metrics()


@hookimpl
def armour_seed_schedulers():
    yield from schedulers.schedulers()


@hookimpl
def armour_cli_commands():
    yield from cli.commands()


@hookimpl
def armour_audit_sections():
    yield AuditSectionSpec(name="testing", title="Testing (coverage-guided fuzzing)",
                           target="armour_plugins_fuzz.audit_section:testing_section", order=20)
