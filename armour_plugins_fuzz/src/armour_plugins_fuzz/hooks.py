"""Registration hooks (light: records only; implementations are imported on use). Each family keeps its own
records beside its algorithms."""

from __future__ import annotations

from armour_core.plugins import hookimpl

from .coverage import records as coverage
from .fuzzer import records as fuzzer
from .mutators import records as mutators
from .schedulers import records as schedulers


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
    yield from fuzzer.commands()


@hookimpl
def armour_audit_sections():
    yield from fuzzer.audit_sections()
