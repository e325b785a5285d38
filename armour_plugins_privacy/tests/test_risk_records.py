"""The threshold attacks on the kit's pure-numpy classifier (no MindSpore needed); every inference attack's
contract runs in test_kit.py."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry


@pytest.mark.parametrize("name", ["loss_threshold", "entropy", "classifier"])
def test_attacks_on_numpy_classifier(name, armour_softmax, armour_digits):
    d = armour_digits
    atk = registry.create("inference", name, model=armour_softmax, seed=0)
    n = 200
    atk.fit(d.x_train[:n], d.y_train[:n], d.x_test[:n], d.y_test[:n])
    rep = atk.evaluate(d.x_train[n:2 * n], d.y_train[n:2 * n], d.x_test[n:2 * n], d.y_test[n:2 * n])
    assert 0.0 <= rep.auc <= 1.0 and rep.n_member == n
    assert rep.precision is not None  # every attack has a decision rule after fit
    assert np.all((rep.risk_member >= 0) & (rep.risk_member <= 1))


def test_requires_strings_come_from_the_pyproject():
    """``requires=`` is read from the installed metadata: the version is stated once, in pyproject.toml."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    from armour_core import registry

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    declared = {Requirement(r).name: str(Requirement(r))
                for r in tomllib.loads(pyproject.read_text())["project"]["dependencies"]}
    specs = [s for k in registry.kinds() for s in registry.specs(k) if s.dist == "armour-plugins-privacy"]
    assert any(s.requires for s in specs)
    for spec in specs:
        for req in spec.requires:
            assert Requirement(req).name in declared, (spec.name, req)
            assert req == declared[Requirement(req).name], (spec.name, req)
