"""MindArmour's membership inference, done right: a scikit-learn attack classifier (``lr``, ``knn``,
``mlp``, ``rf``, tuned by grid search) trained on the target model's outputs for known members and
non-members (Shokri et al. 2017's attack model, without shadow models, as in MindArmour).

Differences from MindArmour: numpy arrays in (no ``mindspore.dataset`` required); features standardised
inside the pipeline (``lr``, ``knn`` and ``mlp`` are scale-sensitive); ``mlp`` is a classifier (MindArmour
uses a regressor); grid search optimises ROC AUC; randomness comes from ``seed``; scores are the
classifier's member probability, so ROC AUC and TPR at low FPR are reported next to precision/recall.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from armour_core.api.inference import MembershipInference, log_softmax, true_class_loss
from armour_core.errors import ConfigError

from .configs import ClassifierConfig

#: default grids (searched with ``cv``-fold cross-validation)
DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "lr": {"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
    "knn": {"n_neighbors": [3, 5, 9, 15, 25]},
    "mlp": {"hidden_layer_sizes": [(32,), (64, 32)], "alpha": [1e-4, 1e-2]},
    "rf": {"n_estimators": [100], "max_depth": [None, 8], "min_samples_leaf": [1, 5]},
}


def _estimator(method: str, seed: int | None):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier

    rs = None if seed is None else int(seed)
    return {"lr": lambda: LogisticRegression(max_iter=2000),
            "knn": lambda: KNeighborsClassifier(),
            "mlp": lambda: MLPClassifier(max_iter=600, early_stopping=False, random_state=rs),
            "rf": lambda: RandomForestClassifier(random_state=rs)}[method]()


class AttackClassifier(MembershipInference):
    """Attack model on the target's outputs; score = predicted probability of "member"."""

    Config: ClassVar[type] = ClassifierConfig
    registry_name = "classifier"
    needs_fit = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.search_ = None  #: the fitted ``GridSearchCV`` (best parameters in ``search_.best_params_``)

    def features(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = np.asarray(self.model.logits(x), dtype=np.float64)
        loss = true_class_loss(z, y)[:, None]
        if self.config.features == "loss_logits":
            return np.hstack([loss, z])
        return np.hstack([loss, -np.sort(-np.exp(log_softmax(z)), axis=1)])

    def _fit(self, xm, ym, xn, yn) -> None:
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        cfg = self.config
        if min(len(xm), len(xn)) < cfg.cv:
            raise ConfigError(f"cv={cfg.cv}: needs at least {cfg.cv} members and non-members to fit, got "
                              f"{len(xm)} and {len(xn)}")
        feats = np.vstack([self.features(xm, ym), self.features(xn, yn)])
        labels = np.r_[np.ones(len(xm), int), np.zeros(len(xn), int)]
        grid = cfg.param_grid if cfg.param_grid is not None else DEFAULT_GRIDS[cfg.method]
        pipe = Pipeline([("scale", StandardScaler()), ("clf", _estimator(cfg.method, cfg.seed))])
        valid = set(pipe.named_steps["clf"].get_params())
        unknown = sorted(k for k in grid if k.removeprefix("clf__") not in valid)
        if unknown:
            raise ConfigError(f"param_grid: unknown parameter(s) {unknown} for method={cfg.method!r}; "
                              f"valid: {sorted(valid)}")
        grid = {f"clf__{k.removeprefix('clf__')}": list(vals) for k, vals in grid.items()}
        folds = StratifiedKFold(n_splits=cfg.cv, shuffle=True, random_state=int(self.rng(1).integers(2**31)))
        self.search_ = GridSearchCV(pipe, grid, scoring="roc_auc", cv=folds, n_jobs=cfg.n_jobs, refit=True)
        self.search_.fit(feats, labels)
        self.decision_threshold = 0.5

    def _score(self, x, y):
        return self.search_.predict_proba(self.features(x, y))[:, 1]
