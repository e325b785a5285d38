"""Checkpoints written atomically: a crash mid-save never leaves a torn ``.ckpt`` behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import mindspore as ms


def save_checkpoint_atomic(network: ms.nn.Cell, path: str | os.PathLike) -> Path:
    """``mindspore.save_checkpoint`` into a temporary file beside ``path``, then an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".ckpt")
    os.close(fd)
    try:
        ms.save_checkpoint(network, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
