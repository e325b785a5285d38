"""MindArmour's ``MembershipInference`` API on armour's attack classifiers, for migration.

``MembershipInference(model).train(train_data, test_data, attack_config)`` and
``.eval(train_data, test_data, metrics)`` behave like MindArmour's, but the data may be ``(x, y)`` numpy
arrays as well as a ``mindspore.dataset``, the model may be an ``nn.Cell``, a ``mindspore.train.Model`` or
an armour ``Classifier``, and each result also carries ``auc`` and TPR at 0.1 % / 1 % FPR.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core import registry
from armour_core.errors import ConfigError, InvalidInputError

from .configs import CLASSIFIER_METHODS

_METRICS = ("precision", "accuracy", "recall")


def _arrays(data: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return np.asarray(data[0], dtype=np.float32), np.asarray(data[1]).astype(np.int64)
    if hasattr(data, "create_tuple_iterator"):
        xs, ys = [], []
        for item in data.create_tuple_iterator(output_numpy=True, num_epochs=1):
            xs.append(np.asarray(item[0]))
            ys.append(np.asarray(item[1]))
        if not xs:
            raise InvalidInputError(f"{name}: the dataset is empty")
        return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)
    raise InvalidInputError(f"{name}: expected (x, y) arrays or a mindspore.dataset, got {type(data).__name__}")


class MembershipInference:
    """MindArmour-compatible wrapper: one armour ``classifier`` attack per entry of ``attack_config``."""

    def __init__(self, model: Any, n_jobs: int = 1):
        if not isinstance(n_jobs, int) or not (n_jobs == -1 or n_jobs > 0):
            raise InvalidInputError(f"n_jobs: expected -1 or a positive int, got {n_jobs!r}")
        self._model = model
        if type(model).__module__.startswith("mindspore") or hasattr(model, "_network"):
            import mindspore as ms

            if isinstance(model, ms.train.Model):
                self._model = model.predict_network
        self._n_jobs = n_jobs
        self.attacks: list[Any] = []

    def train(self, dataset_train: Any, dataset_test: Any, attack_config: list[dict[str, Any]]) -> None:
        """Fit one attack classifier per ``{"method": ..., "params": {...}}`` entry."""
        if not isinstance(attack_config, (list, tuple)) or not attack_config:
            raise ConfigError("attack_config: expected a non-empty list of {'method': ..., 'params': {...}}")
        xm, ym = _arrays(dataset_train, "dataset_train")
        xn, yn = _arrays(dataset_test, "dataset_test")
        attacks = []
        for i, cfg in enumerate(attack_config):
            if not isinstance(cfg, dict) or set(cfg) - {"method", "params"} or "method" not in cfg:
                raise ConfigError(f"attack_config[{i}]: expected keys 'method' and 'params', got {cfg!r}")
            method = str(cfg["method"]).lower()
            if method not in CLASSIFIER_METHODS:
                raise ConfigError(f"attack_config[{i}]: unknown method {cfg['method']!r}; expected one of "
                                  f"{', '.join(CLASSIFIER_METHODS)}")
            params = {k: list(v) for k, v in (cfg.get("params") or {}).items()} or None
            attack = registry.create("inference", "classifier", model=self._model, method=method,
                                     param_grid=params, n_jobs=self._n_jobs)
            attacks.append(attack.fit(xm, ym, xn, yn))
        self.attacks = attacks

    def eval(self, dataset_train: Any, dataset_test: Any, metrics: list[str] = ("precision",)) -> list[dict]:
        """Per attack: the requested metrics, plus ``auc``, ``tpr_at_0.1%fpr`` and ``tpr_at_1%fpr``."""
        unknown = sorted(set(metrics) - set(_METRICS))
        if unknown:
            raise InvalidInputError(f"metrics: unknown {unknown}; expected a subset of {list(_METRICS)}")
        if not self.attacks:
            raise InvalidInputError("eval: call train(...) first")
        xm, ym = _arrays(dataset_train, "dataset_train")
        xn, yn = _arrays(dataset_test, "dataset_test")
        out = []
        for attack in self.attacks:
            rep = attack.evaluate(xm, ym, xn, yn)
            item = {m: getattr(rep, m) for m in metrics}
            item.update({"auc": rep.auc, "tpr_at_0.1%fpr": rep.tpr_at_fpr[0.001],
                         "tpr_at_1%fpr": rep.tpr_at_fpr[0.01]})
            out.append(item)
        return out
