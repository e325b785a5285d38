"""Contract test classes: subclass one per plugin, set ``name`` and ``config``, and pytest runs the checks.

Example (in a plugin's tests)::

    from armour_core.testing import AttackContract

    class TestFGSM(AttackContract):
        name = "fgsm"
        config = {"eps": 0.1}
        generous = {"eps": 0.3}     # success on the undefended default model expected at this config

Fixtures come from the ``armour`` pytest plugin (``armour_digits``, ``armour_mlp``, ``armour_lenet``,
``armour_softmax``); override ``model_fixture`` to attack another model. Behaviour is drawn with
hypothesis (profile ``ci`` keeps it short).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .. import registry
from ..api.arrays import to_numpy
from ..errors import ConfigError, InvalidInputError
from ..specs import AttackSpec, CoverageSpec, MutatorSpec, PluginSpec
from . import strategies as S
from .checks import check

_HYP = settings(max_examples=4, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


def _config_class(spec: PluginSpec, impl: Any) -> type | None:
    if spec.config is None:
        return getattr(impl, "Config", None)
    return registry.import_target(spec.config) if isinstance(spec.config, str) else spec.config


class PluginContract:
    """Checks every kind shares: the record validates, its config has defaults and rejects unknown keys."""

    kind: ClassVar[str]
    name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}

    def spec(self) -> PluginSpec:
        return registry.spec(self.kind, self.name)

    def test_record(self):
        spec = self.spec()
        check(spec.kind == self.kind and spec.name == registry.spec(self.kind, spec.name).name)
        check(spec.dist, f"{self.name}: record has no distribution")
        check(spec.summary.strip(), f"{self.name}: record has no summary")
        impl = registry.get(self.kind, self.name)
        cfg = _config_class(spec, impl)
        if cfg is not None:
            check(attrs.has(cfg), f"{self.name}: config {cfg!r} is not an attrs class")
            check(attrs.fields(cfg) is not None)
            cfg()  # every hyperparameter has a default
            impl_cfg = getattr(impl, "Config", None)
            if impl_cfg is not None:
                check(issubclass(impl_cfg, cfg) or impl_cfg is cfg,
                      f"{self.name}: record config {cfg.__name__} differs from the class's {impl_cfg.__name__}")

    def test_unknown_config_key_rejected(self, request):
        """Subclasses define ``make(request, **overrides)`` building the plugin through the registry."""
        with pytest.raises(ConfigError):
            self.make(request, armour_not_a_key=1)
        check(True)


# ------------------------------------------------------------------------------------------ attacks
class AttackContract(PluginContract):
    """Attacks: shape/dtype kept, inside the ε-ball and bounds, reproducible, clear errors, success."""

    kind = "attack"
    model_fixture: ClassVar[str] = "armour_mlp"
    n_samples: ClassVar[int] = 12
    #: config at which the attack must succeed on the undefended model (None: not checked)
    generous: ClassVar[dict[str, Any] | None] = None
    min_success: ClassVar[float] = 0.6
    min_targeted_success: ClassVar[float] = 0.5
    #: whether to draw eps with hypothesis (attacks whose compiled graph bakes eps in may set False)
    vary_eps: ClassVar[bool] = True

    @pytest.fixture
    def model(self, request):
        return request.getfixturevalue(self.model_fixture)

    @pytest.fixture
    def data(self, model, armour_digits):
        """The first ``n_samples`` test points the model classifies correctly."""
        x, y = armour_digits.x_test, armour_digits.y_test
        if model.input_shape is not None and tuple(x.shape[1:]) != tuple(model.input_shape):
            x = x.reshape(len(x), *model.input_shape)
        ok = to_numpy(model.predict(x[:200])) == y[:200]
        return x[:200][ok][: self.n_samples], y[:200][ok][: self.n_samples]

    def make(self, request, **overrides):
        model = request.getfixturevalue("model")
        return registry.create("attack", self.name, model=model, **{**self.config, **overrides})

    def _check_result(self, atk, x, y, res):
        adv = to_numpy(res.adversarial)
        check(adv.shape == x.shape, f"shape changed: {x.shape} -> {adv.shape}")
        check(adv.dtype == x.dtype, f"dtype changed: {x.dtype} -> {adv.dtype}")
        lo, hi = atk.bounds
        check(adv.min() >= lo and adv.max() <= hi, f"outside bounds {atk.bounds}: [{adv.min()}, {adv.max()}]")
        eps = atk.config.eps
        if eps is not None:
            from ..api.norms import lp_norm

            norms = lp_norm(adv.astype(np.float64) - x.astype(np.float64), atk.config.norm)
            check(np.all(norms <= eps * (1 + 1e-6) + 1e-7), f"outside the {atk.config.norm} ball of {eps}: "
                                                           f"max {norms.max()}")
        check(res.success.shape == (len(x),) and res.success.dtype == bool)
        check(res.norms.shape == (len(x),))
        check(np.array_equal(res.predictions, to_numpy(atk.model.predict(adv))))

    def test_record_facet(self):
        spec = self.spec()
        impl = registry.get("attack", self.name)
        check(isinstance(spec.facet, AttackSpec), f"{self.name}: facet must be an AttackSpec")
        check(set(impl.norms) == set(spec.facet.norms),
              f"{self.name}: class norms {impl.norms} differ from record norms {spec.facet.norms}")
        check(bool(impl.targeted) == bool(spec.facet.targeted), f"{self.name}: targeted flag differs")
        if spec.facet.threat_model == "white_box":
            check("gradients" in spec.capabilities, f"{self.name}: white-box attacks declare 'gradients'")

    def test_ball_bounds_shape_dtype(self, request, data):
        x, y = data
        norm = self.config.get("norm", registry.get("attack", self.name).norms[0])

        @_HYP
        @given(idx=S.subsets(len(x)), eps=S.epsilons(norm) if self.vary_eps else st.just(None))
        def run(idx, eps):
            over = {} if eps is None else {"eps": eps}
            atk = self.make(request, **over)
            res = atk.generate(x[idx], y[idx])
            self._check_result(atk, x[idx], y[idx], res)

        run()

    def test_reproducible_under_seed(self, request, data):
        x, y = data
        a = self.make(request, seed=7).generate(x, y)
        b = self.make(request, seed=7).generate(x, y)
        check(np.allclose(to_numpy(a.adversarial), to_numpy(b.adversarial), atol=1e-5),
              "two runs with the same seed differ")

    def test_tensor_in_tensor_out(self, request, data):
        ms = pytest.importorskip("mindspore")
        x, y = data
        res = self.make(request).generate(ms.Tensor(x[:3]), ms.Tensor(y[:3]))
        check(isinstance(res.adversarial, ms.Tensor), "a Tensor input must give a Tensor back")

    def test_bad_inputs(self, request, data):
        x, y = data
        atk = self.make(request)
        bad_nan = x.copy()
        bad_nan[0].flat[0] = np.nan
        cases = [dict(x=bad_nan, y=y), dict(x=x[0], y=y[:1]), dict(x=x, y=y + 1000),
                 dict(x=x + 5.0 * (atk.bounds[1] - atk.bounds[0]), y=y), dict(x=x, y=y[:-1] if len(y) > 1 else y[:0])]
        for case in cases:
            with pytest.raises(InvalidInputError):
                atk.generate(case["x"], case["y"])
            check(True)
        if "eps" in {f.name for f in attrs.fields(atk.Config)}:
            with pytest.raises(ConfigError):
                self.make(request, eps=-0.1)
            check(True)

    def test_success_at_generous_config(self, request, data):
        if self.generous is None:
            pytest.skip("no generous config declared for this attack")
        x, y = data
        res = self.make(request, **self.generous).generate(x, y)
        check(res.success_rate >= self.min_success,
              f"success {res.success_rate:.2f} < {self.min_success} at {self.generous}")

    def test_targeted_hits_target(self, request, data):
        impl = registry.get("attack", self.name)
        if not impl.targeted or self.generous is None:
            pytest.skip("untargeted attack or no generous config")
        x, y = data
        target = (y + 1) % request.getfixturevalue("model").num_classes
        res = self.make(request, **self.generous).generate(x, y, target=target)
        check(np.mean(res.predictions == target) >= self.min_targeted_success,
              f"hit the target on {np.mean(res.predictions == target):.2f} of samples")


# ------------------------------------------------------------------------------------------ mutators
class MutatorContract(PluginContract):
    """Mutators: shape, dtype and bounds kept for any data range; deterministic under a seed."""

    kind = "mutator"
    image_only: ClassVar[bool] = True

    def make(self, request, **overrides):
        overrides.setdefault("bounds", (0.0, 1.0))
        return registry.create("mutator", self.name, **{**self.config, **overrides})

    def test_record_facet(self):
        spec = self.spec()
        impl = registry.get("mutator", self.name)
        check(isinstance(spec.facet, MutatorSpec), f"{self.name}: facet must be a MutatorSpec")
        check(impl.category == spec.facet.category, f"{self.name}: category differs between class and record")

    def test_shape_dtype_bounds(self, request):
        @_HYP
        @given(batch=S.image_batches(), seed=S.seeds)
        def run(batch, seed):
            x, b = batch
            m = self.make(request, bounds=b, seed=seed % 1000)
            out = to_numpy(m.mutate(x))
            check(out.shape == x.shape and out.dtype == x.dtype)
            check(out.min() >= b[0] and out.max() <= b[1], f"outside {b}: [{out.min()}, {out.max()}]")

        run()

    def test_deterministic_under_seed(self, request):
        x = np.random.default_rng(0).uniform(0, 1, (6, 1, 8, 8)).astype(np.float32)
        a = to_numpy(self.make(request, seed=3).mutate(x))
        b = to_numpy(self.make(request, seed=3).mutate(x))
        check(np.array_equal(a, b), "same seed, different mutants")

    def test_params_within_ranges(self, request):
        m = self.make(request)
        params = m.sample_params(64, np.random.default_rng(0))
        for name in m.ranges:
            lo, hi = getattr(m.config, name)
            check(np.all(params[name] >= lo) and np.all(params[name] <= hi), f"{name} outside {lo, hi}")

    def test_rejects_bad_input(self, request):
        m = self.make(request)
        with pytest.raises(InvalidInputError):
            m.mutate(np.full((2, 1, 8, 8), 2.0, np.float32))
        check(True)


# ------------------------------------------------------------------------------------------ coverage
class CoverageContract(PluginContract):
    """Coverage: value in [0, 1], never decreasing as inputs are added; ``gain`` does not change state."""

    kind = "coverage"
    model_fixture: ClassVar[str] = "armour_lenet"

    def make(self, request, **overrides):
        model = request.getfixturevalue(self.model_fixture)
        cov = registry.create("coverage", self.name, model=model, **{**self.config, **overrides})
        if cov.needs_profile:
            cov.fit(request.getfixturevalue("armour_digits").x_train[:300])
        return cov

    def test_record_facet(self):
        spec = self.spec()
        impl = registry.get("coverage", self.name)
        check(isinstance(spec.facet, CoverageSpec))
        check(bool(impl.needs_profile) == bool(spec.facet.needs_profile), "needs_profile differs")

    def test_monotone_in_unit_interval(self, request, armour_digits):
        x = armour_digits.x_test[:64]

        @_HYP
        @given(cuts=st.lists(st.integers(1, 63), min_size=1, max_size=4, unique=True).map(sorted))
        def run(cuts):
            cov = self.make(request)
            prev = cov.value
            check(prev == 0.0)
            for part in np.split(x, cuts):
                if len(part) == 0:
                    continue
                g = cov.gain(part)
                check(cov.value == prev, "gain() changed the state")
                cov.update(part)
                check(0.0 <= cov.value <= 1.0)
                check(cov.value >= prev - 1e-12, f"coverage decreased {prev} -> {cov.value}")
                check(abs((cov.value - prev) - g) < 1e-9, "gain() disagrees with update()")
                prev = cov.value

        run()


# ------------------------------------------------------------------------------------------ noise
class NoiseContract(PluginContract):
    """Noise: zero mean and the declared standard deviation, within bounds derived from theory."""

    kind = "noise"
    n: ClassVar[int] = 200_000

    def make(self, request, **overrides):
        return registry.create("noise", self.name, **{**self.config, **overrides})

    def test_statistics(self, request):
        mech = self.make(request)
        for step in (0, 10):
            s = mech.sample((self.n,), step=step).astype(np.float64)
            sd = mech.stddev(step)
            # mean ~ N(0, sd²/n); sample sd has relative std ≈ 1/sqrt(2n): 6-sigma bounds (false alarm < 1e-8)
            check(abs(s.mean()) < 6 * sd / np.sqrt(self.n), f"mean {s.mean()} vs sd {sd}")
            check(abs(s.std() / sd - 1) < 6 / np.sqrt(2 * self.n), f"std {s.std()} vs declared {sd}")

    def test_reproducible(self, request):
        a = self.make(request, seed=1).sample((100,))
        b = self.make(request, seed=1).sample((100,))
        check(np.array_equal(a, b))

    def test_invalid_multiplier(self, request):
        with pytest.raises(ConfigError):
            self.make(request, noise_multiplier=0.0)
        check(True)


# ------------------------------------------------------------------------------------------ detectors
class DetectorContract(PluginContract):
    """Detectors: ``detect`` agrees with ``score > threshold``; the FPR on the fitting data respects ``fpr``."""

    kind = "detector"
    model_fixture: ClassVar[str] = "armour_mlp"
    n_fit: ClassVar[int] = 200

    def make(self, request, **overrides):
        model = request.getfixturevalue(self.model_fixture)
        return registry.create("detector", self.name, model=model, **{**self.config, **overrides})

    def test_threshold_semantics(self, request, armour_digits):
        x, y = armour_digits.x_train[: self.n_fit], armour_digits.y_train[: self.n_fit]
        det = self.make(request).fit(x, y)
        s = det.score(x)
        check(s.shape == (len(x),) and np.all(np.isfinite(s)))
        check(np.array_equal(det.detect(x), s > det.threshold))
        check(np.mean(s > det.threshold) <= det.config.fpr + 1e-12, "clean FPR above the target")


# ------------------------------------------------------------------------------------------ suppressors
class SuppressorContract(PluginContract):
    """Suppressor masks have the declared sparsity and the weights' shapes."""

    kind = "suppressor"

    def make(self, request, **overrides):
        return registry.create("suppressor", self.name, **{**self.config, **overrides})

    def test_sparsity(self, request):
        rng = np.random.default_rng(0)
        weights = {"fc1.weight": rng.normal(size=(16, 8)), "conv.weight": rng.normal(size=(4, 2, 3, 3))}

        @_HYP
        @given(s=S.sparsities)
        def run(s):
            masks = self.make(request).masks(weights, s)
            for k, w in weights.items():
                check(masks[k].shape == w.shape and masks[k].dtype == bool)
                check((~masks[k]).sum() == int(round(s * w.size)), f"{k}: wrong number suppressed at {s}")

        run()


