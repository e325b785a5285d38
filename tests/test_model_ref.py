"""ModelRef: a model named as the command line names it, plain data a worker can load (no MindSpore here)."""

from __future__ import annotations

import argparse
import os
import pickle

import pytest

from armour_core.errors import InvalidInputError
from armour_core.loading import ModelRef


def test_a_reference_is_one_model_plain_data_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ref = ModelRef(network="nets/model.py:build", checkpoint="w.ckpt", bounds=[0, 255], input_shape=[1, 8, 8])
    assert ref.network == f"{tmp_path / 'nets' / 'model.py'}:build" and ref.checkpoint == str(tmp_path / "w.ckpt")
    assert ref.bounds == (0.0, 255.0) and ref.input_shape == (1, 8, 8)
    assert ModelRef(network="pkg.mod:build").network == "pkg.mod:build"  # a module name stays a module name
    assert pickle.loads(pickle.dumps(ref)) == ref and hash(ref) == hash(pickle.loads(pickle.dumps(ref)))
    assert os.path.isabs(ref.checkpoint)
    with pytest.raises(InvalidInputError, match="ModelRef: give either model="):
        ModelRef()
    with pytest.raises(InvalidInputError, match="ModelRef: give either model="):
        ModelRef(model="lenet5", network="pkg.mod:build")
    with pytest.raises(InvalidInputError, match="--bounds: expected finite LOW < HIGH"):
        ModelRef(model="lenet5", bounds=(1, 0))


def test_reference_from_the_command_line_flags(monkeypatch):
    from armour_core import loading
    from armour_core.loading import model_ref_from_args

    monkeypatch.setattr(loading, "_LOADED", {})  # the stand-in models below must not outlive the test

    class Loaded:
        bounds, num_classes, input_shape = (0.0, 1.0), 10, (1, 8, 8)

    args = argparse.Namespace(network="pkg.mod:build", checkpoint=None, model="lenet5", dataset="digits", seed=0)
    assert model_ref_from_args(args, Loaded()) == ModelRef(network="pkg.mod:build", num_classes=10,
                                                           input_shape=(1, 8, 8))
    audit = argparse.Namespace(network=None, checkpoint=None, model="lenet5", data="digits", seed=3)
    assert model_ref_from_args(audit, Loaded()) == ModelRef(model="lenet5", dataset="digits", seed=3)
