"""The fuzz distribution with the attacks distribution: adversarial mutators adapt attacks whose record says
``AttackSpec(fuzzing=True)``.

These tests need two distributions, so they live here (the ``tests`` session installs everything); in
``armour_plugins_fuzz/tests`` they skipped in every session, since the ``fuzz`` session installs fuzz alone.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings

from armour_core import registry
from armour_core.api.arrays import to_numpy
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.testing import case, parametrize_with_checks
from armour_core.testing import strategies as S
from armour_core.testing.markers import requires_mindspore, skip_module_unless_dists

skip_module_unless_dists("attacks", "fuzz")  # one module-level skip, before the distributions are imported

from armour_plugins_fuzz.fuzzer import Fuzzer  # noqa: E402  (after the guard: absent in other sessions)
from armour_plugins_fuzz.mutators.resolve import (adversarial_attack_names, create_mutator,  # noqa: E402
                                                  mutator_category, mutator_names)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


ADVERSARIAL = case("mutator", "adversarial", {"attack": "fgsm", "levels": 2, "eps": (0.05, 0.1)},
                   model="armour_mlp")


@parametrize_with_checks("mutator", [ADVERSARIAL])
def test_adversarial_mutator_kit(plugin, check, request):
    """The adversarial adapter through the kit's mutator checks (its inputs and bounds are the model's)."""
    check(plugin, request)


def test_adversarial_mutator_stays_in_its_eps_range(armour_mlp, armour_digits):
    x = armour_digits.x_test[:16]

    @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    @given(seed=S.seeds)
    def run(seed):
        m = registry.create("mutator", "adversarial", model=armour_mlp, attack="fgsm", levels=2, eps=(0.05, 0.1),
                            seed=seed % 1000)
        out = to_numpy(m.mutate(x))
        linf = np.abs(out - x).reshape(len(x), -1).max(axis=1)
        assert np.all(linf <= 0.1 + 1e-6), f"perturbation above the eps range: {linf.max()}"

    run()


def test_adversarial_mutator_scales_eps_with_the_data_range(armour_mlp, armour_digits):
    m = create_mutator("fgsm", model=armour_mlp, eps=(0.05, 0.05), levels=1)
    x = armour_digits.x_test[:8]
    out = m.mutate(x, {"eps": 0.05})
    linf = np.abs(out - x).reshape(len(x), -1).max(axis=1)
    assert np.all(linf <= 0.05 + 1e-6) and np.any(linf > 0.04)


def test_categories_come_from_records_and_adversarial_from_attack_facets():
    fuzzing = [s.name for s in registry.specs("attack") if getattr(s.facet, "fuzzing", False)]
    assert "fgsm" in fuzzing
    assert adversarial_attack_names() == sorted(fuzzing)
    # a registered mutator wins a name shared with an attack ('salt_and_pepper' is both); such an attack
    # stays reachable as ("adversarial", {"attack": name})
    own = set(registry.names("mutator"))
    assert set(mutator_names("adversarial")) == set(fuzzing) - own
    assert all(mutator_category(name) == "adversarial" for name in set(fuzzing) - own)
    # the registered mutators' categories are checked in armour_plugins_fuzz/tests/test_mutators_properties.py
    assert set(mutator_names()) == own - {"adversarial"} | set(fuzzing)  # the generic adapter is not a name


def test_every_fuzzing_attack_works_as_a_mutator(armour_mlp, armour_digits):
    x = armour_digits.x_test[:6]
    for name in adversarial_attack_names():
        m = registry.create("mutator", "adversarial", attack=name, model=armour_mlp, eps=(0.1, 0.1), levels=1)
        assert m.category == "adversarial" and m.attack_name == name
        out = m.mutate(x)
        assert out.shape == x.shape and out.dtype == x.dtype and out.min() >= 0 and out.max() <= 1
        if m.norm == "linf":
            assert np.abs(out - x).max() <= 0.1 + 1e-6, name
    assert create_mutator("pgd", model=armour_mlp).attack_name == "pgd"


def test_adversarial_errors(armour_mlp):
    with pytest.raises(ConfigError, match="model"):
        create_mutator("fgsm")
    with pytest.raises(ConfigError, match="attack"):
        registry.create("mutator", "adversarial", model=armour_mlp, attack="no_such_attack")
    with pytest.raises(ConfigError, match="eps"):
        registry.create("mutator", "adversarial", model=armour_mlp, attack_config={"eps": 0.3})
    with pytest.raises(InvalidInputError, match="bounds"):
        registry.create("mutator", "adversarial", model=armour_mlp, bounds=(0, 255))


def test_design_example_with_affine_and_adversarial(armour_lenet, armour_digits, tmp_path):
    """DESIGN.md §9: names from the registry; the attack name becomes an adversarial mutator via its record."""
    x, y = armour_digits.x_test[:24], armour_digits.y_test[:24]
    fz = Fuzzer(model=armour_lenet, mutators=["gaussian_blur", ("rotate", {"degrees": (-15, 15)}), "fgsm"],
                coverage="neuron", scheduler="deephunter", corpus_dir=tmp_path / "corpus", mutants_per_seed=9)
    assert [m.category for m in fz.mutators] == ["pixel", "affine", "adversarial"]
    rep = fz.run(x, y, max_iters=6)
    assert all(s.tried > 0 for s in rep.mutators.values())
    adv = [j for j, f in enumerate(rep.findings) if f["chain"] and f["chain"][-1]["mutator"] == "fgsm"]
    if adv:
        pred = np.asarray(armour_lenet.predict(rep.findings_x[adv]))
        assert np.all(pred != [rep.findings[j]["label"] for j in adv])
    assert (tmp_path / "corpus" / "state.json").exists()


@requires_mindspore
def test_fuzzer_runs_on_numpy_124_plus_with_a_mutator_of_every_category(armour_lenet, armour_digits):
    """Pitfall: "The fuzzer runs on NumPy ≥ 1.24 (MindArmour's builds a ragged array and fails for every
    configuration)."

    On this NumPy (≥ 1.24), one fuzzing run mixes a mutator of every category in the records (pixel-value,
    affine, adversarial), whose outputs differ in provenance and shape of their parameters."""
    assert tuple(int(v) for v in np.__version__.split(".")[:2]) >= (1, 24)
    by_category: dict[str, str] = {}
    for spec in registry.specs("mutator"):
        by_category.setdefault(spec.facet.category, spec.name)
    assert len(by_category) >= 2, by_category
    mutators = sorted(by_category.values()) + ["fgsm"]  # a fuzzing attack as the adversarial mutator
    x, y = armour_digits.x_test[:6], armour_digits.y_test[:6]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        rep = Fuzzer(armour_lenet, mutators, coverage="neuron", scheduler="uniform", mutants_per_seed=4,
                     alpha=0.5, beta=0.5, seed=0).run(x, y, max_iters=4)
    assert rep.iterations == 4
    assert set(rep.mutators) >= set(mutators) - {"fgsm"}
    assert sum(m.tried for m in rep.mutators.values()) == 4 * 4
