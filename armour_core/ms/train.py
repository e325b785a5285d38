"""Deterministic supervised training with a compiled step (used for the embedded default models,
shadow models and tests)."""

from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from ..progress import Progress
from .losses import cross_entropy
from .runtime import quiet_jit, quiet_stderr


def train_classifier(network: nn.Cell, x: np.ndarray, y: np.ndarray, *, epochs: int = 10,
                     batch_size: int = 64, learning_rate: float = 1e-3, weight_decay: float = 0.0,
                     seed: int = 0, progress: bool | None = None) -> list[float]:
    """Train ``network`` in place with Adam on cross-entropy; returns the mean loss per epoch.

    Batches are drawn from a generator seeded with ``seed``; the last partial batch is dropped so the
    compiled step sees one shape.
    """
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y: expected equal, non-zero lengths, got {len(x)} and {len(y)}")
    batch_size = min(batch_size, len(x))
    with quiet_stderr("nn.Adam"):  # MindSpore 2.10's Adam logs a deprecation line for a primitive it creates
        opt = nn.Adam(network.trainable_params(), learning_rate=learning_rate, weight_decay=weight_decay)

    def loss_of(xb, yb):
        return cross_entropy(network(xb), yb).mean()

    vg = ms.value_and_grad(loss_of, None, opt.parameters)

    def step(xb, yb):
        loss, grads = vg(xb, yb)
        # data-depend on the first layer's gradient (computed last): keeps the CPU launch from starving
        return ops.depend(loss + 0.0 * grads[0].sum(), opt(grads))

    # one compile per call (one network, one shape); the compile's "compiled again" notice from MindSpore (a
    # new network trained by the same code) goes to the debug log
    step = quiet_jit(step)

    rng = np.random.default_rng(seed)
    network.set_train(True)
    history = []
    steps = len(x) // batch_size
    with Progress(epochs * steps, "train", enabled=progress, unit="steps") as bar:
        for _ in range(epochs):
            order = rng.permutation(len(x))
            total = 0.0
            for i in range(steps):
                idx = order[i * batch_size:(i + 1) * batch_size]
                loss = step(ms.Tensor(x[idx].astype(np.float32)), ms.Tensor(y[idx].astype(np.int32)))
                total += float(loss.asnumpy())
                bar.update(1)
            history.append(total / steps)
    network.set_train(False)
    return history


def accuracy(network: nn.Cell, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    network.set_train(False)
    correct = 0
    for i in range(0, len(x), batch_size):
        z = network(ms.Tensor(x[i:i + batch_size].astype(np.float32))).asnumpy()
        correct += int((z.argmax(1) == y[i:i + batch_size]).sum())
    return correct / len(x)
