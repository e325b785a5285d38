"""Embedded model architectures (MindSpore cells) sized to the dataset's input."""

from __future__ import annotations

import math

from mindspore import nn


class MLP(nn.Cell):
    """Flatten -> Dense(hidden) -> ReLU -> Dense(num_classes)."""

    def __init__(self, *, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10, hidden: int = 128):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(int(math.prod(input_shape)), hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Dense(hidden, num_classes)

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


class LeNet5(nn.Cell):
    """LeNet5-style CNN: conv(6)-ReLU-pool, conv(16)-ReLU-pool, dense 120-84-classes.

    Convolutions pad to keep the spatial size ("same"), so it fits 8x8 digits and 28x28 MNIST alike.
    Every layer is a separate cell, so coverage criteria see each neuron layer by name.
    """

    def __init__(self, *, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10):
        super().__init__()
        c, h, w = input_shape
        k = 3 if min(h, w) < 16 else 5
        self.conv1 = nn.Conv2d(c, 6, k, pad_mode="same", has_bias=True)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, k, pad_mode="same", has_bias=True)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(16 * (h // 4) * (w // 4), 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Dense(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Dense(84, num_classes)

    def construct(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)
