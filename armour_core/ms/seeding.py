"""Seeded network initialisation that leaves the caller's random state alone.

``mindspore.set_seed`` also reseeds NumPy's global generator and MindSpore's dataset seed; a library must not
do that behind its user's back. :func:`seeded` sets the seed for the block and restores all three after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import mindspore as ms
import numpy as np


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside the block MindSpore's global seed is ``seed`` (deterministic parameter initialisation)."""
    from mindspore.dataset import config as ds_config

    np_state = np.random.get_state()
    ms_seed = ms.get_seed()
    ds_seed = ds_config.get_seed()
    ms.set_seed(int(seed))
    try:
        yield
    finally:
        if ms_seed is not None:
            ms.set_seed(ms_seed)
        ds_config.set_seed(ds_seed)
        np.random.set_state(np_state)
