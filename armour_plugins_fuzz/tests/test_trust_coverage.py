"""Every call of a cell is a layer of neurons (issue 9, item 14).

A network that calls one ReLU three times and one Dense twice in ``construct`` has seven neuron layers, not
four: ``layer_names()`` lists each call (``relu``, ``relu#1``, ``relu#2``, ``fc2``, ``fc2#1``), each one can
be chosen with ``layers=``, both capture paths (one compiled pass, PyNative hooks) agree, and every coverage
criterion in the registry counts the neurons of every call.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from armour_core import registry
from armour_core.api.coverage import clear_profile_cache
from armour_core.errors import InvalidInputError
from armour_core.testing import requires_mindspore

pytestmark = requires_mindspore

CALLS = ["fc1", "relu", "fc2", "relu#1", "fc2#1", "relu#2", "out"]
UNITS = {"fc1": 8, "relu": 8, "fc2": 8, "relu#1": 8, "fc2#1": 8, "relu#2": 8, "out": 3}


def _nets():
    import armour_core.ms  # noqa: F401  (CPU runtime settings)
    import mindspore as ms
    from mindspore import nn

    class Reuse(nn.Cell):
        """A chain: flat, fc1, relu, fc2, relu, fc2, relu, out (one ReLU and one Dense used again)."""

        def __init__(self):
            super().__init__()
            self.flat, self.fc1, self.relu, self.fc2, self.out = (nn.Flatten(), nn.Dense(16, 8), nn.ReLU(),
                                                                  nn.Dense(8, 8), nn.Dense(8, 3))

        def construct(self, x):
            h = self.relu(self.fc1(self.flat(x)))
            h = self.relu(self.fc2(h))
            return self.out(self.relu(self.fc2(h)))

    class ReuseResidual(Reuse):
        """The same calls with a skip connection: not a chain, so captured with hooks."""

        def construct(self, x):
            h = self.relu(self.fc1(self.flat(x)))
            h = self.relu(self.fc2(h)) + h
            return self.out(self.relu(self.fc2(h)))

    ms.set_seed(0)
    return Reuse(), ReuseResidual()


@pytest.fixture(scope="module")
def nets():
    return _nets()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x_train = rng.uniform(0, 1, (48, 1, 4, 4)).astype(np.float32)
    y_train = np.arange(48) % 3
    x = rng.uniform(0, 1, (20, 1, 4, 4)).astype(np.float32)
    return x_train, y_train, x


def _wrap(net, shaped=True):
    from armour_core.ms.model import MSModel

    return MSModel(net, input_shape=(1, 4, 4) if shaped else None, num_classes=3)


def test_layer_names_list_every_call(nets, data):
    chain, residual = nets
    for net in nets:
        assert _wrap(net).layer_names() == CALLS
    # a network wrapped without an input shape learns its calls from the first batch it is given
    bare = _wrap(chain, shaped=False)
    with pytest.raises(InvalidInputError, match="layer_names"):
        bare.layer_names()
    assert bare.layer_names(data[2][:2]) == CALLS
    assert list(_wrap(residual, shaped=False).capture(data[2])) == CALLS


@pytest.mark.parametrize("which", [0, 1])
def test_both_capture_paths_agree_and_select_each_call(nets, data, which):
    x = data[2]
    model = _wrap(nets[which])
    fast = model.capture(x)
    assert model.activation_capture().mode == ("compiled" if which == 0 else "hooks")
    slow = model.capture(x, method="hooks")
    assert list(fast) == list(slow) == CALLS
    for k in CALLS:
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-5, atol=1e-6, err_msg=k)
        assert fast[k].shape == (len(x), UNITS[k])
    np.testing.assert_allclose(fast["relu#1"], np.maximum(fast["fc2"], 0), atol=1e-6)
    np.testing.assert_allclose(fast["relu#2"], np.maximum(fast["fc2#1"], 0), atol=1e-6)
    for method in ("auto", "hooks"):
        sub = model.capture(x, ("relu#1", "fc2#1"), method=method)
        assert sorted(sub) == ["fc2#1", "relu#1"]  # exactly the calls asked for, not every call of 'relu'
        np.testing.assert_allclose(sub["relu#1"], fast["relu#1"], atol=1e-6)
        assert list(model.capture(x, ("relu",), method=method)) == ["relu"]
    with pytest.raises(InvalidInputError, match="relu#3"):
        model.capture(x, ("relu#3",))


def _criteria():
    return [spec.name for spec in registry.specs("coverage")]


def test_registry_has_the_eight_criteria():
    assert sorted(_criteria()) == sorted(["neuron", "top_k", "top_k_pattern", "k_multisection", "neuron_boundary",
                                          "strong_neuron_activation", "lsa", "dsa"])


def _make(name, model, data, **config):
    cov = registry.create("coverage", name, model=model, **config)
    if cov.needs_profile:
        cov.fit(data[0], data[1])
    return cov.update(data[2])


#: items per neuron for the set criteria (k sections for KMNC, two corners for NBC)
ITEMS = {"neuron": 1, "top_k": 1, "k_multisection": 4, "neuron_boundary": 2, "strong_neuron_activation": 1}


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("name", sorted(["neuron", "top_k", "top_k_pattern", "k_multisection", "neuron_boundary",
                                         "strong_neuron_activation", "lsa", "dsa"]))
def test_every_criterion_counts_every_call(nets, data, name, which):
    clear_profile_cache()
    model = _wrap(nets[which])
    config = {"k": 4} if name in ("k_multisection",) else {"k": 2} if name in ("top_k", "top_k_pattern") else {}
    if name in ("lsa", "dsa"):
        # surprise adequacy uses one layer by default: the last hidden one, which is the third ReLU call
        default = registry.create("coverage", name, model=model, **config)
        assert default.layers == ["relu#2"]
        cov = _make(name, model, data, layers=("fc2", "fc2#1", "relu#2"), **config)
        assert [cov.profile.traces[k].shape[1] for k in cov.layers] == [8, 8, 8]
        assert cov._traces(cov.capture(data[2])).shape == (len(data[2]), 24)
        assert 0.0 < cov.value <= 1.0
        return
    cov = _make(name, model, data, **config)
    assert cov.layers == CALLS
    if name == "top_k_pattern":
        assert cov._capacity == float(math.prod(math.comb(UNITS[k], 2) for k in CALLS))
    else:
        assert list(cov.covered) == CALLS
        assert cov.total_items == ITEMS[name] * sum(UNITS.values())  # 51 neurons over the 7 calls
    # the second call alone can be chosen, and counts its own neurons only
    one = _make(name, model, data, layers=("relu#1",), **config)
    assert one.layers == ["relu#1"]
    if name == "top_k_pattern":
        assert one._capacity == float(math.comb(8, 2))
    else:
        assert one.total_items == ITEMS[name] * 8
        assert one.covered_items == int(sum(c.sum() for c in one.covered.values()))


# ---------------------------------------------------------------------------------------- a damaged corpus
def _plant(path, marker):
    """Replace the text arrays of ``path`` by pickled objects whose loading would create ``marker``."""
    import io

    class Plant:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with np.load(path, allow_pickle=False) as z:
        arrays = {k: (np.array([Plant()], dtype=object) if z[k].dtype.kind in "US" else z[k]) for k in z.files}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def test_fuzz_command_refuses_a_damaged_or_busy_corpus(tmp_path, capsys, armour_lenet):
    """A corrupt corpus is one line naming the file and exit code 2, never a traceback or a pickle load; a
    corpus another run is writing is refused."""
    from armour_core.cli import main
    from armour_plugins_fuzz.fuzzer.corpus import CorpusStore

    corpus = tmp_path / "corpus"
    args = ["fuzz", "--n", "8", "--max-iters", "2", "--mutants-per-seed", "4", "--corpus-dir", str(corpus),
            "--out", str(tmp_path / "report"), "--no-progress"]
    assert main(args) == 0
    capsys.readouterr()
    args[args.index("--max-iters") + 1] = "3"
    marker = tmp_path / "pwned"
    chunk = sorted((corpus / "chunks").glob("*.npz"))[0]
    original = chunk.read_bytes()
    _plant(chunk, marker)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert not marker.exists()
    assert str(chunk) in err.splitlines()[-1] and "Traceback" not in err  # the error is the last, only line
    chunk.write_bytes(original)
    state = corpus / "state.json"
    state.write_text(state.read_text()[:-20])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert str(state) in err.splitlines()[-1] and "Traceback" not in err
    with CorpusStore(corpus).locked():  # another run holds the corpus
        assert main([*args, "--fresh"]) == 2
        assert "in use by another process" in capsys.readouterr().err
    assert main([*args, "--fresh"]) == 0
