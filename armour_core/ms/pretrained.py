"""The embedded default: a small model trained deterministically on an embedded dataset, cached on disk.

The first call trains (a few seconds on CPU) and writes a checkpoint under :func:`armour_core.cache.cache_dir`
atomically; later calls load it. Nothing is downloaded.

The cache entry is a pair: ``KEY.ckpt`` and ``KEY.json``, whose metadata records the checkpoint's SHA-256 and
a digest of itself. A pair that is missing, empty, truncated, edited or mismatched (two processes, a copied
file) is a cache miss: the model is retrained and the pair rewritten atomically, under a per-key lock so two
processes train it once. The digests detect damage, not a forger who recomputes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import attrs
import mindspore as ms

from .. import registry
from ..atomic import atomic_write_text, exclusive_lock
from ..cache import cache_dir
from ..data import Dataset
from .checkpoint import save_checkpoint_atomic
from .model import MSModel
from .train import accuracy, train_classifier
from .seeding import seeded

log = logging.getLogger(__name__)

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
    key = f"{spec.name}-{data.name}-seed{seed}-ep{epochs}-r{RECIPE}"
    ckpt = cache_dir() / f"{key}.ckpt"
    meta = cache_dir() / f"{key}.json"
    expected = {"model": spec.name, "dataset": data.name, "seed": seed, "epochs": epochs, "recipe": RECIPE}
    trained_now = False
    net, acc = _load_cached(spec.name, data, seed, ckpt, meta, expected)
    if net is None:
        with exclusive_lock(cache_dir() / f".{key}.lock", wait=True):  # one process trains, the others wait
            net, acc = _load_cached(spec.name, data, seed, ckpt, meta, expected)
            if net is None:
                net = build(spec.name, data, seed=seed)
                train_classifier(net, data.x_train, data.y_train, epochs=epochs, seed=seed, progress=progress)
                acc = accuracy(net, data.x_test, data.y_test)
                save_checkpoint_atomic(net, ckpt)
                info = {"test_accuracy": acc, **expected, "checkpoint_sha256": _sha256(ckpt.read_bytes())}
                atomic_write_text(meta, json.dumps({**info, "digest": _meta_digest(info)}))
                trained_now = True
    wrapped = MSModel(net, bounds=data.bounds, num_classes=data.num_classes, input_shape=data.input_shape)
    return Pretrained(model=wrapped, dataset=data, test_accuracy=float(acc), checkpoint=str(ckpt),
                      trained_now=trained_now)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _meta_digest(info: dict[str, Any]) -> str:
    """Digest of the metadata without its ``digest`` entry (canonical JSON)."""
    return _sha256(json.dumps({k: v for k, v in info.items() if k != "digest"}, sort_keys=True).encode())


def _load_cached(model: str, data: Dataset, seed: int, ckpt: Path, meta: Path, expected: dict[str, Any]):
    """``(network, test accuracy)`` from the cache pair, or ``(None, None)`` (a miss) when the pair is missing
    or is not exactly what armour wrote for this key."""
    try:
        info = json.loads(meta.read_text())
        blob = ckpt.read_bytes()
    except (OSError, ValueError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("default model cache %s is unreadable (%s); retraining", meta, exc)
        return None, None
    acc = info.get("test_accuracy") if isinstance(info, dict) else None
    valid = (isinstance(acc, float) and 0.0 <= acc <= 1.0 and info.get("digest") == _meta_digest(info)
             and all(info.get(k) == v for k, v in expected.items())
             and info.get("checkpoint_sha256") == _sha256(blob))
    if valid:
        net = build(model, data, seed=seed)
        try:
            ms.load_param_into_net(net, ms.load_checkpoint(str(ckpt)), strict_load=True)
            return net, acc
        except Exception as exc:  # noqa: BLE001 - e.g. replaced between the digest check and the load
            log.warning("default model cache %s cannot be loaded (%s); retraining", ckpt, exc)
            return None, None
    log.warning("default model cache %s does not match its metadata %s (damaged, edited or written by an older "
                "armour); retraining", ckpt.name, meta.name)
    return None, None


def trainer(model: str, dataset: Dataset, *, epochs: int | None = None):
    """``train_fn(x, y, seed) -> MSModel``: the default recipe on other data (shadow models, audits)."""
    epochs = epochs if epochs is not None else DEFAULT_EPOCHS.get(dataset.name, 10)

    def train_fn(x, y, seed: int = 0) -> MSModel:
        net = build(model, dataset, seed=seed)
        train_classifier(net, x, y, epochs=epochs, seed=seed, progress=False)
        return MSModel(net, bounds=dataset.bounds, num_classes=dataset.num_classes, input_shape=dataset.input_shape)

    return train_fn
