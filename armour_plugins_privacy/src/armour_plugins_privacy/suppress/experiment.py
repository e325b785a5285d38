"""A complete suppress-privacy run on an embedded dataset: SuppressModel training, achieved sparsity,
accuracy, and membership leakage (loss-threshold AUC) next to the same recipe without suppression."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from armour_core.ms.seeding import seeded


def _dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    import mindspore.dataset as mds

    mds.config.set_seed(seed)
    return mds.NumpySlicesDataset({"x": x.astype(np.float32), "y": y.astype(np.int32)}, shuffle=True,
                                  num_parallel_workers=1).batch(batch_size, drop_remainder=True)


def _accuracy(net, x: np.ndarray, y: np.ndarray) -> float:
    from armour_core.ms.train import accuracy

    return float(accuracy(net, x, y))


def _membership_auc(net, data) -> float:
    from armour_core import registry
    from armour_core.ms.model import MSModel

    model = MSModel(net, bounds=data.bounds, num_classes=data.num_classes, input_shape=data.input_shape)
    n = min(len(data.x_train), len(data.x_test))
    attack = registry.create("inference", "loss_threshold", model=model)
    return attack.evaluate(data.x_train[:n], data.y_train[:n], data.x_test[:n], data.y_test[:n]).auc


def suppress_experiment(*, model: str = "mlp", dataset: str = "digits", suppressor: str = "magnitude",
                        layers: list[str] | None = None, epochs: int = 20, start_epoch: int = 2,
                        end_epoch: int = 12, mask_times: int = 30, sparse_start: float = 0.0,
                        sparse_end: float = 0.9, batch_size: int = 32, learning_rate: float = 3e-3,
                        mode: str = "pynative", baseline: bool = True, seed: int = 0, network_fn: Any = None,
                        data: Any = None) -> dict[str, Any]:
    """Train ``model`` on ``dataset`` with suppression (and without, when ``baseline``); JSON-ready results.

    ``network_fn`` (a zero-argument factory) and ``data`` (a :class:`~armour_core.data.Dataset`) replace the
    registry's model and dataset for a user's own network and data; ``model``/``dataset`` then only label
    the results."""
    import mindspore as ms
    from mindspore import nn

    import armour_core.ms  # noqa: F401
    from armour_core import registry
    from armour_core.errors import InvalidInputError
    from .model import SuppressModel

    if mode not in ("pynative", "graph"):
        raise InvalidInputError(f"mode: expected 'pynative' or 'graph', got {mode!r}")
    if end_epoch > epochs:
        raise InvalidInputError(f"end_epoch={end_epoch} is after the last training epoch (epochs={epochs})")
    data = data if data is not None else registry.create("dataset", dataset)
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    try:
        def run(suppress: bool) -> tuple[Any, Any]:
            with seeded(seed):
                net = (network_fn() if network_fn is not None else
                       registry.create("model", model, input_shape=data.input_shape, num_classes=data.num_classes))
            loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
            opt = nn.Adam(net.trainable_params(), learning_rate=learning_rate)
            kw = dict(layers=layers, suppressor=suppressor, start_epoch=start_epoch, end_epoch=end_epoch,
                      mask_times=mask_times, sparse_start=sparse_start, sparse_end=sparse_end, seed=seed)
            m = (SuppressModel(net, loss_fn=loss, optimizer=opt, **kw) if suppress
                 else ms.train.Model(net, loss_fn=loss, optimizer=opt))
            m.train(epochs, _dataset(data.x_train, data.y_train, batch_size, seed), dataset_sink_mode=False)
            return net, m

        t0 = time.perf_counter()
        net, m = run(True)
        seconds = time.perf_counter() - t0
        result: dict[str, Any] = {
            "model": model, "dataset": dataset, "suppressor": suppressor, "mode": mode, "epochs": epochs,
            "schedule": {"start_epoch": start_epoch, "end_epoch": end_epoch, "mask_times": mask_times,
                         "sparse_start": sparse_start, "sparse_end": sparse_end},
            "sparsity": m.sparsity(), "history": m.suppress_ctrl.history,
            "accuracy": _accuracy(net, data.x_test, data.y_test),
            "train_accuracy": _accuracy(net, data.x_train, data.y_train),
            "membership_auc": _membership_auc(net, data), "seconds": seconds}
        if baseline:
            bnet, _ = run(False)
            result["baseline"] = {"accuracy": _accuracy(bnet, data.x_test, data.y_test),
                                  "train_accuracy": _accuracy(bnet, data.x_train, data.y_train),
                                  "membership_auc": _membership_auc(bnet, data)}
        return result
    finally:
        ms.set_context(mode=previous)
