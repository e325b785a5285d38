"""The path of one PGD call: registry -> attack (the PGD class and ``armour_core.api``) -> runtime
(``armour_core.ms``) -> compiled graph, and back. Calls only ever go down that stack; the runtime never
calls back into attack code and nothing calls the registry once the attack exists (no ping-pong).

Recorded with ``sys.setprofile`` on a warm call (graphs compiled), so every armour function entered is seen.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

ms = pytest.importorskip("mindspore")

from armour_core import registry  # noqa: E402

ORDER = {"registry": 0, "attack": 1, "runtime": 2}


def layer(module: str) -> str | None:
    if module == "armour_core.registry":
        return "registry"
    if module.startswith("armour_core.ms"):
        return "runtime"
    if module.startswith(("armour_core.api", "armour_plugins_attacks")):
        return "attack"
    if module.startswith("armour"):
        return f"other:{module}"
    return None  # numpy, MindSpore, the standard library


def record_pgd_call(functions: bool = False):
    """(caller module, callee module) for every armour function entered by one create + generate (with
    ``functions``: (caller module, caller function, callee module))."""
    from mindspore import nn

    from armour_core.ms import MSModel

    net = nn.SequentialCell(nn.Dense(4, 3))
    model = MSModel(net, num_classes=3, input_shape=(4,))
    x = np.random.default_rng(0).uniform(0, 1, (5, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1])
    registry.create("attack", "pgd", model=model, eps=0.1, steps=3).generate(x, y)  # compile once
    edges: list[tuple] = []

    def profile(frame, event, arg):
        if event != "call":
            return
        if frame.f_code.co_filename.startswith("<attrs generated"):
            return  # a frozen record's own __hash__/__eq__ (the cache key being looked up): data, not a call path
        callee = frame.f_globals.get("__name__", "")
        if layer(callee) is None:
            return
        f = frame.f_back
        while f is not None and layer(f.f_globals.get("__name__", "")) is None:
            f = f.f_back
        caller = f.f_globals.get("__name__", "") if f else ""
        edges.append((caller, f.f_code.co_name if f else "", callee) if functions else (caller, callee))

    sys.setprofile(profile)
    try:
        registry.create("attack", "pgd", model=model, eps=0.1, steps=3).generate(x, y)
    finally:
        sys.setprofile(None)
    return edges


def collapse(items):
    out = []
    for item in items:
        if not out or out[-1] != item:
            out.append(item)
    return out


def test_one_pgd_call_goes_down_the_layers_and_back():
    edges = record_pgd_call()
    assert not [callee for _, callee in edges if layer(callee).startswith("other:")], \
        "only the registry, the attack layer and the runtime take part"
    upward = [(a, b) for a, b in edges if a and ORDER[layer(b)] < ORDER[layer(a)]]
    assert not upward, f"calls back up the stack (ping-pong): {sorted(set(upward))}"
    layers = collapse(layer(callee) for _, callee in edges)
    assert layers[:3] == ["registry", "attack", "runtime"]
    assert "registry" not in layers[1:], "the registry is entered once, to create the attack"
    # after the registry: the attack descends into the runtime and gets control back, nothing else
    assert set(layers[1:]) == {"attack", "runtime"}
    # the runtime is entered for the model's classes, the compiled loop and the success check only
    assert layers.count("runtime") <= 3, layers
    modules = {callee for _, callee in edges}
    assert len(modules) <= 14, sorted(modules)


def test_core_calls_the_plugin_only_through_its_hooks():
    """Core code enters plugin code twice: to build the validated config and through the template method
    (``Attack._run`` -> ``_generate``); the plugin's helpers calls into core return without calling back."""
    frames = record_pgd_call(functions=True)
    into_plugin = {(caller, function) for caller, function, callee in frames
                   if caller.startswith("armour_core") and callee.startswith("armour_plugins_attacks")}
    assert into_plugin <= {("armour_core.api.base", "make_config"), ("armour_core.api.attack", "_run")}, into_plugin
