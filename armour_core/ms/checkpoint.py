"""Checkpoints written atomically: a crash mid-save never leaves a torn ``.ckpt`` behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import mindspore as ms


def save_checkpoint_atomic(network: ms.nn.Cell, path: str | os.PathLike, *,
                           append_dict: dict | None = None) -> Path:
    """``mindspore.save_checkpoint`` into a temporary file beside ``path``, then an atomic rename;
    ``append_dict`` adds scalar/string entries (read back with :func:`read_checkpoint_entry`)."""
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


def read_checkpoint_entry(path: str | os.PathLike, key: str) -> str | None:
    """The scalar/string entry ``key`` that ``append_dict`` stamped into the checkpoint at ``path``, as text
    (``None`` if it has none). Generic: what an entry means belongs to whoever stamped it."""
    from ..errors import InvalidInputError

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"checkpoint: file {str(p)!r} does not exist")

    def only_key(name: str) -> bool:
        return name == key

    try:
        entries = ms.load_checkpoint(str(p), choice_func=only_key)
    except Exception:  # noqa: BLE001 - no such entry (MindSpore raises when the filter keeps nothing) or unreadable
        try:
            entries = ms.load_checkpoint(str(p))
        except Exception as exc:  # noqa: BLE001 - MindSpore raises assorted types for unreadable files
            raise InvalidInputError(f"checkpoint: {str(p)!r} is not a readable MindSpore checkpoint "
                                    f"({type(exc).__name__})") from None
    value = entries.get(key)
    return None if value is None else str(value)
