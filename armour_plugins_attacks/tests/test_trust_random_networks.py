"""Every registered attack on randomly generated small networks it was not designed for (issue 9, "trust").

The networks (``armour_core.testing.strategies.random_classifiers``) mix grouped / strided / non-square
convolutions, BatchNorm / LayerNorm / GroupNorm, four activations, pooling, a cell called twice, a residual
add and sometimes a Softmax output; they are never called before the attack sees them, and are sometimes
left in training mode. For each draw, checked independently of armour (the raw network is called directly):

* the adversarial batch has the input's shape and dtype, lies inside the bounds and the ε-ball of the
  attack's norm (float32 rounding allowed);
* ``res.success`` is what the raw network says about ``res.adversarial`` (rows whose top-two outputs tie
  within float32 noise are skipped: a minimum-norm attack lands on the boundary);
* ``res.norms`` are the measured norms; minimum-norm attacks report finite norms on their successes;
* the network's training flags and every parameter (BatchNorm buffers included) are bit-identical afterwards.
"""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from armour_core import registry
from armour_core.errors import InvalidInputError
from armour_core.testing.checks import check_untouched, network_state
from armour_core.testing.markers import requires_mindspore
from armour_core.testing.strategies import bounds, random_classifiers, seeds

pytestmark = requires_mindspore

#: budgets: steps <= 5, queries <= 50 (fields absent from an attack's config are skipped)
BUDGET = {"steps": 5, "restarts": 1, "binary_search_steps": 2, "chunk": 3, "search_steps": 2,
          "max_iterations": 5, "square_max_queries": 50, "max_queries": 50, "eot_samples": 1, "neighbours": 2,
          "candidates": 3, "target_classes": 2, "init_evals": 10, "max_evals": 20, "init_tries": 10,
          "max_iter": 2, "samples": 4, "population": 4, "particles": 4, "repetitions": 2, "init_queries": 20}
#: ε range per norm, as a fraction of the data range (L0: a coordinate count)
EPS = {"linf": (0.02, 0.3), "l2": (0.2, 2.0), "l1": (1.0, 10.0)}
MAX_ROWS = 5
#: examples per attack (the first is hypothesis' simplest draw); time-bounded for CI
EXAMPLES = 2
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])


def budget(name: str) -> dict:
    fields = attrs.fields_dict(registry.get("attack", name).Config)
    return {k: v for k, v in BUDGET.items() if k in fields}


@st.composite
def cases(draw, name: str | None = None):
    """(network, attack name, config, x, y, target, train) for one run (of attack ``name``, or a drawn one)."""
    name = name or draw(st.sampled_from(registry.names("attack")))
    cls = registry.get("attack", name)
    norm = draw(st.sampled_from(cls.norms))
    lo, hi = draw(bounds())
    config = {**budget(name), "norm": norm, "seed": draw(seeds)}
    if cls.minimum_norm and draw(st.booleans()):
        config["eps"] = None
    elif norm == "l0":
        config["eps"] = float(draw(st.integers(1, 12)))
    else:
        a, b = EPS[norm]
        config["eps"] = draw(st.floats(a, b)) * (hi - lo)
    net = draw(random_classifiers())
    rng = np.random.default_rng(draw(seeds))
    rows = draw(st.integers(1, MAX_ROWS))
    unit = rng.uniform(0.0, 1.0, (rows, *net.input_shape))
    if draw(st.booleans()):  # saturated images: every pixel on a bound, where projections must clip
        unit = np.round(unit)
    x = (lo + (hi - lo) * unit).astype(np.float32)
    y = rng.integers(0, net.num_classes, rows) if draw(st.booleans()) else None  # None: the model's labels
    target = None
    if cls.targeted and draw(st.booleans()):
        start = y if y is not None else rng.integers(0, net.num_classes, rows)
        target = (start + rng.integers(1, net.num_classes, rows)) % net.num_classes
    return net, name, config, (lo, hi), x, y, target, draw(st.booleans())


def raw_predictions(net, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's own labels in inference mode, called directly (not through armour; flags restored), and
    which rows are clear: their top two outputs differ by more than float32 noise between graph and PyNative."""
    import mindspore as ms

    mode = net.training
    net.set_train(False)
    try:
        out = net(ms.Tensor(x)).asnumpy().astype(np.float64)
    finally:
        net.set_train(mode)
    top = np.sort(out, axis=1)
    return out.argmax(1), top[:, -1] - top[:, -2] > 1e-4 * max(1.0, float(np.abs(out).max()))


def measured_norms(delta: np.ndarray, norm: str) -> np.ndarray:
    f = delta.reshape(len(delta), -1).astype(np.float64)
    return {"linf": lambda: np.abs(f).max(1), "l2": lambda: np.sqrt((f ** 2).sum(1)),
            "l1": lambda: np.abs(f).sum(1), "l0": lambda: (f != 0).sum(1).astype(np.float64)}[norm]()


def rounding(norm: str, scale: float, dims: int) -> float:
    """How far float32 rounding of the adversarial values can push a norm past ε."""
    ulp = float(np.spacing(np.float32(scale)))
    return {"linf": 2 * ulp, "l2": 2 * ulp * np.sqrt(dims), "l1": 2 * ulp * dims, "l0": 0.0}[norm]


@pytest.mark.parametrize("attack", registry.names("attack"))
def test_attack_results_hold_on_random_networks(attack):
    """Every registered attack, on two networks each run (hypothesis tries the simplest draw first, then a
    random one); for a longer exploration, raise ``EXAMPLES``."""
    settings(max_examples=EXAMPLES, **SETTINGS)(given(case=cases(attack))(check_attack))()


def check_attack(case):
    from armour_core.ms import MSModel

    net, name, config, (lo, hi), x, y, target, train = case
    net.set_train(train)
    model = MSModel(net, bounds=(lo, hi), output="probabilities" if net.outputs_probabilities else "logits")
    before = network_state(net)
    try:
        res = registry.create("attack", name, model=model, **config).generate(x, y, target=target)
    except InvalidInputError as e:
        # APGD's DLR loss divides by z_pi1 - z_pi3 (targeted: the mean of z_pi3 and z_pi4), so APGD-T and
        # AutoAttack refuse networks with fewer classes, as the reference implementation does
        assert "loss='dlr'" in str(e) and net.num_classes < 4, e
        check_untouched(net, before)
        return
    check_untouched(net, before)

    adv = np.asarray(res.adversarial)
    assert adv.shape == x.shape and adv.dtype == x.dtype
    assert np.all(adv >= lo) and np.all(adv <= hi)
    norms = measured_norms(adv.astype(np.float64) - x.astype(np.float64), config["norm"])
    np.testing.assert_allclose(res.norms, norms, rtol=1e-12, atol=0)
    if config["eps"] is not None:
        slack = rounding(config["norm"], max(abs(lo), abs(hi)), x[0].size)
        assert np.all(norms <= config["eps"] + slack), (norms, config["eps"])
    if registry.get("attack", name).minimum_norm:
        assert np.all(np.isfinite(res.norms[res.success]))

    pred, clear = raw_predictions(net, adv)
    if y is None:  # the attack's labels are the network's predictions on the clean batch
        y, clear_clean = raw_predictions(net, x)
        clear &= clear_clean
    expected = pred == target if target is not None else pred != y
    np.testing.assert_array_equal(res.success[clear], expected[clear])
    np.testing.assert_array_equal(res.predictions[clear], pred[clear])
