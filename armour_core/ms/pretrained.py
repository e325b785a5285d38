"""The embedded default: a small model trained deterministically on an embedded dataset, cached on disk.

The first call trains (a few seconds on CPU) and writes a checkpoint under :func:`armour_core.cache.cache_dir`
atomically; later calls load it. Nothing is downloaded.
"""

from __future__ import annotations

import json

import attrs
import mindspore as ms

from .. import registry
from ..atomic import atomic_write_text
from ..cache import cache_dir
from ..data import Dataset
from .checkpoint import save_checkpoint_atomic
from .model import MSModel
from .train import accuracy, train_classifier
from .seeding import seeded

#: bump when the training recipe changes, so stale checkpoints are not reused
RECIPE = 1
DEFAULT_EPOCHS = {"digits": 30, "mnist5k": 8}


@attrs.frozen
class Pretrained:
    model: MSModel
    dataset: Dataset
    test_accuracy: float
    checkpoint: str
    trained_now: bool


def build(model: str, dataset: Dataset, *, seed: int = 0):
    """A freshly initialised network of architecture ``model`` sized for ``dataset`` (seeded init)."""
    with seeded(seed):
        return registry.create("model", model, input_shape=dataset.input_shape, num_classes=dataset.num_classes)


def pretrained(model: str = "lenet5", dataset: str = "digits", *, seed: int = 0, epochs: int | None = None,
               progress: bool | None = None) -> Pretrained:
    """The default ``model`` trained on ``dataset`` (trained on first use, then loaded from the cache)."""
    data: Dataset = registry.create("dataset", dataset)
    spec = registry.spec("model", model)
    epochs = epochs if epochs is not None else DEFAULT_EPOCHS.get(data.name, 10)
    net = build(spec.name, data, seed=seed)
    key = f"{spec.name}-{data.name}-seed{seed}-ep{epochs}-r{RECIPE}"
    ckpt = cache_dir() / f"{key}.ckpt"
    meta = cache_dir() / f"{key}.json"
    trained_now = False
    if ckpt.exists() and meta.exists():
        ms.load_param_into_net(net, ms.load_checkpoint(str(ckpt)), strict_load=True)
        acc = json.loads(meta.read_text())["test_accuracy"]
    else:
        train_classifier(net, data.x_train, data.y_train, epochs=epochs, seed=seed, progress=progress)
        acc = accuracy(net, data.x_test, data.y_test)
        save_checkpoint_atomic(net, ckpt)
        atomic_write_text(meta, json.dumps({"test_accuracy": acc, "model": spec.name, "dataset": data.name,
                                            "seed": seed, "epochs": epochs, "recipe": RECIPE}))
        trained_now = True
    wrapped = MSModel(net, bounds=data.bounds, num_classes=data.num_classes, input_shape=data.input_shape)
    return Pretrained(model=wrapped, dataset=data, test_accuracy=float(acc), checkpoint=str(ckpt),
                      trained_now=trained_now)


def trainer(model: str, dataset: Dataset, *, epochs: int | None = None):
    """``train_fn(x, y, seed) -> MSModel``: the default recipe on other data (shadow models, audits)."""
    epochs = epochs if epochs is not None else DEFAULT_EPOCHS.get(dataset.name, 10)

    def train_fn(x, y, seed: int = 0) -> MSModel:
        net = build(model, dataset, seed=seed)
        train_classifier(net, x, y, epochs=epochs, seed=seed, progress=False)
        return MSModel(net, bounds=dataset.bounds, num_classes=dataset.num_classes, input_shape=dataset.input_shape)

    return train_fn
