"""Counters are the passes actually made: algorithms count through ``Classifier.count`` and ``uncounted()``,
never by assigning the counters (a static guard checks the whole tree)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from armour_core import registry
from armour_core.api.model import Classifier

ROOT = Path(__file__).resolve().parents[2]
COUNTERS = {"forward_calls", "backward_calls", "queries"}


class Recorder(Classifier):
    """A numpy classifier that records every pass it really makes (rows and calls), around a real model."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.bounds, self.num_classes, self.input_shape = inner.bounds, inner.num_classes, inner.input_shape
        self.capabilities = inner.capabilities
        self.forward_made = self.backward_made = self.rows_made = 0

    def _logits(self, x):
        self.forward_made += 1
        self.rows_made += len(x)
        return self.inner._logits(x)

    def _loss_gradient(self, x, y, loss):
        self.forward_made += 1
        self.backward_made += 1
        self.rows_made += len(x)
        return self.inner._loss_gradient(x, y, loss)

    def made(self):
        return self.forward_made, self.backward_made, self.rows_made


@pytest.fixture()
def data(armour_digits):
    return armour_digits.x_test[:10], armour_digits.y_test[:10]


@pytest.mark.parametrize("config", [{"steps": 7, "norm": "linf"}, {"steps": 5, "norm": "l2", "eps": 1.0}])
def test_pgd_counts_the_passes_it_makes(config, armour_softmax, data):
    x, y = data
    model = Recorder(armour_softmax)
    res = registry.create("attack", "pgd", model=model, **config).generate(x, y)
    fwd, bwd, rows = model.made()
    # everything but the base's uncounted success check (one forward pass over the batch) is the attack's
    assert (res.forward_calls, res.backward_calls, res.queries) == (fwd - 1, bwd, rows - len(x))
    assert res.backward_calls == config["steps"] and model.counters() == (fwd - 1, bwd, rows - len(x))


def test_pgd_on_a_mindspore_model_counts_one_pass_per_step(armour_mlp, data):
    x, y = data
    before = armour_mlp.counters()
    res = registry.create("attack", "pgd", model=armour_mlp, steps=6, eps=0.1).generate(x, y)
    assert (res.forward_calls, res.backward_calls, res.queries) == (6, 6, 6 * len(x))
    after = armour_mlp.counters()
    assert tuple(a - b for a, b in zip(after, before)) == (6, 6, 6 * len(x))


def test_a_black_box_attack_counts_the_queries_it_makes(armour_softmax, data, monkeypatch):
    from armour_core.api import batching

    monkeypatch.setattr(batching, "bucket", lambda n, **kw: n)  # no padding rows: every row is a query
    x, y = data
    model = Recorder(armour_softmax)
    atk = registry.create("attack", "nes", model=model, max_queries=60, eps=0.1, seed=0)
    res = atk.generate(x, y)
    fwd, bwd, rows = model.made()
    assert (res.forward_calls, res.backward_calls, res.queries) == (fwd - 1, 0, rows - len(x))
    assert atk.queries_per_sample.sum() == res.queries and atk.queries_per_sample.max() <= 60


def test_padding_rows_are_passes_but_not_queries(armour_softmax, data):
    x, y = data
    model = Recorder(armour_softmax)
    res = registry.create("attack", "square", model=model, max_queries=12, eps=0.1, seed=0).generate(x, y)
    fwd, _, rows = model.made()
    assert res.forward_calls == fwd - 1
    assert res.queries < rows - len(x)  # batches were padded to power-of-two shapes; padding is no query


def test_uncounted_leaves_counters_and_restores_counting_after_an_exception(armour_softmax, data):
    x, y = data
    model = Recorder(armour_softmax)
    model.logits(x)
    start = model.counters()
    with model.uncounted():
        model.logits(x)
        model.loss_gradient(x, y)
        model.count(forward=3, queries=5)
    assert model.counters() == start
    with pytest.raises(RuntimeError), model.uncounted():
        model.loss_gradient(x, y)
        raise RuntimeError("inside")
    assert model.counters() == start
    model.loss_gradient(x, y)
    assert model.counters() == (start[0] + 1, start[1] + 1, start[2] + len(x))
    assert model.made()[0] == 5  # the passes were made; only the counting was suspended


def test_no_algorithm_assigns_the_counters():
    """Only the Classifier base sets its counters; everything else uses count() or uncounted()."""
    allowed = {ROOT / "armour_core" / "api" / "model.py"}
    trees = [ROOT / "armour_core", ROOT / "armour_plugins_attacks" / "src"]
    offenders = []
    for tree in trees:
        for path in tree.rglob("*.py"):
            if path in allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
                flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for e in flat
                              if isinstance(e, ast.Attribute) and e.attr in COUNTERS]
    assert not offenders, f"use Classifier.count()/uncounted(), not assignments: {offenders}"
