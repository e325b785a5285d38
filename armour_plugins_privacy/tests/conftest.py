"""Our own runs are strict (a broken plugin fails loudly) and quiet."""

import os

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
