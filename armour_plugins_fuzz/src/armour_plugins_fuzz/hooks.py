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
                           target="armour_plugins_fuzz.audit_section:testing_section", order=20,
                           profiles=AUDIT_PROFILES)


#: the testing section per audit profile: fuzzing iterations, mutants per seed, seeds, coverage criteria
AUDIT_PROFILES = {
    "quick": {"max_iters": 30, "batch": 16, "seeds": 40, "coverage": ["neuron", "k_multisection"]},
    "standard": {"max_iters": 100, "batch": 32, "seeds": 100,
                 "coverage": ["neuron", "k_multisection", "neuron_boundary", "top_k"]},
    "thorough": {"max_iters": 300, "batch": 32, "seeds": 200,
                 "coverage": ["neuron", "k_multisection", "neuron_boundary", "strong_neuron_activation", "top_k"]},
}
