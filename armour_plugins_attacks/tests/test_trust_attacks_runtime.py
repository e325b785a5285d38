"""Issue 9 (trust), items 6, 7 and 18 for every attack in the registry:

* 6: after ``load_param_into_net`` replaces the network's parameters, the next call follows the new weights
  (it equals a run on a fresh network holding them);
* 7: every attack runs on a network that has never been called (classes and shape come from the batch);
* 18: a network left in training mode (BatchNorm + Dropout) is attacked in inference mode, and its training
  flags and every parameter (BatchNorm's moving mean/variance included) are bit-identical afterwards.
"""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from armour_core import registry
from armour_core.testing.checks import check_untouched, network_state
from armour_core.testing.markers import requires_mindspore

pytestmark = requires_mindspore

#: small budgets so each attack runs in well under a second on a tiny network (fields absent from an
#: attack's config are skipped)
CHEAP = {"steps": 3, "restarts": 1, "binary_search_steps": 2, "chunk": 3, "search_steps": 2,
         "max_iterations": 5, "square_max_queries": 30, "max_queries": 120, "eot_samples": 1, "neighbours": 2,
         "candidates": 3, "target_classes": 2, "init_evals": 10, "max_evals": 20, "init_tries": 10,
         "max_iter": 2, "samples": 4, "population": 4, "particles": 4, "repetitions": 2, "init_queries": 20}
SHAPE = (1, 4, 4)
CLASSES = 5


#: minimum-norm attacks that would not move at all within the cheap budgets
STRONGER = {"cw": {"initial_const": 10.0, "learning_rate": 0.2}, "jsma": {"gamma": 0.5}}


def cheap_config(name: str) -> dict:
    fields = attrs.fields_dict(registry.get("attack", name).Config)
    return {**{k: v for k, v in CHEAP.items() if k in fields}, **STRONGER.get(name, {})}


def make_net(seed: int, *, train: bool = False):
    """A never-called classifier with BatchNorm and Dropout (their behaviour differs in training mode)."""
    import mindspore as ms
    from mindspore import nn

    ms.set_seed(seed)
    net = nn.SequentialCell([nn.Flatten(), nn.Dense(16, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(p=0.5),
                             nn.Dense(12, CLASSES)])
    rng = np.random.default_rng(seed)
    for p in net.get_parameters():  # moving statistics away from (0, 1): BatchNorm's modes visibly differ
        if "moving_variance" in p.name or "gamma" in p.name:
            p.set_data(ms.Tensor(rng.uniform(0.5, 2.0, p.shape).astype(np.float32)))
        else:  # weights large enough that predictions vary from sample to sample
            p.set_data(ms.Tensor(rng.normal(0.0, 0.7, p.shape).astype(np.float32)))
    net.set_train(train)
    return net


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 1.0, (6, *SHAPE)).astype(np.float32)
    y = rng.integers(0, CLASSES, 6)
    return x, y


@pytest.mark.parametrize("name", registry.names("attack"))
def test_attack_in_training_mode_follows_reloaded_weights(name, data):
    """One flow per attack: never-called network A in training mode, attacked (item 7, 18); B's weights
    loaded into A, attacked again (item 6, 18); the result equals B attacked fresh in eval mode."""
    import mindspore as ms

    x, y = data
    cfg = cheap_config(name)
    net = make_net(0, train=True)
    atk = registry.create("attack", name, model=net, **cfg)
    before = network_state(net)
    first = atk.generate(x, y)
    check_untouched(net, before)

    donor = make_net(1)
    ms.load_param_into_net(net, {p.name: ms.Parameter(p.data.copy(), name=p.name)
                                 for p in donor.get_parameters()})
    before = network_state(net)
    second = atk.generate(x, y)
    check_untouched(net, before)

    reference = registry.create("attack", name, model=make_net(1), **cfg).generate(x, y)
    np.testing.assert_allclose(second.adversarial, reference.adversarial, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(second.predictions, reference.predictions)
    # the check has power: the first weights gave other adversarial examples
    assert not np.allclose(first.adversarial, reference.adversarial, rtol=0, atol=1e-5), "weights A and B agree"


def test_one_compile_per_function_and_shape(data):
    """Repeated calls on one model and one batch shape compile nothing new, and a replaced parameter
    rebuilds the graphs once."""
    import mindspore as ms

    from armour_core.ms import MSModel

    x, y = data
    model = MSModel(make_net(0))
    for name in ("pgd", "deepfool", "cw"):
        registry.create("attack", name, model=model, **cheap_config(name)).generate(x, y)
    compiles, builds = model.graphs.compiles, model.graphs.builds
    model.network.set_train(True)  # the caller's mode changes nothing: graphs are built in eval mode, once
    for name in ("pgd", "deepfool", "cw"):
        registry.create("attack", name, model=model, **cheap_config(name)).generate(x, y)
    assert (model.graphs.compiles, model.graphs.builds) == (compiles, builds)
    assert model.network.training
    model.network.set_train(False)
    ms.load_param_into_net(model.network, {p.name: ms.Parameter(p.data.copy(), name=p.name)
                                           for p in make_net(1).get_parameters()})
    for name in ("pgd", "deepfool", "cw"):
        registry.create("attack", name, model=model, **cheap_config(name)).generate(x, y)
    assert model.graphs.builds == 2 * builds
    assert model.graphs.compiles == 2 * compiles
    # graphs live in the model's one cache, never as attributes that algorithms set on the model
    assert not [k for k in vars(model) if k.startswith("_armour")]


def test_class_scores_and_gradients_follow_reloaded_weights(data):
    """The per-class gradients behind DeepFool, FAB, JSMA and APGD-T read the weights loaded last (an attack
    can hide a stale gradient behind a result that happens to agree; this checks the gradients themselves)."""
    import mindspore as ms

    from armour_core.ms import MSModel
    from armour_plugins_attacks.minnorm.scores import class_scores_and_gradients

    x, _ = data
    classes = np.tile(np.arange(3), (len(x), 1))
    model = MSModel(make_net(0))
    before = class_scores_and_gradients(model, x, classes)
    ms.load_param_into_net(model.network, {p.name: ms.Parameter(p.data.copy(), name=p.name)
                                           for p in make_net(1).get_parameters()})
    after = class_scores_and_gradients(model, x, classes)
    fresh = class_scores_and_gradients(MSModel(make_net(1)), x, classes)
    for a, b, old in zip(after, fresh, before):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert not np.allclose(a, old, rtol=1e-5, atol=1e-6)
