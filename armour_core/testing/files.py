"""Hostile files for tests of what armour reads back (caches, corpora): a planted pickle payload.

Shared by core's and the distributions' test trees, which cannot import each other's helpers.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


class _Plant:
    """Pickles into "call open(marker, 'w')": unpickling it would create ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_npz(marker: Path, **arrays) -> bytes:
    """An ``.npz`` holding a pickled object array under every name in ``arrays`` given as None; loading it with
    ``allow_pickle=True`` creates ``marker``, so a test can prove a reader never unpickles."""
    buf = io.BytesIO()
    np.savez(buf, **{k: (np.array([_Plant(marker)], dtype=object) if v is None else v) for k, v in arrays.items()})
    return buf.getvalue()
