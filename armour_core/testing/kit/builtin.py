"""Checks for datasets and models (armour-core's built-in kinds; third parties may add their own).

Model checks need MindSpore (a model plugin builds an ``nn.Cell``) and skip, saying so, without it.
"""

from __future__ import annotations

import numpy as np
import pytest

from ...api.arrays import to_numpy
from ...specs import DatasetSpec
from .records import cached, create, spec_of


# ------------------------------------------------------------------------------------------ datasets
def _dataset(case, request):
    return cached(request, case, "dataset", lambda: create(case, request))


def check_dataset_matches_record(case, request) -> None:
    """The arrays have the record's per-sample shape, classes and bounds: float32 inputs within the bounds,
    int labels in range, every class in the training split."""
    facet = spec_of(case).facet
    assert isinstance(facet, DatasetSpec), f"{case.name}: the facet must be a DatasetSpec"
    d = _dataset(case, request)
    assert d.num_classes == facet.num_classes and tuple(d.bounds) == tuple(facet.bounds)
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        assert x.dtype == np.float32 and tuple(x.shape[1:]) == tuple(facet.input_shape), (x.dtype, x.shape)
        assert len(x) == len(y) > 0 and y.dtype.kind in "iu", (len(x), y.dtype)
        assert np.all(np.isfinite(x)) and x.min() >= facet.bounds[0] and x.max() <= facet.bounds[1]
        assert y.min() >= 0 and y.max() < facet.num_classes
    assert set(np.unique(d.y_train)) == set(range(facet.num_classes)), "a class is missing from the training split"


def check_dataset_split_reproducible(case, request) -> None:
    """Loading twice gives the same split, bit for bit."""
    a, b = _dataset(case, request), create(case, request)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), f"{name} differs between two loads"


# ------------------------------------------------------------------------------------------ models
SHAPES = (((1, 8, 8), 10), ((3, 12, 12), 4))


def _network(case, request, input_shape, num_classes, seed: int = 0):
    pytest.importorskip("mindspore", reason="a model plugin builds a MindSpore network")
    from ...ms.seeding import seeded

    with seeded(seed):
        return create(case, request, input_shape=input_shape, num_classes=num_classes)


def check_model_builds_for_each_shape(case, request) -> None:
    """Built for an input shape and a number of classes, the network maps a batch to finite scores of shape
    (N, classes)."""
    import mindspore as ms

    for shape, k in SHAPES:
        net = _network(case, request, shape, k)
        x = np.random.default_rng(0).uniform(0, 1, (5, *shape)).astype(np.float32)
        z = net(ms.Tensor(x)).asnumpy()
        assert z.shape == (5, k) and np.all(np.isfinite(z)), (shape, z.shape)


def check_model_capabilities(case, request) -> None:
    """What the record declares works: ``gradients`` gives finite, non-zero input gradients of the input's
    shape; ``train`` lets an optimizer step change the parameters."""
    from ...ms.model import MSModel

    caps = spec_of(case).capabilities
    net = _network(case, request, (1, 8, 8), 10)
    model = MSModel(net, input_shape=(1, 8, 8))
    x = np.random.default_rng(0).uniform(0, 1, (4, 1, 8, 8)).astype(np.float32)
    y = np.arange(4) % 10
    assert to_numpy(model.predict(x)).shape == (4,)
    if "gradients" in caps:
        values, grad = model.loss_gradient(x, y)
        assert values.shape == (4,) and grad.shape == x.shape and np.all(np.isfinite(grad)) and np.any(grad != 0)
    if "train" in caps:
        import mindspore as ms
        from mindspore import nn

        before = [p.asnumpy().copy() for p in net.trainable_params()]
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.1))
        step.set_train(True)
        loss = float(step(ms.Tensor(x), ms.Tensor(y.astype(np.int32))).asnumpy())
        assert np.isfinite(loss)
        assert any(not np.array_equal(a, p.asnumpy()) for a, p in zip(before, net.trainable_params()))


def check_model_seeded_init(case, request) -> None:
    """The same seed builds the same initial parameters (what seeded training and caching rely on)."""
    a = _network(case, request, (1, 8, 8), 10, seed=3)
    b = _network(case, request, (1, 8, 8), 10, seed=3)
    for p, q in zip(a.get_parameters(), b.get_parameters()):
        assert np.array_equal(p.asnumpy(), q.asnumpy()), p.name


CHECKS = {
    "dataset": [check_dataset_matches_record, check_dataset_split_reproducible],
    "model": [check_model_builds_for_each_shape, check_model_capabilities, check_model_seeded_init],
}
