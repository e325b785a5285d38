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
                           target=f"{_HERE}.audit_section:testing_section", order=20,
                           profiles=AUDIT_PROFILES)


#: the testing section per audit profile: fuzzing iterations, mutants per seed, seeds, coverage criteria
AUDIT_PROFILES = {
    "quick": {"max_iters": 30, "batch": 16, "seeds": 40, "coverage": ["neuron", "k_multisection"]},
    "standard": {"max_iters": 100, "batch": 32, "seeds": 100,
                 "coverage": ["neuron", "k_multisection", "neuron_boundary", "top_k"]},
    "thorough": {"max_iters": 300, "batch": 32, "seeds": 200,
                 "coverage": ["neuron", "k_multisection", "neuron_boundary", "strong_neuron_activation", "top_k"]},
}

