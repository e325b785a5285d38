"""Each fact once: an algorithm's norms, targeting and needed capabilities are declared in its record only.

Classes name their record (``record = RECORDS[...]``) and the bases derive the rest; configs check ``norm``
against the record's tuple (``record_norm_field``). A static walk fails when a class body or a config
restates a fact, and a behavioural check fails when what the registry lists is not what the class enforces.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from armour_core import registry
from armour_core.api.norms import NORMS
from armour_core.errors import CapabilityError, ConfigError

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "armour_plugins_attacks"
#: class attributes the bases derive from a record
DERIVED = {"norms", "targeted", "minimum_norm", "needs_gradients", "needs", "needs_training", "needs_model"}
#: (module, class) allowed to set one: a private helper with no record, its norms taken from its config
PRIVATE = {("defenses/inner.py", "PGDProbe")}


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "tests" not in p.parts)


def test_no_class_body_restates_a_recorded_fact():
    offenders = []
    for path in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ClassDef) or node.decorator_list or (rel, node.name) in PRIVATE:
                continue  # decorated classes are attrs records of results, not algorithms
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                    [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
                offenders += [f"{rel}:{stmt.lineno} {node.name}.{t.id}" for t in targets
                              if isinstance(t, ast.Name) and t.id in DERIVED]
    assert not offenders, f"declare these in the record, not on the class: {offenders}"


def test_no_config_restates_the_norms_of_a_record():
    """Attack configs take ``norm`` from their record; a literal tuple of norms would be a second copy."""
    offenders = []
    for path in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "norm_field":
                literal = [a for a in node.args[1:] if isinstance(a, (ast.Tuple, ast.List))]
                if literal or (rel.split("/")[0] in ("gradient", "minnorm", "blackbox", "autoattack")):
                    offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, f"use record_norm_field(RECORDS[...]) (or a named tuple for record-less helpers): {offenders}"


ATTACKS = registry.names("attack")


@pytest.mark.parametrize("name", ATTACKS)
def test_the_class_and_config_enforce_what_the_registry_lists(name, armour_softmax, armour_digits):
    spec = registry.spec("attack", name)
    cls = registry.get("attack", name)
    assert cls.record is not None and cls.record.name == spec.name
    assert cls.Config().norm == spec.facet.norms[0]
    for norm in NORMS:
        if norm in spec.facet.norms:
            registry.create("attack", name, model=armour_softmax, norm=norm)
        else:
            with pytest.raises(ConfigError, match="norm"):
                registry.create("attack", name, model=armour_softmax, norm=norm)
    x = armour_digits.x_test[:4]
    y = armour_digits.y_test[:4]
    atk = registry.create("attack", name, model=armour_softmax)
    atk._generate = lambda x, y, target: x  # the base's own checks only: nothing of the algorithm runs
    if spec.facet.targeted:
        assert atk.generate(x, y, target=(y + 1) % 10).adversarial.shape == x.shape
    else:
        with pytest.raises(ConfigError, match="target"):
            atk.generate(x, y, target=(y + 1) % 10)


@pytest.mark.parametrize("name", ATTACKS)
def test_needed_capabilities_are_the_records(name):
    """A model without a capability the record lists is refused, naming the capability."""
    from armour_core.api.model import Classifier

    needs = registry.spec("attack", name).capabilities

    class Bare(Classifier):  # forward passes only
        bounds, num_classes, input_shape = (0.0, 1.0), 3, (4,)

        def _logits(self, x):
            return np.zeros((len(x), 3), np.float32)

    if needs <= Bare.capabilities:
        registry.create("attack", name, model=Bare())
    else:
        with pytest.raises(CapabilityError, match="gradients"):
            registry.create("attack", name, model=Bare())


@pytest.mark.parametrize("kind", ["defense", "detector"])
def test_defenses_and_detectors_derive_from_their_records(kind):
    for name in registry.names(kind):
        spec, cls = registry.spec(kind, name), registry.get(kind, name)
        assert cls.record is not None and cls.record.name == spec.name
        if kind == "detector":
            assert cls.needs_training == spec.facet.needs_training
            assert cls.needs_model == ("forward" in spec.capabilities)
        else:
            assert cls.needs == frozenset(spec.capabilities) | {"parameters"}


def test_a_defense_refuses_a_model_without_graphs(armour_softmax):
    """Defenses build MindSpore graphs on the model: a numpy classifier is refused by capability."""
    with pytest.raises(CapabilityError, match="graphs"):
        registry.create("defense", "pad", network=armour_softmax)
