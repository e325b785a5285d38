"""Records of the fuzzer's seed schedulers."""

from __future__ import annotations

from ..records import family_spec

#: name, class, aliases, summary
_SCHEDULERS = (
    ("coverage_gain", "CoverageGain", ("mindarmour",),
     "MindArmour's rule: unfuzzed entries first (uniformly), then weighted by their coverage gain"),
    ("uniform", "Uniform", ("random",), "Every corpus entry equally likely"),
    ("recency", "Recency", ("tensorfuzz",),
     "TensorFuzz's reservoir: uniform over the newest entries plus one random entry"),
    ("deephunter", "DeepHunter", ("prob",),
     "DeepHunter's probabilistic selection favouring rarely fuzzed and new entries (Xie et al. 2019)"),
)


def schedulers():
    for name, cls, aliases, summary in _SCHEDULERS:
        yield family_spec("scheduler", "schedulers", name, f"schedulers:{cls}", summary, aliases=aliases)
