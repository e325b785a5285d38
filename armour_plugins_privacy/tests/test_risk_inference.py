"""Membership-inference attacks on small digits MLPs.

* LiRA (online, 8 shadows) beats the loss-threshold attack at TPR@0.1%FPR on a deliberately overfit model;
  its shadows are cached (a second run loads them and gives the same scores).
* On a strongly regularised model every attack's AUC is near 0.5: under the null the AUC of n1 members vs
  n0 non-members has std sqrt((n1 + n0 + 1) / (12 n1 n0)) = 0.033 here, and we allow 3 std.
* MindArmour's attack classifiers (lr, knn, mlp, rf) run on numpy arrays with grid search.
* Statistics used by the attacks match their textbook formulas; bad inputs get clear errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from armour_core.testing import requires_mindspore

pytestmark = requires_mindspore

N = 150  # members, non-members and population each (the split fixture of conftest.py)
EPOCHS, BATCH = 80, 64


def _target(split, epochs, weight_decay=0.0, lr=1e-3):
    import mindspore as ms

    import armour_core.ms  # noqa: F401
    from armour_core import registry
    from armour_core.ms.model import MSModel
    from armour_core.ms.train import train_classifier

    ms.set_seed(1)
    net = registry.create("model", "mlp", input_shape=(1, 8, 8), num_classes=10)
    train_classifier(net, *split["m"], epochs=epochs, batch_size=BATCH, learning_rate=lr,
                     weight_decay=weight_decay, seed=1)
    return MSModel(net, num_classes=10, input_shape=(1, 8, 8))


@pytest.fixture(scope="module")
def overfit(split):
    return _target(split, EPOCHS)


def test_overfit_model_is_overfit(overfit, split):
    assert (overfit.predict(split["m"][0]) == split["m"][1]).mean() > 0.97


def test_lira_beats_loss_threshold_at_low_fpr(overfit, split, cache):
    from armour_core import registry

    (xm, ym), (xn, yn), (xp, yp) = split["m"], split["n"], split["p"]
    loss = registry.create("inference", "loss_threshold", model=overfit).evaluate(xm, ym, xn, yn)
    kw = dict(shadows=8, architecture="mlp", epochs=EPOCHS, batch_size=BATCH, seed=0)
    lira = registry.create("inference", "lira", model=overfit, **kw).set_population(xp, yp)
    r = lira.evaluate(xm, ym, xn, yn)
    assert lira.shadows_trained_ == 8
    assert r.tpr_at_fpr[0.001] > loss.tpr_at_fpr[0.001] + 0.03, (r.summary(), loss.summary())
    assert r.tpr_at_fpr_floor[0.01] > loss.tpr_at_fpr_floor[0.01]
    assert r.auc > loss.auc
    # the online design: every query is IN for exactly half of the shadows
    assert np.all(lira.stats_["n_in"] == 4) and np.all(lira.stats_["n_out"] == 4)
    # per-example risk in [0, 1]; members singled out at 0.1% FPR have risk 1
    assert r.risk_member.min() >= 0 and r.risk_member.max() <= 1
    # shadows are cached: a new attack with the same settings loads all of them, same scores
    again = registry.create("inference", "lira", model=overfit, **kw).set_population(xp, yp)
    r2 = again.evaluate(xm, ym, xn, yn)
    assert again.shadows_loaded_ == 8 and again.shadows_trained_ == 0
    assert np.allclose(r2.scores_member, r.scores_member)
    # the ROC plot is log-log
    ax = r.plot_roc()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_offline_lira(overfit, split, cache):
    from armour_core import registry

    (xm, ym), (xn, yn), (xp, yp) = split["m"], split["n"], split["p"]
    lira = registry.create("inference", "lira", model=overfit, shadows=4, online=False, architecture="mlp",
                           epochs=EPOCHS, batch_size=BATCH, keep_fraction=0.9)
    with pytest.raises(Exception, match="population"):
        lira.score(xm, ym)
    r = lira.fit(xp[:75], yp[:75], xp[75:], yp[75:]).evaluate(xm, ym, xn, yn)
    assert np.all(lira.stats_["n_in"] == 0)  # offline shadows never see the targets
    assert r.auc > 0.55


@pytest.mark.parametrize("method", ["lr", "knn", "mlp", "rf"])
def test_attack_classifiers(overfit, split, method):
    from armour_core import registry

    (xm, ym), (xn, yn) = split["m"], split["n"]
    h = N // 2
    small = {"mlp": {"hidden_layer_sizes": [(16,)], "alpha": [1e-3, 1e-1]}, "rf": {"n_estimators": [50],
                                                                                "max_depth": [None, 6]}}
    atk = registry.create("inference", "classifier", model=overfit, method=method, seed=0,
                          param_grid=small.get(method))
    with pytest.raises(Exception, match="fit"):
        atk.score(xm, ym)
    atk.fit(xm[:h], ym[:h], xn[:h], yn[:h])
    r = atk.evaluate(xm[h:], ym[h:], xn[h:], yn[h:])
    assert 0 <= r.scores_member.min() and r.scores_member.max() <= 1
    # precision/recall/accuracy of the decision rule agree with scikit-learn on the classifier's predictions
    from sklearn.metrics import accuracy_score, precision_score, recall_score

    feats = np.vstack([atk.features(xm[h:], ym[h:]), atk.features(xn[h:], yn[h:])])
    truth = np.r_[np.ones(N - h), np.zeros(N - h)]
    pred = atk.search_.predict(feats)
    assert r.precision == pytest.approx(precision_score(truth, pred))
    assert r.recall == pytest.approx(recall_score(truth, pred))
    assert r.accuracy == pytest.approx(accuracy_score(truth, pred))
    grid = {k.removeprefix("clf__"): v for k, v in atk.search_.param_grid.items()}
    assert all(v in grid[k.removeprefix("clf__")] for k, v in atk.search_.best_params_.items())
    # no better than chance is possible for these weak attacks, but far below chance would be a bug
    assert r.auc > 0.5 - 3 * np.sqrt((2 * (N - h) + 1) / (12 * (N - h) ** 2))


def test_attacks_near_chance_on_regularised_model(split, cache):
    from armour_core import registry

    model = _target(split, epochs=4, weight_decay=0.05, lr=3e-3)
    (xm, ym), (xn, yn), (xp, yp) = split["m"], split["n"], split["p"]
    tol = 3 * np.sqrt((2 * N + 1) / (12 * N * N))
    aucs = {}
    for name in ("loss_threshold", "entropy"):
        aucs[name] = registry.create("inference", name, model=model).evaluate(xm, ym, xn, yn).auc
    lira = registry.create("inference", "lira", model=model, shadows=4, architecture="mlp", epochs=4,
                           batch_size=BATCH, learning_rate=3e-3, weight_decay=0.05).set_population(xp, yp)
    aucs["lira"] = lira.evaluate(xm, ym, xn, yn).auc
    assert all(abs(a - 0.5) < tol for a in aucs.values()), aucs


def test_statistics_match_formulas():
    from armour_core.api.inference import logit_confidence, true_class_loss
    from armour_plugins_privacy.inference.threshold import modified_entropy

    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (50, 5))
    y = rng.integers(0, 5, 50)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    py = p[np.arange(50), y]
    assert np.allclose(true_class_loss(z, y), -np.log(py))
    assert np.allclose(logit_confidence(z, y), np.log(py / (1 - py)))
    other = np.where(np.eye(5, dtype=bool)[y], 0.0, -p * np.log(1 - p)).sum(1)
    assert np.allclose(modified_entropy(z, y), -(1 - py) * np.log(py) + other)
    # stable at extreme confidence (p_y = 1 - 1e-30): finite and the correct limit
    big = np.array([[80.0, 0.0, 0.0]])
    assert np.isfinite(logit_confidence(big, np.array([0])))[0]
    assert logit_confidence(big, np.array([0]))[0] == pytest.approx(80 - np.log(2))


def test_query_views():
    from armour_core.errors import InvalidInputError
    from armour_plugins_privacy.inference.lira import query_views

    x = np.arange(2 * 1 * 3 * 3, dtype=np.float32).reshape(2, 1, 3, 3) + 1
    views = query_views(x, True, 0.0)
    assert len(views) == 5 and all(v.shape == x.shape for v in views)
    assert np.array_equal(views[0], x)
    assert np.array_equal(views[1][:, :, 1:], x[:, :, :-1]) and np.all(views[1][:, :, 0] == 0)  # shifted down
    assert np.array_equal(views[4][:, :, :, :-1], x[:, :, :, 1:]) and np.all(views[4][:, :, :, -1] == 0)
    assert query_views(x, False, 0.0)[0] is x
    with pytest.raises(InvalidInputError, match="augment"):
        query_views(x.reshape(2, -1), True, 0.0)


def test_bad_inputs(overfit, split):
    from armour_core import registry
    from armour_core.errors import ConfigError, InvalidInputError

    (xm, ym), (xn, yn) = split["m"], split["n"]
    atk = registry.create("inference", "loss_threshold", model=overfit)
    with pytest.raises(InvalidInputError, match="x_member.*empty"):
        atk.evaluate(xm[:0], ym[:0], xn, yn)
    with pytest.raises(InvalidInputError, match="y_nonmember"):
        atk.evaluate(xm, ym, xn, yn[:10])
    with pytest.raises(InvalidInputError, match="x_query"):
        atk.score(xm.astype(np.int64), ym)
    with pytest.raises(ConfigError, match="method"):
        registry.create("inference", "classifier", model=overfit, method="svm")
    with pytest.raises(ConfigError, match="param_grid"):
        registry.create("inference", "classifier", model=overfit, param_grid={"C": []})
    with pytest.raises(ConfigError, match="param_grid"):
        registry.create("inference", "classifier", model=overfit, param_grid={"bogus": [1]}).fit(xm, ym, xn, yn)
    with pytest.raises(ConfigError, match="shadows"):
        registry.create("inference", "lira", model=overfit, shadows=1)
    with pytest.raises(ConfigError, match="architecture"):
        registry.create("inference", "lira", model=overfit, shadows=2).score(xm[:4], ym[:4])
    with pytest.raises(ConfigError, match="unknown config key"):
        registry.create("inference", "entropy", model=overfit, shadow=3)


def test_tensor_inputs(overfit, split):
    import mindspore as ms

    from armour_core import registry

    (xm, ym) = split["m"]
    atk = registry.create("inference", "entropy", model=overfit)
    s_np = atk.score(xm[:20], ym[:20])
    s_t = atk.score(ms.Tensor(xm[:20]), ms.Tensor(ym[:20].astype(np.int32)))
    assert np.allclose(s_np, s_t)


def test_attacks_near_chance_under_strong_dp(split):
    """A target trained with DP-SGD through DPModel (large noise): the attacks find nothing beyond noise."""
    pytest.importorskip("armour_plugins_privacy.dp.model")
    from armour_core import registry
    from armour_core.ms.model import MSModel
    from armour_plugins_privacy.dp.audit import dp_train_fn

    fn = dp_train_fn("mlp", input_shape=(1, 8, 8), num_classes=10, epochs=4, batch_size=32,
                     noise_multiplier=4.0, learning_rate=0.5)
    net, eps = fn(*split["m"], 1)
    assert 0 < eps < 10
    model = MSModel(net, num_classes=10, input_shape=(1, 8, 8))
    (xm, ym), (xn, yn) = split["m"], split["n"]
    tol = 3 * np.sqrt((2 * N + 1) / (12 * N * N))
    for name in ("loss_threshold", "entropy"):
        auc = registry.create("inference", name, model=model).evaluate(xm, ym, xn, yn).auc
        assert abs(auc - 0.5) < tol, (name, auc, eps)


def test_mindarmour_compatible_api(overfit, split):
    import mindspore as ms
    import mindspore.dataset as mds

    from armour_core.errors import ConfigError
    from armour_plugins_privacy.inference.compat import MembershipInference

    (xm, ym), (xn, yn) = split["m"], split["n"]
    mia = MembershipInference(ms.train.Model(overfit.network))
    mia.train((xm[:75], ym[:75]), (xn[:75], yn[:75]), [{"method": "LR", "params": {"C": [0.1, 1.0]}},
                                                       {"method": "knn", "params": {"n_neighbors": [5]}}])

    def ds(x, y):
        return mds.NumpySlicesDataset({"x": x, "y": y.astype(np.int32)}, shuffle=False).batch(32)

    res = mia.eval(ds(xm[75:], ym[75:]), ds(xn[75:], yn[75:]), ["precision", "accuracy", "recall"])
    assert len(res) == 2 and set(res[0]) >= {"precision", "accuracy", "recall", "auc", "tpr_at_1%fpr"}
    same = mia.eval((xm[75:], ym[75:]), (xn[75:], yn[75:]), ["accuracy"])  # arrays and datasets agree
    assert same[0]["accuracy"] == pytest.approx(res[0]["accuracy"])
    with pytest.raises(ConfigError, match="svm"):
        mia.train((xm, ym), (xn, yn), [{"method": "svm", "params": {}}])
