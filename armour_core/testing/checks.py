"""Assertion helpers for plugin tests."""

from __future__ import annotations


def check(condition: object, message: str = "") -> None:
    """``assert condition, message`` as a function (kept for tests written with it; a plain ``assert`` is the
    same). A kit check that cannot apply skips with a reason instead of passing empty."""
    assert condition, message


def network_state(network) -> tuple[list, dict]:
    """Every parameter (buffers such as BatchNorm's moving mean included) and every cell's training flag."""
    params = [(p.name, p.asnumpy().copy()) for p in network.get_parameters()]
    return params, {name: cell.training for name, cell in network.cells_and_names()}


def check_untouched(network, before: tuple[list, dict]) -> None:
    """Algorithms must leave a user's network exactly as they found it: flags and parameters bit-identical."""
    import numpy as np

    params, flags = network_state(network)
    assert flags == before[1], "training flags changed"
    for (name, a), (_, b) in zip(before[0], params):
        assert np.array_equal(a, b), f"parameter {name} changed"
