"""Our own runs are strict (a broken plugin fails loudly) and quiet."""

import os

import numpy as np
import pytest

os.environ.setdefault("ARMOUR_PLUGINS_STRICT", "1")
os.environ.setdefault("ARMOUR_PROGRESS", "0")


@pytest.fixture(params=["pynative", "graph"])
def mode(request):
    """Run the test in MindSpore's PyNative and GRAPH modes (the previous mode is restored)."""
    import mindspore as ms

    import armour_core.ms  # noqa: F401

    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE if request.param == "graph" else ms.PYNATIVE_MODE)
    yield request.param
    ms.set_context(mode=previous)


#: members, non-members and population of the membership-inference tests, each
MEMBERSHIP_N = 150


@pytest.fixture(scope="module")
def split():
    """Shuffled digits: ``m`` members, ``n`` non-members, ``p`` the attacker's population (150 each)."""
    from armour_core import registry

    n = MEMBERSHIP_N
    d = registry.create("dataset", "digits")
    x = np.concatenate([d.x_train, d.x_test])
    y = np.concatenate([d.y_train, d.y_test])
    p = np.random.default_rng(0).permutation(len(x))
    x, y = x[p], y[p]
    return {"m": (x[:n], y[:n]), "n": (x[n:2 * n], y[n:2 * n]), "p": (x[2 * n:3 * n], y[2 * n:3 * n])}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private ``ARMOUR_CACHE_DIR`` for the module (shadow models trained here stay here)."""
    old = os.environ.get("ARMOUR_CACHE_DIR")
    os.environ["ARMOUR_CACHE_DIR"] = str(tmp_path_factory.mktemp("armour-cache"))
    yield
    if old is None:
        os.environ.pop("ARMOUR_CACHE_DIR")
    else:
        os.environ["ARMOUR_CACHE_DIR"] = old
