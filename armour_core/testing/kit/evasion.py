"""Checks for attacks, defenses and detectors (the ``armour_plugins_attacks`` kinds).

Case options read here — attack: ``model`` (fixture name, default ``armour_mlp``), ``n_samples`` (12),
``generous`` (a config at which the attack must succeed on the undefended model; None: not checked),
``min_success`` (0.6), ``min_targeted_success`` (0.5), ``vary_eps`` (draw eps with hypothesis; True).
defense: ``n_train`` (64), ``kwargs`` (``(request) -> dict`` of extra constructor arguments, e.g. the static
models of ensemble adversarial training). detector: ``model`` (``armour_mlp``), ``n_fit`` (200).
"""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ... import registry
from ...api.arrays import to_numpy
from ...api.norms import NORMS, lp_norm
from ...errors import ConfigError, InvalidInputError
from ...specs import AttackSpec, DetectorSpec
from .. import strategies as S
from ..checks import network_state
from .records import BUILDERS, cached, create, spec_of

HYP = settings(max_examples=4, deadline=None, derandomize=True, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large])


def model_of(case, request, default: str = "armour_mlp"):
    return request.getfixturevalue(case.option("model", default))


def correct_points(model, request, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` digits test points ``model`` classifies correctly (shaped to its input)."""
    d = request.getfixturevalue("armour_digits")
    x, y = d.x_test[:200], d.y_test[:200]
    if model.input_shape is not None and tuple(x.shape[1:]) != tuple(model.input_shape):
        x = x.reshape(len(x), *model.input_shape)
    ok = to_numpy(model.predict(x)) == y
    return x[ok][:n], y[ok][:n]


def _raises_naming(exc_type, argument: str, fn, *args, **kwargs) -> None:
    with pytest.raises(exc_type) as exc:
        fn(*args, **kwargs)
    assert argument in str(exc.value), f"the error does not name {argument!r}: {exc.value}"


# ------------------------------------------------------------------------------------------ attacks
BUILDERS["attack"] = lambda case, request: {"model": model_of(case, request)}


def _attack_data(case, request):
    return correct_points(model_of(case, request), request, case.option("n_samples", 12))


def _attack_run(case, request):
    """One run at the case's config, with the model's counters and network state around it (shared)."""

    def build():
        x, y = _attack_data(case, request)
        atk = create(case, request)
        network = getattr(atk.model, "network", None)
        state = network_state(network) if network is not None else None
        before = atk.model.counters()
        res = atk.generate(x, y)
        after = atk.model.counters()
        return atk, x, y, res, before, after, state

    return cached(request, case, "attack-run", build)


def check_attack_facet(case, request) -> None:
    """The record's AttackSpec agrees with the class: norms, targeting, and white-box attacks declare
    ``gradients`` while black-box ones need none."""
    spec = spec_of(case)
    impl = registry.get("attack", case.name)
    assert isinstance(spec.facet, AttackSpec), f"{case.name}: the facet must be an AttackSpec"
    assert set(impl.norms) == set(spec.facet.norms), \
        f"{case.name}: class norms {impl.norms} differ from the record's {spec.facet.norms}"
    assert bool(impl.targeted) == bool(spec.facet.targeted), f"{case.name}: targeted flag differs"
    white = spec.facet.threat_model == "white_box"
    assert ("gradients" in spec.capabilities) == white == bool(impl.needs_gradients), \
        f"{case.name}: threat model {spec.facet.threat_model}, capabilities {sorted(spec.capabilities)}, " \
        f"needs_gradients={impl.needs_gradients}"


def check_stays_in_eps_ball(case, request) -> None:
    """For drawn subsets of the batch and drawn eps: the result keeps shape and dtype and lies inside the
    ε-ball (when eps bounds it) and the model's bounds."""
    x, y = _attack_data(case, request)
    norm = case.config.get("norm", registry.get("attack", case.name).norms[0])

    @HYP
    @given(idx=S.subsets(len(x)), eps=S.epsilons(norm) if case.option("vary_eps", True) else st.just(None))
    def run(idx, eps):
        atk = create(case, request, **({} if eps is None else {"eps": eps}))
        xs = x[idx]
        adv = to_numpy(atk.generate(xs, y[idx]).adversarial)
        assert adv.shape == xs.shape and adv.dtype == xs.dtype, f"{xs.shape} {xs.dtype} -> {adv.shape} {adv.dtype}"
        lo, hi = atk.bounds
        assert adv.min() >= lo and adv.max() <= hi, f"outside bounds {atk.bounds}: [{adv.min()}, {adv.max()}]"
        if atk.config.eps is not None:
            norms = lp_norm(adv.astype(np.float64) - xs.astype(np.float64), atk.config.norm)
            assert np.all(norms <= atk.config.eps * (1 + 1e-6) + 1e-7), \
                f"outside the {atk.config.norm} ball of {atk.config.eps}: max {norms.max()}"

    run()


def check_result_record(case, request) -> None:
    """``success`` is "prediction changed" (or "hit the target"), ``predictions`` are the model's labels on the
    result and ``norms`` its distances from the input; a numpy input gives numpy back."""
    atk, x, y, res, *_ = _attack_run(case, request)
    adv = res.adversarial
    assert isinstance(adv, np.ndarray), f"numpy in, {type(adv).__name__} out"
    assert res.success.shape == (len(x),) and res.success.dtype == bool
    assert np.array_equal(res.predictions, to_numpy(atk.model.predict(adv)))
    assert np.array_equal(res.success, res.predictions != y)
    assert np.allclose(res.norms, lp_norm(adv.astype(np.float64) - x, atk.config.norm), rtol=1e-5, atol=1e-6)


def check_counts_passes(case, request) -> None:
    """The result reports the passes the attack made — backward passes exactly when it uses gradients — and
    the model's counters grew by exactly that (the success check is not the attack's cost)."""
    atk, x, _, res, before, after, _ = _attack_run(case, request)
    counted = (res.forward_calls, res.backward_calls, res.queries)
    assert tuple(a - b for a, b in zip(after, before)) == counted, \
        f"the model counted {tuple(a - b for a, b in zip(after, before))}, the result says {counted}"
    assert res.queries >= 1 and res.forward_calls + res.backward_calls >= 1, f"no pass counted: {counted}"
    if not atk.needs_gradients:
        assert res.backward_calls == 0, f"a black-box attack made {res.backward_calls} backward passes"
    budget = getattr(atk.config, "max_queries", None)
    if budget is not None:
        assert res.queries <= budget * len(x), f"{res.queries} queries for {len(x)} samples, budget {budget}"


def check_leaves_model_untouched(case, request) -> None:
    """The user's network keeps its parameters and training flags bit for bit."""
    atk, *_, state = _attack_run(case, request)
    if state is None:
        pytest.skip(f"{type(atk.model).__name__} wraps no network")
    params, flags = network_state(atk.model.network)
    assert flags == state[1], "training flags changed"
    for (name, a), (_, b) in zip(state[0], params):
        assert np.array_equal(a, b), f"parameter {name} changed"


def check_seed_reproduces(case, request) -> None:
    """A second run with the same seed gives the same adversarial batch."""
    atk, x, y, res, *_ = _attack_run(case, request)
    if atk.config.seed is None:
        pytest.skip("the case draws fresh entropy (seed=None)")
    again = create(case, request, seed=atk.config.seed).generate(x, y)
    assert np.allclose(res.adversarial, to_numpy(again.adversarial), atol=1e-5), "same seed, other result"


def check_same_array_type_back(case, request) -> None:
    """A MindSpore Tensor in gives a Tensor out."""
    ms = pytest.importorskip("mindspore")
    x, y = _attack_data(case, request)
    res = create(case, request).generate(ms.Tensor(x[:3]), ms.Tensor(y[:3]))
    assert isinstance(res.adversarial, ms.Tensor), f"Tensor in, {type(res.adversarial).__name__} out"


def check_rejects_bad_inputs(case, request) -> None:
    """NaN, a missing batch axis, labels out of range or miscounted, inputs outside the bounds: each an
    InvalidInputError naming the argument."""
    x, y = _attack_data(case, request)
    atk = create(case, request)
    nan = x.copy()
    nan[0].flat[0] = np.nan
    span = atk.bounds[1] - atk.bounds[0]
    for bad_x, bad_y, arg in ((nan, y, "x"), (x[0], y[:1], "x"), (x + 5.0 * span, y, "x"),
                              (x, y + 1000, "y"), (x, y[:-1], "y")):
        _raises_naming(InvalidInputError, arg, atk.generate, bad_x, bad_y)
    if not atk.targeted:
        _raises_naming(ConfigError, "target", atk.generate, x, y, target=y)


def check_rejects_bad_config(case, request) -> None:
    """A negative eps and an unsupported norm are ConfigErrors naming the field."""
    impl = registry.get("attack", case.name)
    fields = attrs.fields_dict(impl.Config)
    if "eps" in fields and not isinstance(fields["eps"].default, tuple):
        _raises_naming(ConfigError, "eps", create, case, request, eps=-0.1)
    other = [n for n in NORMS if n not in impl.norms] or ["l7"]
    _raises_naming(ConfigError, "norm", create, case, request, norm=other[0])


def check_succeeds_at_generous_config(case, request) -> None:
    """At the case's ``generous`` config the attack fools the undefended model on most points."""
    generous = case.option("generous")
    if generous is None:
        pytest.skip("the case declares no generous config")
    x, y = _attack_data(case, request)
    res = create(case, request, **generous).generate(x, y)
    need = case.option("min_success", 0.6)
    assert res.success_rate >= need, f"success {res.success_rate:.2f} < {need} at {generous}"


def check_targeted_hits_target(case, request) -> None:
    """A targeted attack at the generous config makes the model predict the target on most points."""
    if not registry.get("attack", case.name).targeted:
        pytest.skip("untargeted attack")
    generous = case.option("generous")
    if generous is None:
        pytest.skip("the case declares no generous config")
    x, y = _attack_data(case, request)
    atk = create(case, request, **generous)
    target = (y + 1) % atk.model.num_classes
    res = atk.generate(x, y, target=target)
    need = case.option("min_targeted_success", 0.5)
    hit = float(np.mean(res.predictions == target))
    assert hit >= need, f"hit the target on {hit:.2f} of samples (< {need})"
    assert np.array_equal(res.success, res.predictions == target)


# ------------------------------------------------------------------------------------------ defenses
def _defense_kwargs(case, request) -> dict:
    from ...ms import pretrained as pt

    data = request.getfixturevalue("armour_digits")
    extra = case.option("kwargs")
    return {"network": pt.build("mlp", data, seed=0), **(extra(request) if extra else {})}


BUILDERS["defense"] = _defense_kwargs


def _defense_data(case, request):
    d = request.getfixturevalue("armour_digits")
    n = case.option("n_train", 64)
    x, y = d.x_train[:n], d.y_train[:n]
    x_adv = np.clip(x + np.random.default_rng(0).uniform(-0.1, 0.1, x.shape), 0, 1).astype(x.dtype)
    return x, y, x_adv


def _fit(case, request, defense, **kwargs):
    x, y, x_adv = _defense_data(case, request)
    given = {"x_adv": x_adv} if defense.uses_precomputed else {}
    return defense.fit(x, y, **given, **kwargs)


def _trained(case, request):
    """One defense fitted with validation data: (defense, parameters before, history), shared."""

    def build():
        d = request.getfixturevalue("armour_digits")
        defense = create(case, request)
        before = [p.asnumpy().copy() for p in defense.model.network.get_parameters()]
        return defense, before, _fit(case, request, defense, x_val=d.x_test[:32], y_val=d.y_test[:32])

    return cached(request, case, "trained", build)


def check_trains_in_place(case, request) -> None:
    """``fit`` trains the given network's parameters and returns one finite record per epoch, with clean (and
    robust, when evaluated) accuracy in [0, 1]."""
    pytest.importorskip("mindspore")
    defense, before, history = _trained(case, request)
    assert len(history) == defense.config.epochs, f"{len(history)} records for {defense.config.epochs} epochs"
    for rec in history:
        assert np.isfinite(rec.loss), rec
        assert 0.0 <= rec.clean_accuracy <= 1.0, rec
        assert rec.robust_accuracy is None or 0.0 <= rec.robust_accuracy <= rec.clean_accuracy, rec
    after = [p.asnumpy() for p in defense.model.network.get_parameters()]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after)), "no parameter changed"


def check_seed_reproduces_training(case, request) -> None:
    """Two defenses with the same seed, from the same initial network, train to the same parameters."""
    pytest.importorskip("mindspore")
    first, _, _ = _trained(case, request)
    if first.config.seed is None:
        pytest.skip("the case draws fresh entropy (seed=None)")
    d = request.getfixturevalue("armour_digits")
    again = create(case, request, seed=first.config.seed)
    _fit(case, request, again, x_val=d.x_test[:32], y_val=d.y_test[:32])
    for p, q in zip(first.model.network.get_parameters(), again.model.network.get_parameters()):
        assert np.allclose(p.asnumpy(), q.asnumpy(), atol=1e-6), f"same seed, other {p.name}"


def check_defense_rejects_bad_inputs(case, request) -> None:
    """NaN inputs, labels out of range, and ``x_adv`` given to a defense that makes its own (or missing from
    one that trains on given examples) are InvalidInputErrors naming the argument."""
    pytest.importorskip("mindspore")
    x, y, x_adv = _defense_data(case, request)
    defense = create(case, request)
    given = {"x_adv": x_adv} if defense.uses_precomputed else {}
    nan = x.copy()
    nan[0].flat[0] = np.nan
    _raises_naming(InvalidInputError, "x", defense.train_batch, nan, y, **given)
    _raises_naming(InvalidInputError, "y", defense.train_batch, x, y + 1000, **given)
    wrong = {} if defense.uses_precomputed else {"x_adv": x_adv}
    _raises_naming(InvalidInputError, "x_adv", defense.train_batch, x, y, **wrong)


def check_replace_ratio_validated(case, request) -> None:
    """``replace_ratio`` takes 0 (plain training) to 1 (pure adversarial training) and nothing outside."""
    if "replace_ratio" not in attrs.fields_dict(registry.get("defense", case.name).Config):
        pytest.skip("no replace_ratio")
    for ok in (0.0, 1.0):
        assert create(case, request, replace_ratio=ok).config.replace_ratio == ok
    for bad in (-0.1, 1.5):
        _raises_naming(ConfigError, "replace_ratio", create, case, request, replace_ratio=bad)


# ------------------------------------------------------------------------------------------ detectors
BUILDERS["detector"] = lambda case, request: {"model": model_of(case, request)}


def _fit_data(case, request):
    d = request.getfixturevalue("armour_digits")
    n = case.option("n_fit", 200)
    return d.x_train[:n], d.y_train[:n]


def _stateful(case) -> bool:
    return bool(getattr(spec_of(case).facet, "stateful", False))


def _fitted(case, request):
    """A detector fitted on the first ``n_fit`` training digits (shared unless it keeps a query history)."""

    def build():
        x, y = _fit_data(case, request)
        return create(case, request).fit(x, y)

    return build() if _stateful(case) else cached(request, case, "fitted", build)


def check_detector_facet(case, request) -> None:
    """The record's DetectorSpec agrees with the class (``needs_training``); a stateful one can ``reset``."""
    spec = spec_of(case)
    impl = registry.get("detector", case.name)
    assert isinstance(spec.facet, DetectorSpec), f"{case.name}: the facet must be a DetectorSpec"
    assert bool(spec.facet.needs_training) == bool(impl.needs_training), "needs_training differs"
    if spec.facet.stateful:
        assert callable(getattr(impl, "reset", None)), "a stateful detector needs reset()"


def check_threshold_semantics(case, request) -> None:
    """``score`` is one finite float per input and ``detect`` is exactly ``score > threshold`` (a stateful
    detector is reset in between, so both see the same history)."""
    x, _ = _fit_data(case, request)
    det = _fitted(case, request)
    s = det.score(x)
    assert s.shape == (len(x),) and np.all(np.isfinite(s)), f"scores of shape {s.shape}"
    if _stateful(case):
        det.reset()
    assert np.array_equal(det.detect(x), s > det.threshold)


def check_clean_fpr_respected(case, request) -> None:
    """On the clean data it was fitted on, the detector flags at most ``fpr`` of the inputs."""
    x, _ = _fit_data(case, request)
    det = _fitted(case, request)
    rate = float(np.mean(det.score(x) > det.threshold))
    assert rate <= det.config.fpr + 1e-12, f"clean FPR {rate} above the target {det.config.fpr}"


def check_requires_fit(case, request) -> None:
    """Scoring before ``fit`` is an InvalidInputError that says to call fit."""
    x, _ = _fit_data(case, request)
    _raises_naming(InvalidInputError, "fit", create(case, request).score, x[:4])


def check_transform_in_bounds(case, request) -> None:
    """A reformer's output keeps the shape and stays within the bounds."""
    det = _fitted(case, request)
    if not det.has_transform:
        pytest.skip("no transform (not a reformer)")
    x, _ = _fit_data(case, request)
    out = to_numpy(det.transform(x[:16]))
    assert out.shape == x[:16].shape
    assert out.min() >= det.bounds[0] and out.max() <= det.bounds[1]


def check_detector_rejects_bad_inputs(case, request) -> None:
    """NaN inputs and inputs outside the bounds are InvalidInputErrors naming ``x``."""
    x, _ = _fit_data(case, request)
    det = _fitted(case, request)
    nan = x[:4].copy()
    nan[0].flat[0] = np.nan
    _raises_naming(InvalidInputError, "x", det.score, nan)
    _raises_naming(InvalidInputError, "x", det.score, x[:4] + 5.0)


CHECKS = {
    "attack": [check_attack_facet, check_stays_in_eps_ball, check_result_record, check_counts_passes,
               check_leaves_model_untouched, check_seed_reproduces, check_same_array_type_back,
               check_rejects_bad_inputs, check_rejects_bad_config, check_succeeds_at_generous_config,
               check_targeted_hits_target],
    "defense": [check_trains_in_place, check_seed_reproduces_training, check_defense_rejects_bad_inputs,
                check_replace_ratio_validated],
    "detector": [check_detector_facet, check_threshold_semantics, check_clean_fpr_respected, check_requires_fit,
                 check_transform_in_bounds, check_detector_rejects_bad_inputs],
}
