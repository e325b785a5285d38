"""What the fuzzer engine contributes to core's frames: the ``armour fuzz`` command and the audit's testing
section (records only; the Fuzzer is imported when either runs)."""

from __future__ import annotations

from armour_core.specs import AuditSectionSpec, CommandSpec

_HERE = __name__.rpartition(".")[0]


def commands():
    yield CommandSpec(name="fuzz", target=f"{_HERE}.cli:register",
                      summary="coverage-guided fuzz testing with mutators, coverage and schedulers from the registry")


def audit_sections():
    yield AuditSectionSpec(name="testing", title="Testing (coverage-guided fuzzing)",
                           target=f"{_HERE}.audit_section:testing_section", order=20)
