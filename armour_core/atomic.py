"""Atomic file writes: readers see the old file or the whole new one, never a torn write."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one.

    ``overwrite=False`` publishes the file only if ``path`` does not exist yet (``FileExistsError``
    otherwise): two processes creating the same file cannot both believe they created it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the permissions a plain open() would
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic and never clobbers
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, *, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (a file, created if missing, or a directory) for the ``with``
    block.

    Writers of one file set (a fuzz corpus, a cache entry) take it so two processes never interleave their
    writes. ``wait=False`` raises :class:`BlockingIOError` at once when another process holds the lock;
    ``wait=True`` blocks until it is free. The lock dies with the process, so a killed run never leaves a
    stale lock. Where ``fcntl`` is missing (Windows) no lock is taken: atomic writes still keep every file
    whole, and readers' checksums detect a mixed set.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY) if path.is_dir() else os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise BlockingIOError(exc.errno, f"{path} is locked by another process") from None
            raise
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
