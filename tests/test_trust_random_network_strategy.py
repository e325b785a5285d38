"""The conformance kit's random-network strategy (``armour_core.testing.strategies.random_classifiers``): the
property tests of the attacks and fuzz distributions rely on it drawing what it promises."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import HealthCheck, given, settings

from armour_core.testing.markers import requires_mindspore
from armour_core.testing.strategies import build_classifier, random_classifiers


def test_strategy_module_and_strategy_do_not_import_mindspore():
    """Plugin tests build the strategy at collection time, also in the core-only session (no MindSpore)."""
    code = ("import sys\nfrom armour_core.testing.strategies import random_classifiers\nrandom_classifiers()\n"
            "print('mindspore' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@requires_mindspore
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(net=random_classifiers())
def test_drawn_networks_are_what_the_spec_says(net):
    """Never called, K outputs for (C, H, W) inputs, a cell called twice, weights reproducible from the spec."""
    import mindspore as ms

    from armour_core.ms.activations import leaf_cells

    c, h, w = net.input_shape
    assert c in (1, 3) and h == w and 5 <= h <= 12 and 2 <= net.num_classes <= 10
    assert not net.training or all(cell.training for _, cell in net.cells_and_names())
    again = build_classifier(net.spec)
    for p, q in zip(net.get_parameters(), again.get_parameters(), strict=True):
        assert p.name == q.name and np.array_equal(p.asnumpy(), q.asnumpy())

    calls, handles = [], []
    for name, cell in leaf_cells(net):
        handles.append(cell.register_forward_hook(lambda cell, i, o, name=name: calls.append(name)))
    net.set_train(False)
    x = np.random.default_rng(0).uniform(0, 1, (2, c, h, w)).astype(np.float32)
    out = net(ms.Tensor(x)).asnumpy()
    for handle in handles:
        handle.remove()
    assert out.shape == (2, net.num_classes) and np.all(np.isfinite(out))
    assert len(calls) > len(set(calls))  # one cell ran twice in a forward pass
    np.testing.assert_array_equal(again(ms.Tensor(x)).asnumpy(), out)
    if net.outputs_probabilities:
        np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)
