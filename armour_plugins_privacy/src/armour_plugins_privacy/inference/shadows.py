"""Shadow models for LiRA: trained through MindSpore (``armour_core.ms.train.train_classifier``, one
compiled step) and cached on disk by architecture, training data, recipe and seed, so a second run of the
same audit loads instead of training. Checkpoints are written atomically (temp file + rename)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from armour_core.ms.seeding import seeded

#: bump when shadow training changes, so stale checkpoints are not reused
SHADOW_RECIPE = 1


def row_keys(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One opaque, hashable key per (x_i, y_i) row (vectorised: a void view of the row bytes)."""
    flat = np.ascontiguousarray(np.hstack([np.asarray(x, np.float32).reshape(len(x), -1),
                                           np.asarray(y, np.float32).reshape(-1, 1)]))
    return flat.view(np.dtype((np.void, flat.shape[1] * flat.itemsize))).ravel()


def data_digest(x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(repr((tuple(x.shape), str(np.asarray(x).dtype))).encode())
    h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return h.hexdigest()


def shadow_path(arch_id: str, x: np.ndarray, y: np.ndarray, recipe: dict, seed: int) -> Path:
    from armour_core.cache import cache_dir

    key = json.dumps({"arch": arch_id, "data": data_digest(x, y), "recipe": recipe, "seed": seed,
                      "version": SHADOW_RECIPE}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    safe = "".join(ch if ch.isalnum() else "_" for ch in arch_id)[-40:]
    return cache_dir() / "shadows" / f"{safe}-{digest}.ckpt"


def train_shadow(build: Callable[[], object], arch_id: str, x: np.ndarray, y: np.ndarray, *, recipe: dict,
                 seed: int, cache: bool = True):
    """A network from ``build()`` (initialised under ``seed``) trained on ``(x, y)`` with ``recipe``
    (``epochs``, ``batch_size``, ``learning_rate``, ``weight_decay``); loaded from the cache when present.

    Returns ``(network, loaded_from_cache)``.
    """
    import mindspore as ms

    import armour_core.ms  # noqa: F401 - CPU runtime settings
    from armour_core.ms.checkpoint import save_checkpoint_atomic
    from armour_core.ms.train import train_classifier

    with seeded(int(seed)):
        net = build()
    path = shadow_path(arch_id, x, y, recipe, seed)
    if cache and path.exists():
        try:
            ms.load_param_into_net(net, ms.load_checkpoint(str(path)), strict_load=True)
            net.set_train(False)
            return net, True
        except Exception:  # noqa: BLE001 - a corrupt or incompatible cache entry is retrained
            pass
    train_classifier(net, x, y, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                     learning_rate=recipe["learning_rate"], weight_decay=recipe["weight_decay"],
                     seed=int(seed), progress=False)
    net.set_train(False)
    if cache:
        save_checkpoint_atomic(net, path)
    return net, False


def logits_of(net, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Logits of ``net`` on ``x`` in float64 (PyNative forward, batched)."""
    import mindspore as ms

    out = [net(ms.Tensor(np.ascontiguousarray(x[i:i + batch_size], dtype=np.float32))).asnumpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float64)
