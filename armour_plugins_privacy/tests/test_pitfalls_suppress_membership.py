"""Pitfalls of MindArmour's suppress-privacy training and membership inference
(``/work/shared/MINDARMOUR_PITFALLS.md``, section "Suppress privacy and membership inference")."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.testing.markers import skip_module_unless_dists

skip_module_unless_dists("privacy")


class _UserNet:
    """A user network with its own parameter names (built lazily: MindSpore is imported in the test)."""

    @staticmethod
    def build(seed):
        import mindspore as ms
        from mindspore import nn

        class Net(nn.Cell):
            def __init__(self):
                super().__init__()
                self.flatten = nn.Flatten()
                self.encoder = nn.Dense(64, 32)
                self.act = nn.ReLU()
                self.classifier = nn.Dense(32, 10)

            def construct(self, x):
                return self.classifier(self.act(self.encoder(self.flatten(x))))

        ms.set_seed(seed)
        return Net()


def test_suppress_model_in_graph_and_pynative_keeps_parameter_names(mode, armour_digits, tmp_path):
    """Pitfall: "SuppressModel works in graph and PyNative mode and keeps the user's parameter names
    (checkpoints load into a fresh network)."

    In both modes: training reaches the scheduled sparsity, the user's parameter names are unchanged, and
    a checkpoint of the trained network loads strictly into a freshly built one and gives the same outputs."""
    import mindspore as ms
    import mindspore.dataset as mds
    from mindspore import nn

    from armour_plugins_privacy.suppress.model import SuppressModel

    net = _UserNet.build(0)
    names = [p.name for p in net.get_parameters()]
    mds.config.set_seed(0)
    d = armour_digits
    ds = mds.NumpySlicesDataset({"x": d.x_train[:512], "y": d.y_train[:512].astype(np.int32)}, shuffle=True,
                                num_parallel_workers=1).batch(64, drop_remainder=True)
    model = SuppressModel(net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                          optimizer=nn.Adam(net.trainable_params(), learning_rate=1e-2),
                          suppressor="magnitude", start_epoch=1, end_epoch=2, mask_times=2, sparse_end=0.5)
    model.train(2, ds)
    sp = model.sparsity()
    assert sp["encoder.weight"] == pytest.approx(0.5, abs=1 / (64 * 32) + 1e-9)
    assert [p.name for p in net.get_parameters()] == names
    path = str(tmp_path / "user.ckpt")
    ms.save_checkpoint(net, path)
    fresh = _UserNet.build(7)
    assert ms.load_param_into_net(fresh, ms.load_checkpoint(path), strict_load=True) == ([], [])
    x = ms.Tensor(d.x_test[:8])
    np.testing.assert_allclose(fresh(x).asnumpy(), net(x).asnumpy(), atol=1e-6)


@pytest.fixture(scope="module")
def membership_split(armour_digits):
    d = armour_digits
    return (d.x_train[:150], d.y_train[:150]), (d.x_test[:150], d.y_test[:150])


@pytest.mark.parametrize("name,cfg", [("loss_threshold", {}), ("entropy", {}), ("classifier", {"method": "lr"})])
def test_membership_inference_accepts_numpy_and_reports_auc_and_low_fpr_tpr(name, cfg, armour_mlp,
                                                                             membership_split):
    """Pitfall: "Membership inference accepts numpy arrays (not only `mindspore.dataset`), reports ROC AUC and
    TPR at low FPR". Every cheap attack takes numpy arrays and reports AUC and TPR at 0.1% and 1% FPR."""
    (xm, ym), (xn, yn) = membership_split
    atk = registry.create("inference", name, model=armour_mlp, seed=0, **cfg)
    h = len(xm) // 2
    atk.fit(xm[:h], ym[:h], xn[:h], yn[:h])
    rep = atk.evaluate(xm[h:], ym[h:], xn[h:], yn[h:])
    assert 0.0 <= rep.auc <= 1.0
    assert {0.001, 0.01} <= set(rep.tpr_at_fpr)
    assert all(0.0 <= v <= 1.0 for v in rep.tpr_at_fpr.values())
    scores = np.asarray(atk.score(xm[h:], ym[h:]))
    assert scores.shape == (len(xm) - h,) and np.all(np.isfinite(scores))


def test_loss_threshold_baseline_is_the_one_line_loss_attack(armour_mlp, membership_split):
    """Pitfall: "... and is compared against a one-line loss-threshold baseline (MindArmour's best attack model
    barely beats it: AUC 0.774 vs 0.762)."

    The registered baseline's scores rank exactly like the negative cross-entropy loss (one line of numpy), so
    its AUC equals the AUC of that one-liner."""
    from armour_core.api.inference import membership_metrics

    (xm, ym), (xn, yn) = membership_split

    def one_line(x, y):
        z = armour_mlp.logits(x).astype(np.float64)
        return -(np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1) - z[np.arange(len(y)), y])

    base = registry.create("inference", "loss_threshold", model=armour_mlp)
    rep = base.evaluate(xm, ym, xn, yn)
    want = membership_metrics(one_line(xm, ym), one_line(xn, yn))
    assert rep.auc == pytest.approx(want.auc, abs=1e-9)
    s = np.asarray(base.score(xm, ym))
    ref = one_line(xm, ym)
    assert np.array_equal(np.argsort(s, kind="stable"), np.argsort(ref, kind="stable")) or \
        np.corrcoef(s, ref)[0, 1] > 0.999
