"""Row bookkeeping shared by the AutoAttack family.

* Attacks work on the rows still to attack, compacted and padded (by repeating rows) to a power-of-two
  size, so a compiled graph sees few distinct shapes however many rows remain.
* Random draws are made for the *whole* batch and then indexed, so a sample's random start (or Square
  window) depends only on the seed and its position in the batch — not on which other rows are still
  active. That makes an attack run inside AutoAttack (on the rows still robust) follow the very same
  trajectory as the attack run alone, hence AutoAttack's robust accuracy is at most each member's.
"""

from __future__ import annotations

import numpy as np


def padded(rows: np.ndarray) -> np.ndarray:
    """``rows`` repeated cyclically up to the next power of two (at least 1 row)."""
    n = max(1, rows.size)
    size = 1 << (n - 1).bit_length()
    return np.resize(rows, size) if rows.size else rows


def pad_size(n: int) -> int:
    return 1 << (max(1, n) - 1).bit_length()
