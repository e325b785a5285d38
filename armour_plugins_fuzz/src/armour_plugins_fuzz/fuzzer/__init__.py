"""The fuzzing engine: ``Fuzzer`` (the coverage-guided loop), its corpus, oracles and report, the ``armour fuzz``
command and the audit's testing section.

``Fuzzer`` is imported on first use, so listing plugins (which imports this package's records) stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Fuzzer"]


def __getattr__(name: str) -> Any:
    if name == "Fuzzer":
        from .fuzzer import Fuzzer

        return Fuzzer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
