"""RMIA (Zarifzadeh et al., ICML 2024).

* The score equals a hand computation on a tiny constructed case (online and offline, with the paper's
  a-approximation), and the vectorised count equals the definition Pr_z[LR(x, z) >= gamma] evaluated pair by
  pair.
* Check of the paper's claim (issue 12): with the same 2 and 4 reference models, RMIA's TPR at 0.1% and 1%
  FPR is at least LiRA's on a deliberately overfit digits MLP (the fuller measurement over seeds, with the
  default CNN too, is ``benchmarks/bench_rmia_vs_lira.py``).
* On a target trained with DP-SGD (DPModel) both attacks are near chance: under the null the AUC of n1
  members vs n0 non-members has standard deviation at most sqrt((n1 + n0 + 1) / (12 n1 n0)) (ties only lower
  it); we allow 3 of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from armour_core.api.model import Classifier


def _logits(p: np.ndarray) -> np.ndarray:
    """Two-class logits whose softmax gives probability ``p`` to class 0 (the label in these cases)."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(np.stack([p, 1 - p], axis=-1))


class _Lookup(Classifier):
    """A target whose class-0 probability on input value v is ``table[round(10 v)]``."""

    def __init__(self, table):
        super().__init__()
        self.table = np.asarray(table, dtype=np.float64)
        self.bounds, self.num_classes, self.input_shape = (0.0, 1.0), 2, (1,)

    def _logits(self, x):
        return _logits(self.table[np.rint(x[:, 0] * 10).astype(int)]).astype(np.float32)


class _Refs:
    def __init__(self, px, pz, in_x, in_z):
        self.logits = [_logits(px), _logits(pz)]
        self._in = (np.asarray(in_x, bool), np.asarray(in_z, bool))

    def in_mask(self, x, y):
        return self._in[0] if len(x) == 2 else self._in[1]


# targets x1, x2 (inputs 0.0, 0.1) and population z1..z3 (inputs 0.2, 0.3, 0.4); every label is class 0
TARGET = [0.8, 0.1, 0.5, 0.3, 0.9]
REF_X = [[0.6, 0.3], [0.4, 0.1]]            # two reference models on x1, x2
REF_Z = [[0.5, 0.7, 0.5], [0.5, 0.5, 0.4]]  # ... and on z1, z2, z3


def _rmia(monkeypatch, refs, **config):
    from armour_plugins_privacy.inference.rmia import RMIA

    atk = RMIA(model=_Lookup(TARGET), shadows=2, architecture="mlp", **config)
    atk.set_population(np.array([[0.2], [0.3], [0.4]], np.float32), np.zeros(3, int))
    monkeypatch.setattr(atk, "reference_outputs", lambda x, y, queries: refs)
    return atk


def test_score_matches_a_hand_computation_online(monkeypatch):
    # Pr(x) = mean over references: x -> (0.5, 0.2); ratio Pr(x|θ)/Pr(x) = (1.6, 0.5)
    # z: Pr(z) = (0.5, 0.6, 0.45); ratio = (1.0, 0.5, 2.0)
    # LR(x1, z) = (1.6, 3.2, 0.8), LR(x2, z) = (0.5, 1.0, 0.25); with gamma = 1.5: scores 2/3 and 0
    atk = _rmia(monkeypatch, _Refs(REF_X, REF_Z, np.zeros((2, 2)), np.zeros((2, 3))), gamma=1.5)
    s = atk.score(np.array([[0.0], [0.1]], np.float32), np.zeros(2, int))
    assert s == pytest.approx([2 / 3, 0.0])
    assert np.exp(atk.stats_["log_ratio_x"]) == pytest.approx([1.6, 0.5])
    assert np.exp(atk.stats_["log_ratio_z"]) == pytest.approx([1.0, 0.5, 2.0])


def test_score_matches_a_hand_computation_offline(monkeypatch):
    # Offline, a = 0.33: Pr(x) = ((1 + a) Pr_OUT(x) + (1 - a)) / 2 over the OUT references only.
    # x: Pr_OUT = (0.5, 0.2) -> Pr(x) = (0.6675, 0.468); ratio = (1.19850, 0.21368)
    # z1 is IN for reference 1 (Pr_OUT = 0.5 -> 0.6675, ratio 0.74906); z2 OUT everywhere (0.6 -> 0.734,
    # ratio 0.40872); z3 is IN for both, has no OUT estimate and is left out.
    # LR(x1, z) = (1.6, 2.932) -> 1/2 at gamma 2; LR(x2, z) = (0.285, 0.523) -> 0
    in_z = np.array([[True, False, True], [False, False, True]])
    atk = _rmia(monkeypatch, _Refs(REF_X, REF_Z, np.zeros((2, 2)), in_z), online=False)
    s = atk.score(np.array([[0.0], [0.1]], np.float32), np.zeros(2, int))
    assert atk.config.gamma == 2.0 and atk.config.offline_a == 0.33  # the paper's defaults
    assert s == pytest.approx([0.5, 0.0])
    assert np.exp(atk.stats_["log_px"]) == pytest.approx([0.6675, 0.468])
    assert np.exp(atk.stats_["log_ratio_z"]) == pytest.approx([0.5 / 0.6675, 0.3 / 0.734])


