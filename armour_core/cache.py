"""Where armour keeps trained default models: ``$ARMOUR_CACHE_DIR``, else the user cache directory."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    env = os.environ.get("ARMOUR_CACHE_DIR")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "armour"
    path.mkdir(parents=True, exist_ok=True)
    return path
