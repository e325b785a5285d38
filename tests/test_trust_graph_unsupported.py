"""A network that runs eagerly but that MindSpore cannot compile (a statement graph mode does not support) is
refused for what it is, never blamed on the input shape (issue 9, item 8's translation of compile failures
must not misdiagnose; found by the random-network property tests)."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core.errors import CapabilityError
from armour_core.testing.attacks import SignStep
from armour_core.testing.markers import requires_mindspore

pytestmark = requires_mindspore


def _net():
    from mindspore import nn

    class TryNet(nn.Cell):
        """Runs in PyNative; graph mode rejects ``try`` ("Unsupported statement 'Try'")."""

        def __init__(self):
            super().__init__()
            self.flat, self.fc = nn.Flatten(), nn.Dense(16, 3)

        def construct(self, x):
            try:
                z = self.fc(self.flat(x))
            except ValueError:
                z = x
            return z

    return TryNet()


def test_graph_unsupported_network_is_not_blamed_on_the_shape():
    import mindspore as ms

    x = np.random.default_rng(0).uniform(0, 1, (4, 1, 4, 4)).astype(np.float32)
    net = _net()
    net.set_train(True)
    assert net(ms.Tensor(x)).shape == (4, 3)  # the shape is right: the network runs eagerly
    net = _net()  # never called
    net.set_train(True)
    with pytest.raises(CapabilityError) as info:
        SignStep(model=net, eps=0.1).generate(x)
    message = str(info.value)
    assert message.startswith("model: TryNet") and "graph mode" in message and "'Try'" in message
    assert "\n" not in message and "expected the shape" not in message
    assert net.training  # the eager probe ran in inference mode and restored the caller's flag
