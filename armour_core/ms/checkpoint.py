"""Checkpoints written atomically: a crash mid-save never leaves a torn ``.ckpt`` behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import mindspore as ms


def save_checkpoint_atomic(network: ms.nn.Cell, path: str | os.PathLike, *,
                           append_dict: dict | None = None) -> Path:
    """``mindspore.save_checkpoint`` into a temporary file beside ``path``, then an atomic rename;
    ``append_dict`` adds scalar/string entries (e.g. DPModel's ledger head)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".ckpt")
    os.close(fd)
    try:
        ms.save_checkpoint(network, tmp, append_dict=append_dict)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_ledger_head(path: str | os.PathLike):
    """The privacy-ledger head DPModel stamped into the checkpoint at ``path`` (``None`` if it has none)."""
    from ..errors import InvalidInputError
    from ..wrappers.ledger import CHECKPOINT_KEY, LedgerHead

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"checkpoint: file {str(p)!r} does not exist")
    try:
        entries = ms.load_checkpoint(str(p), choice_func=lambda name: name == CHECKPOINT_KEY)
    except Exception:  # noqa: BLE001 - no such entry (MindSpore raises when the filter keeps nothing) or unreadable
        try:
            entries = ms.load_checkpoint(str(p))
        except Exception as exc:  # noqa: BLE001 - MindSpore raises assorted types for unreadable files
            raise InvalidInputError(f"checkpoint: {str(p)!r} is not a readable MindSpore checkpoint "
                                    f"({type(exc).__name__})") from None
    value = entries.get(CHECKPOINT_KEY)
    return None if value is None else LedgerHead.parse(str(value))
