"""Shadow (reference) models for LiRA and RMIA, trained as independent tasks on an executor.

A shadow is one task (:func:`shadow_task`): build the network from a picklable :class:`ShadowBuilder`,
train it through MindSpore (``armour_core.ms.train.train_classifier``, one compiled step) or load it from the
cache, and return its logits on the queried inputs. The task carries everything it needs (data, recipe,
seed, cache directory), so ``local``, ``processes`` and ``ray`` workers compute the same thing.

The cache key is (model factory, digest of the shadow's training data, recipe, seed): a rerun, or a run with
more shadows, loads every shadow that already exists. Entries are written atomically (temp file + rename,
so two processes writing the same entry leave one complete file) and stamped with a SHA-256 of the
parameters; an entry that is truncated, corrupt or stamped differently is retrained, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from armour_core.errors import ConfigError

#: bump when shadow training or the cache format changes, so stale checkpoints are not reused
SHADOW_RECIPE = 2
#: checkpoint entry holding the SHA-256 of the parameters (written with them, checked on load)
_DIGEST_KEY = "armour_shadow_digest"


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


def _callable_id(fn: Any) -> str:
    """A stable name for a user factory (``functools.partial`` included: its function and arguments)."""
    import functools

    if isinstance(fn, functools.partial):
        return f"{_callable_id(fn.func)}{fn.args!r}{sorted(fn.keywords.items())!r}"
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


@attrs.frozen
class ShadowBuilder:
    """How to build an untrained shadow network, as picklable data: a registered ``model`` (name, input
    shape, classes) or a user factory (a module-level callable, so that worker processes can import it)."""

    model: str | None = None
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0
    factory: Callable[[], Any] | None = None

    @property
    def arch_id(self) -> str:
        if self.factory is not None:
            return f"fn-{_callable_id(self.factory)}"
        return f"{self.model}-{'x'.join(map(str, self.input_shape))}-c{self.num_classes}"

    def build(self):
        if self.factory is not None:
            return self.factory()
        from armour_core import registry

        return registry.create("model", self.model, input_shape=tuple(self.input_shape),
                               num_classes=self.num_classes)

    def check_picklable(self) -> None:
        """Worker processes receive the builder by pickling: a lambda or a local function cannot travel."""
        try:
            pickle.dumps(self)
        except Exception as exc:  # noqa: BLE001 - pickle raises several types
            raise ConfigError(f"network_fn: {self.factory!r} cannot be sent to worker processes "
                              f"({type(exc).__name__}); use a module-level function (or functools.partial "
                              "of one), or the local executor") from None


def shadow_path(arch_id: str, x: np.ndarray, y: np.ndarray, recipe: dict, seed: int,
                root: str | Path | None = None) -> Path:
    """The cache entry of one shadow, under ``root`` (default: armour's cache directory)."""
    from armour_core.cache import cache_dir

    key = json.dumps({"arch": arch_id, "data": data_digest(x, y), "recipe": recipe, "seed": seed,
                      "version": SHADOW_RECIPE}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    safe = "".join(ch if ch.isalnum() else "_" for ch in arch_id)[-40:]
    return Path(root if root is not None else cache_dir()) / "shadows" / f"{safe}-{digest}.ckpt"


def _params_digest(named_arrays) -> str:
    h = hashlib.sha256()
    for name, a in sorted(named_arrays, key=lambda t: t[0]):
        a = np.ascontiguousarray(a)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _load_verified(net, path: Path) -> bool:
    """Load ``path`` into ``net`` only if it is complete and its parameters match their stamped digest."""
    import mindspore as ms

    try:
        entries = ms.load_checkpoint(str(path))
    except Exception:  # noqa: BLE001 - a truncated or foreign file: MindSpore raises assorted types
        return False
    stamp = entries.pop(_DIGEST_KEY, None)
    names = {p.name for p in net.get_parameters()}
    if stamp is None or set(entries) != names:
        return False
    arrays = [(n, p.asnumpy()) for n, p in entries.items()]
    if _params_digest(arrays) != str(stamp):
        return False
    ms.load_param_into_net(net, entries, strict_load=True)
    return True


def _save_stamped(net, path: Path) -> None:
    from armour_core.ms.checkpoint import save_checkpoint_atomic

    digest = _params_digest([(p.name, p.asnumpy()) for p in net.get_parameters()])
    save_checkpoint_atomic(net, path, append_dict={_DIGEST_KEY: digest})


def train_shadow(build: Callable[[], object] | ShadowBuilder, arch_id: str | None, x: np.ndarray,
                 y: np.ndarray, *, recipe: dict, seed: int, cache: bool = True,
                 cache_root: str | Path | None = None):
    """A network from ``build`` (initialised under ``seed``) trained on ``(x, y)`` with ``recipe``
    (``epochs``, ``batch_size``, ``learning_rate``, ``weight_decay``); loaded from the cache when a verified
    entry exists. ``arch_id`` defaults to the builder's. Returns ``(network, loaded_from_cache)``.
    """
    import armour_core.ms  # noqa: F401 - CPU runtime settings
    from armour_core.ms.seeding import seeded
    from armour_core.ms.train import train_classifier

    if isinstance(build, ShadowBuilder):
        arch_id = arch_id or build.arch_id
        build = build.build
    with seeded(int(seed)):
        net = build()
    path = shadow_path(arch_id, x, y, recipe, seed, cache_root)
    if cache and path.exists() and _load_verified(net, path):
        net.set_train(False)
        return net, True
    if cache and path.exists():  # corrupt or from another build: start again from a fresh initialisation
        with seeded(int(seed)):
            net = build()
    train_classifier(net, x, y, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                     learning_rate=recipe["learning_rate"], weight_decay=recipe["weight_decay"],
                     seed=int(seed), progress=False)
    net.set_train(False)
    if cache:
        _save_stamped(net, path)
    return net, False


def shadow_task(task: dict) -> dict:
    """One shadow as an executor task: train (or load) it, return its logits on ``task["queries"]``.

    ``task``: ``builder`` (:class:`ShadowBuilder`), ``x``/``y`` (its training data), ``recipe``, ``seed``,
    ``cache`` (bool), ``cache_root`` (str or None), ``queries`` (list of input arrays). Returns
    ``{"logits": [float64 arrays], "loaded": bool}``.
    """
    net, loaded = train_shadow(task["builder"], None, task["x"], task["y"], recipe=task["recipe"],
                               seed=task["seed"], cache=task["cache"], cache_root=task["cache_root"])
    return {"logits": [logits_of(net, q) for q in task["queries"]], "loaded": bool(loaded)}


def logits_of(net, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Logits of ``net`` on ``x`` in float64 (PyNative forward, batched)."""
    import mindspore as ms

    out = [net(ms.Tensor(np.ascontiguousarray(x[i:i + batch_size], dtype=np.float32))).asnumpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float64)
