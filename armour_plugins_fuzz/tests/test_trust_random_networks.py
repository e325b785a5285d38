"""Coverage criteria and mutators on randomly generated small networks (issue 9, "trust").

The networks (``armour_core.testing.strategies.random_classifiers``) mix convolutions, three norms, four
activations, pooling, a cell called twice in ``construct`` and a residual add, and are never called before.
Checked independently of armour's capture (forward hooks on the raw network count the neurons):

* every registered criterion's raw value (before the public clamp to [0, 1]) lies in [0, 1] and never
  decreases as batches are added;
* its neuron count is the sum, over every call of every leaf cell (a reused cell counts once per call), of
  that call's units (a convolutional channel is one neuron, DeepGauge's definition); the layers are exactly
  those calls (``name``, ``name#1``...);
* criteria leave the network's training flags and parameters bit-identical;
* every mutator keeps shape, dtype and bounds.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from armour_core import registry
from armour_plugins_fuzz.mutators.resolve import create_mutator, mutator_names
from armour_core.errors import InvalidInputError
from armour_core.testing.checks import check_untouched, network_state
from armour_core.testing.markers import requires_mindspore
from armour_core.testing.strategies import bounds, random_classifiers, seeds

pytestmark = requires_mindspore

#: items per neuron of the set criteria (KMNC: its ``k`` sections; NBC: two corners)
PER_NEURON = {"neuron": 1, "top_k": 1, "neuron_boundary": 2, "strong_neuron_activation": 1}
SURPRISE = ("lsa", "dsa")
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])


def neuron_outputs(net, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(call name, (N, units) neuron values) of every call of every leaf cell with neurons, in call order,
    from forward hooks on the raw network in inference mode (flags restored). A convolutional channel is one
    neuron, its spatial mean (DeepGauge's definition, ``docs/fuzz_mutators_coverage.md``)."""
    import mindspore as ms

    from armour_core.ms.activations import NOT_NEURONS

    calls, seen, handles = [], {}, []

    def hook_for(name):
        def hook(cell, inputs, output):
            i = seen.get(name, 0)
            seen[name] = i + 1
            a = output.asnumpy()
            calls.append((name if i == 0 else f"{name}#{i}", a.reshape(*a.shape[:2], -1).mean(axis=2)))
        return hook

    for name, cell in net.cells_and_names():
        if name and not cell.name_cells() and type(cell).__name__ not in NOT_NEURONS:
            handles.append(cell.register_forward_hook(hook_for(name)))
    mode = net.training
    net.set_train(False)
    try:
        net(ms.Tensor(x))
    finally:
        net.set_train(mode)
        for h in handles:
            h.remove()
    return calls


def all_low_variance(values: np.ndarray, classes: np.ndarray, threshold: float, per_class: bool) -> bool:
    """Whether surprise adequacy rightly refuses a layer: every neuron's training variance (overall, or within
    a class of two or more inputs) is below ``threshold``."""
    low = values.var(axis=0) < threshold
    for c in np.unique(classes) if per_class else ():
        if (classes == c).sum() >= 2:
            low |= values[classes == c].var(axis=0) < threshold
    return bool(low.all())


def batch(rng, n: int, shape, lo: float, hi: float) -> np.ndarray:
    return (lo + (hi - lo) * rng.uniform(0.0, 1.0, (n, *shape))).astype(np.float32)


@settings(max_examples=12, **SETTINGS)
@given(net=random_classifiers(residual=None), seed=seeds, train=st.booleans(), k=st.integers(1, 4))
def test_every_criterion_counts_every_call_and_only_grows(net, seed, train, k):
    from armour_core.api.coverage import clear_profile_cache
    from armour_core.ms import MSModel

    rng = np.random.default_rng(seed)
    x_train = batch(rng, 24, net.input_shape, 0.0, 1.0)
    y_train = np.arange(24) % net.num_classes  # surprise adequacy groups by class: every class present
    batches = [batch(rng, 4, net.input_shape, 0.0, 1.0) for _ in range(3)]
    traces = dict(neuron_outputs(net, x_train))
    names, units = list(traces), [v.shape[1] for v in traces.values()]
    net.set_train(train)
    model = MSModel(net, output="probabilities" if net.outputs_probabilities else "logits")
    before = network_state(net)
    clear_profile_cache()
    for name in registry.names("coverage"):
        config = {"k": k} if name in ("top_k", "top_k_pattern", "k_multisection") else {}
        cov = registry.create("coverage", name, model=model, **config)
        if cov.needs_profile:
            try:
                cov.fit(x_train, y_train)
            except InvalidInputError as e:  # surprise adequacy on dead neurons: must be justified
                assert name in SURPRISE and "variance below" in str(e), (name, e)
                (layer,) = cov.layers
                assert all_low_variance(traces[layer], y_train, cov.config.var_threshold,
                                        cov.config.class_conditional), (name, e)
                continue
        values = []
        for b in batches:
            cov.update(b)
            raw = cov._value()  # the public value clamps to [0, 1]; the criterion itself must not need it
            assert 0.0 <= raw <= 1.0, (name, raw)
            assert cov.value == raw
            values.append(raw)
        assert values == sorted(values), (name, values)
        # a chain of leaf calls is captured in one compiled pass; a residual add needs the hooks
        residual = any(b["kind"] == "residual" for b in net.spec["blocks"])
        assert model.activation_capture().mode == ("hooks" if residual else "compiled")
        if name in SURPRISE:
            continue
        assert cov.layers == names, name
        if name == "top_k_pattern":
            assert cov._capacity == float(math.prod(math.comb(u, min(k, u)) for u in units))
        else:
            assert list(cov.covered) == names, name
            per = k if name == "k_multisection" else PER_NEURON[name]
            assert cov.total_items == per * sum(units), name
    check_untouched(net, before)


@settings(max_examples=30, **SETTINGS)
@given(net=random_classifiers(), value_bounds=bounds(), seed=seeds, train=st.booleans(),
       name=st.sampled_from(mutator_names()))
def test_mutators_keep_shape_dtype_and_bounds(net, value_bounds, seed, train, name):
    """Every usable mutator, the fuzzing attacks (adversarial mutators) included when installed."""
    from armour_core.ms import MSModel

    lo, hi = value_bounds
    x = batch(np.random.default_rng(seed), 5, net.input_shape, lo, hi)
    net.set_train(train)
    model = MSModel(net, bounds=value_bounds, output="probabilities" if net.outputs_probabilities else "logits")
    before = network_state(net)
    mutator = create_mutator(name, model=model, bounds=value_bounds, seed=seed)
    out = mutator.mutate(x)
    check_untouched(net, before)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert np.all(out >= lo) and np.all(out <= hi)