def test_vectorised_count_equals_the_pairwise_definition():
    from armour_plugins_privacy.inference.rmia import rmia_scores

    rng = np.random.default_rng(0)
    rx, rz = rng.normal(0, 1, 300), rng.normal(0, 1, 500)
    for gamma in (0.5, 1.0, 2.0):
        pairwise = np.array([[np.exp(a - b) >= gamma for b in rz] for a in rx]).mean(axis=1)
        assert np.array_equal(rmia_scores(rx, rz, gamma), pairwise)


def test_log_marginal_is_stable_for_tiny_probabilities():
    from armour_plugins_privacy.inference.rmia import log_marginal

    lp = np.array([[-800.0, -1.0], [-801.0, -2.0]])  # exp(-800) underflows in float64
    online = log_marginal(lp, np.zeros((2, 2), bool), online=True, a=0.33)
    assert np.isfinite(online).all() and online[0] == pytest.approx(-800 + np.log((1 + np.exp(-1)) / 2))
    offline = log_marginal(lp, np.zeros((2, 2), bool), online=False, a=1.0)
    assert offline[0] == pytest.approx(online[0])  # a = 1: Pr(x) = Pr_OUT(x)


def test_bad_configs_name_the_field():
    from armour_core.errors import ConfigError
    from armour_plugins_privacy.inference.rmia import RMIA

    for field, bad in (("gamma", 0.0), ("offline_a", 1.5), ("temperature", -1.0)):
        with pytest.raises(ConfigError, match=field):
            RMIA(model=_Lookup(TARGET), **{field: bad})
    with pytest.raises(ConfigError, match="shadows"):
        RMIA(model=_Lookup(TARGET), shadows=1)  # online needs IN and OUT references
    RMIA(model=_Lookup(TARGET), shadows=1, online=False)  # offline works with a single reference


# ------------------------------------------------------------------------------- the paper's claim
N = 150  # members, non-members and population each (the split fixture of conftest.py)
EPOCHS, BATCH = 80, 64


def _both(model, split, shadows, arch="mlp", **recipe):
    from armour_core import registry

    (xm, ym), (xn, yn), (xp, yp) = split["m"], split["n"], split["p"]
    kw = dict(shadows=shadows, architecture=arch, batch_size=BATCH, seed=0, **recipe)
    out = {}
    for name in ("lira", "rmia"):
        atk = registry.create("inference", name, model=model, **kw).set_population(xp, yp)
        out[name] = (atk.evaluate(xm, ym, xn, yn), atk)
    return out


@pytest.fixture(scope="module", params=["mlp", "lenet5"])
def overfit(request, split):
    """The digits MLP and the default CNN (LeNet5), each trained on the 150 members until it overfits."""
    pytest.importorskip("mindspore")
    import armour_core.ms  # noqa: F401
    from armour_core import registry
    from armour_core.ms.model import MSModel
    from armour_core.ms.seeding import seeded
    from armour_core.ms.train import train_classifier

    with seeded(1):
        net = registry.create("model", request.param, input_shape=(1, 8, 8), num_classes=10)
    train_classifier(net, *split["m"], epochs=EPOCHS, batch_size=BATCH, seed=1)
    return request.param, MSModel(net, num_classes=10, input_shape=(1, 8, 8))


@pytest.mark.parametrize("shadows", [2, 4])
def test_rmia_at_least_as_strong_as_lira_with_the_same_few_models(overfit, split, cache, shadows):
    arch, model = overfit
    res = _both(model, split, shadows, arch, epochs=EPOCHS)
    (lira, _), (rmia, atk) = res["lira"], res["rmia"]
    assert atk.shadows_trained_ == 0, "RMIA should reuse LiRA's shadows"
    for fpr in (0.001, 0.01):
        assert rmia.tpr_at_fpr[fpr] >= lira.tpr_at_fpr[fpr], (arch, fpr, rmia.summary(), lira.summary())
    assert rmia.tpr_at_fpr[0.01] > 0 and rmia.auc > 0.55, (arch, rmia.summary())  # a real signal


def test_both_near_chance_under_dp(split, cache):
    pytest.importorskip("armour_plugins_privacy.dp.model")
    from armour_core.ms.model import MSModel
    from armour_plugins_privacy.dp.audit import dp_train_fn

    fn = dp_train_fn("mlp", input_shape=(1, 8, 8), num_classes=10, epochs=4, batch_size=32,
                     noise_multiplier=4.0, learning_rate=0.5)
    net, eps = fn(*split["m"], 1)
    assert 0 < eps < 2, eps
    res = _both(MSModel(net, num_classes=10, input_shape=(1, 8, 8)), split, 4, epochs=4)
    tol = 3 * np.sqrt((2 * N + 1) / (12 * N * N))
    for name, (rep, _) in res.items():
        assert abs(rep.auc - 0.5) < tol, (name, rep.auc, eps)
