"""Counted assertions: the pytest plugin fails a run in which contract tests ran but no check executed."""

from __future__ import annotations

_count = 0


def check(condition: object, message: str = "") -> None:
    """``assert condition`` that also counts, so an empty parametrisation cannot pass silently."""
    global _count
    _count += 1
    assert condition, message


def count() -> int:
    return _count


def network_state(network) -> tuple[list, dict]:
    """Every parameter (buffers such as BatchNorm's moving mean included) and every cell's training flag."""
    params = [(p.name, p.asnumpy().copy()) for p in network.get_parameters()]
    return params, {name: cell.training for name, cell in network.cells_and_names()}


def check_untouched(network, before: tuple[list, dict]) -> None:
    """Algorithms must leave a user's network exactly as they found it: flags and parameters bit-identical."""
    import numpy as np

    params, flags = network_state(network)
    check(flags == before[1], "training flags changed")
    for (name, a), (_, b) in zip(before[0], params):
        check(np.array_equal(a, b), f"parameter {name} changed")