# ------------------------------------------------------------------------------------------ accountants
class AccountantContract(PluginContract):
    """Accountants: ε grows with steps and shrinks with σ; bad δ is rejected."""

    kind = "accountant"

    def make(self, request, **overrides):
        return registry.create("accountant", self.name, **{**self.config, **overrides})

    def test_monotone(self, request):
        eps = []
        for steps in (10, 100):
            eps.append(self.make(request).step(noise_multiplier=1.0, sampling_rate=0.01, steps=steps).epsilon(1e-5))
        check(eps[0] < eps[1], f"epsilon not increasing in steps: {eps}")
        lo = self.make(request).step(noise_multiplier=2.0, sampling_rate=0.01, steps=100).epsilon(1e-5)
        check(lo < eps[1], "epsilon not decreasing in the noise multiplier")
        check(self.make(request).epsilon(1e-5) == 0.0)
        with pytest.raises(InvalidInputError):
            self.make(request).step(noise_multiplier=1.0, sampling_rate=0.01).epsilon(1.5)
        check(True)


# ------------------------------------------------------------------------------------------ distributions
class DistributionContract:
    """A plugin distribution: records valid and unique, listing stays import-light."""

    dist: ClassVar[str]

    def records(self) -> list[PluginSpec]:
        return [s for s in registry.specs() if s.dist == self.dist]

    def test_has_records(self):
        check(self.records(), f"{self.dist} registered no records")

    def test_names_unique_and_configs_default(self):
        seen = set()
        for spec in self.records():
            for n in spec.names:
                check((spec.kind, n) not in seen, f"duplicate {spec.kind} {n}")
                seen.add((spec.kind, n))
            if isinstance(spec.config, str):
                cfg = registry.import_target(spec.config)
                check(attrs.has(cfg), f"{spec.name}: config is not an attrs class")
                cfg()

    def test_listing_is_import_light(self):
        check(listing_imports() == [], "listing plugins imported heavy modules")

    def test_first_party_kinds_and_sibling_hints(self, monkeypatch):
        """A first-party distribution registers only its own kinds, and asking for a sibling distribution's
        kind names the ``pip install`` that adds it (installed or not: the check simulates its absence)."""
        from ..registry import FIRST_PARTY

        if self.dist not in FIRST_PARTY:
            pytest.skip("not a first-party distribution")
        kinds = {s.kind for s in self.records()}
        check(kinds and kinds <= set(FIRST_PARTY[self.dist]), f"{self.dist} registers kinds {sorted(kinds)}")
        from ..errors import UnknownPluginError

        for other, other_kinds in FIRST_PARTY.items():
            if other == self.dist:
                continue
            monkeypatch.setattr("armour_core.registry._dist_installed", lambda name, o=other: name != o)
            with pytest.raises(UnknownPluginError) as exc:
                registry.get(other_kinds[0], "armour_surely_not_a_plugin")
            check(f"pip install {other}" in str(exc.value), str(exc.value))

    def test_configs_take_numpy_numbers_and_refuse_strings(self):
        """Every config of the distribution: numpy scalars accepted, string numbers refused naming the field,
        eps finite wherever defined, an unknown norm answered with the valid ones, one-line errors."""
        from .config_checks import check_config_types, registered_configs

        for _, name, cls in registered_configs(self.dist):
            check_config_types(cls, name)  # counted checks (the kit's ``check``)


HEAVY = ("mindspore", "mindarmour", "torch", "tensorflow", "sklearn", "scipy", "matplotlib", "dp_accounting")


def listing_imports(heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Heavy modules imported by listing every plugin (run in a fresh interpreter)."""
    code = ("import sys\nfrom armour_core import registry\n"
            "[registry.names(k) for k in registry.kinds()]\n[s.summary for s in registry.specs()]\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]
