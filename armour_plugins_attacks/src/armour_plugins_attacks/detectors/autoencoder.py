"""The denoising auto-encoder MagNet needs (Meng & Chen, CCS 2017), in MindSpore.

Two architectures:

* ``conv`` — the paper's MNIST auto-encoder: three 3x3 "same" convolutions with sigmoid activations
  (C -> h -> h -> C, h = 3 by default), for (C, H, W) images;
* ``dense`` — one sigmoid hidden layer (D -> h -> D), for flat feature vectors.

Inputs are mapped from the data bounds to [0, 1] (the sigmoid's range) and back. Training minimises the
mean squared error between AE(x + noise) and x (Gaussian noise of std ``noise``, clipped to [0, 1]) with
Adam; four mini-batch steps run inside one compiled (``mindspore.jit``) graph call, because for a model
this small the per-call overhead dominates. Weights are initialised from a NumPy
generator seeded by the detector's ``seed`` (Glorot-uniform), so training is reproducible without
touching MindSpore's global seed.
"""

from __future__ import annotations

import math

import mindspore as ms
import numpy as np
from mindspore import nn, ops

import armour_core.ms  # noqa: F401 - applies the CPU runtime settings before the first convolution
from armour_core.api.batching import pad_to_bucket
from armour_core.errors import InvalidInputError
from armour_core.progress import Progress


#: optimiser steps compiled into one graph call
_GROUP = 4


class ConvAutoEncoder(nn.Cell):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, hidden, 3, pad_mode="same", has_bias=True)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, pad_mode="same", has_bias=True)
        self.conv3 = nn.Conv2d(hidden, channels, 3, pad_mode="same", has_bias=True)
        self.sigmoid = nn.Sigmoid()

    def construct(self, x):
        return self.sigmoid(self.conv3(self.sigmoid(self.conv2(self.sigmoid(self.conv1(x))))))


class DenseAutoEncoder(nn.Cell):
    def __init__(self, input_shape: tuple[int, ...], hidden: int):
        super().__init__()
        self.shape = tuple(input_shape)
        d = int(math.prod(input_shape))
        self.encode = nn.Dense(d, hidden)
        self.decode = nn.Dense(hidden, d)
        self.sigmoid = nn.Sigmoid()

    def construct(self, x):
        n = x.shape[0]
        h = self.sigmoid(self.encode(x.reshape(n, -1)))
        return self.sigmoid(self.decode(h)).reshape((n,) + self.shape)


def _glorot(param: ms.Parameter, rng: np.random.Generator) -> None:
    shape = tuple(param.shape)
    if len(shape) == 1:
        value = np.zeros(shape, np.float32)
    else:
        receptive = int(math.prod(shape[2:])) if len(shape) > 2 else 1
        fan_out, fan_in = shape[0] * receptive, shape[1] * receptive
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        value = rng.uniform(-limit, limit, size=shape).astype(np.float32)
    param.set_data(ms.Tensor(value))


class AutoEncoder:
    """A trained auto-encoder over inputs in ``bounds`` (numpy in, numpy out)."""

    def __init__(self, input_shape: tuple[int, ...], bounds: tuple[float, float], *, architecture: str = "auto",
                 hidden: int | None = None):
        self.input_shape = tuple(input_shape)
        self.bounds = (float(bounds[0]), float(bounds[1]))
        if architecture == "auto":
            architecture = "conv" if len(self.input_shape) == 3 else "dense"
        if architecture == "conv" and len(self.input_shape) != 3:
            raise InvalidInputError(f"architecture='conv' needs (C, H, W) inputs, got samples of shape "
                                    f"{self.input_shape}")
        self.architecture = architecture
        if architecture == "conv":
            self.network = ConvAutoEncoder(self.input_shape[0], hidden or 3)
        else:
            self.network = DenseAutoEncoder(self.input_shape, hidden or max(8, int(math.prod(self.input_shape)) // 2))
        net = self.network

        def forward(x):
            return net(x)

        self._forward = ms.jit(forward)

    def _unit(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds
        return ((np.asarray(x, np.float64) - lo) / (hi - lo)).astype(np.float32)

    def train(self, x: np.ndarray, *, epochs: int, batch_size: int, learning_rate: float, weight_decay: float,
              noise: float, seed: int | None, progress: bool | None = None) -> list[float]:
        """Train on clean ``x`` (in ``bounds``); returns the mean loss per epoch."""
        rng = np.random.default_rng(seed)
        for p in self.network.trainable_params():
            _glorot(p, rng)
        u = self._unit(x)
        n = len(u)
        batch_size = min(batch_size, n)
        net = self.network
        opt = nn.Adam(net.trainable_params(), learning_rate=learning_rate, weight_decay=weight_decay)

        def loss_of(noisy, clean):
            return ((net(noisy) - clean) ** 2).mean()

        grad_fn = ms.value_and_grad(loss_of, None, opt.parameters)
        group = max(1, min(_GROUP, n // batch_size))

        @ms.jit
        def steps(noisy, clean):
            # ``group`` optimiser steps in one graph (small models: the call overhead dominates)
            total = 0.0
            for k in range(group):
                loss, grads = grad_fn(noisy[k], clean[k])
                loss = ops.depend(loss, opt(grads))
                total = total + loss + 0.0 * grads[0].sum()  # data-depend on the last-computed gradient
            return total / group

        net.set_train(True)
        history = []
        per_epoch = (n // batch_size) // group
        with Progress(epochs * per_epoch * group, "MagNet auto-encoder", enabled=progress, unit="steps") as bar:
            for _ in range(epochs):
                order = rng.permutation(n)[: per_epoch * group * batch_size]
                clean = u[order].reshape(per_epoch, group, batch_size, *u.shape[1:])
                noisy = np.clip(clean + noise * rng.standard_normal(clean.shape), 0.0, 1.0).astype(np.float32)
                total = 0.0
                for s in range(per_epoch):
                    total += float(steps(ms.Tensor(noisy[s]), ms.Tensor(clean[s])).asnumpy())
                    bar.update(group)
                history.append(total / per_epoch)
        net.set_train(False)
        return history

    def reconstruct(self, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """AE(x) in the data bounds, float32 (batches padded to power-of-two shapes to avoid recompiling)."""
        u = self._unit(x)
        out = []
        for start in range(0, len(u), chunk):
            part = u[start:start + chunk]
            k = len(part)
            part = pad_to_bucket(part, minimum=16)
            out.append(self._forward(ms.Tensor(part)).asnumpy()[:k])
        lo, hi = self.bounds
        return (np.concatenate(out).astype(np.float64) * (hi - lo) + lo).astype(np.float32)
