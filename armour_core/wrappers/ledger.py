"""The privacy ledger: a durable, append-only record of every DP-SGD step, from which ε is recomputed.

Format: UTF-8 text, one record per line, ``<crc32 hex> <json>\\n``. The header is written atomically
(temp file + rename); later records are appended with one ``write`` each, *before* the step runs
(write-ahead), so a crash can only over-count a step, never forget one. A line whose checksum fails or
that lacks its newline can only be the last one (a write torn by a crash); it is dropped and truncated on
the next open. A bad line anywhere else means tampering or corruption and raises :class:`LedgerError`.

Durability: every record reaches the OS with its ``write`` (it survives the process being killed);
``fsync`` pushes it to disk — after every record with ``durability="step"``, else at most every
``sync_interval`` seconds and always at session end, epoch end and before a checkpoint. Resuming a run
opens the same file, keeps every earlier step and opens a new session (which also selects fresh noise
streams: noise must never repeat across sessions).
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..api.accountant import AccountantEvent
from ..atomic import atomic_write_bytes
from ..errors import ArmourError, InvalidInputError

VERSION = 1


class LedgerError(ArmourError):
    """The ledger file is corrupt or belongs to a different run."""


def _encode(record: dict[str, Any]) -> bytes:
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return f"{zlib.crc32(body.encode()):08x} {body}\n".encode()


def _decode(line: bytes) -> dict[str, Any] | None:
    try:
        text = line.decode()
        crc, body = text.rstrip("\n").split(" ", 1)
        if int(crc, 16) != zlib.crc32(body.encode()):
            return None
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None


class PrivacyLedger:
    """Append-only DP-SGD step records, on disk (``path``) or in memory (``path=None``).

    Step records hold what the accountant needs (``sigma``: the noise multiplier to account, ``q``,
    ``sampling``, ``epoch``) and what the mechanism did (``noise_multiplier``, ``clip_norm``,
    ``mechanism``, ``clip``, ``micro_batches``...).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, durability: str = "interval",
                 sync_interval: float = 1.0, header: dict[str, Any] | None = None):
        if durability not in ("step", "interval"):
            raise InvalidInputError(f"durability: expected 'step' or 'interval', got {durability!r}")
        self.path = Path(path) if path is not None else None
        self.durability = durability
        self.sync_interval = float(sync_interval)
        self.header: dict[str, Any] = {}
        self.sessions: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self._fd: int | None = None
        self._last_sync = time.monotonic()
        self._dirty = False
        if self.path is not None and self.path.exists() and self.path.stat().st_size > 0:
            self._load()
        else:
            self.header = {"type": "header", "version": VERSION, "created": time.time(), **(header or {})}
            if self.path is not None:
                atomic_write_bytes(self.path, _encode(self.header))

    # ------------------------------------------------------------------ reading
    def _load(self) -> None:
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        complete = lines[:-1]  # the piece after the last newline is a torn write (or empty)
        good_bytes = 0
        for i, raw in enumerate(complete):
            rec = _decode(raw + b"\n")
            if rec is None:
                if i == len(complete) - 1:
                    break  # torn final record: drop it
                raise LedgerError(f"ledger {self.path}: record {i + 1} is corrupt (checksum mismatch)")
            good_bytes += len(raw) + 1
            kind = rec.get("type")
            if i == 0:
                if kind != "header" or rec.get("version") != VERSION:
                    raise LedgerError(f"ledger {self.path}: not an armour privacy ledger (version {VERSION})")
                self.header = rec
            elif kind == "session":
                self.sessions.append(rec)
            elif kind == "step":
                if rec["step"] != len(self.steps):
                    raise LedgerError(f"ledger {self.path}: step {rec['step']} out of order "
                                      f"(expected {len(self.steps)})")
                self.steps.append(rec)
            else:
                raise LedgerError(f"ledger {self.path}: unknown record type {kind!r}")
        if not self.header:
            raise LedgerError(f"ledger {self.path}: missing header")
        if good_bytes < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_bytes)
                fh.flush()
                os.fsync(fh.fileno())

    # ------------------------------------------------------------------ writing
    def _append(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        data = _encode(record)
        written = os.write(self._fd, data)
        if written != len(data):
            raise LedgerError(f"ledger {self.path}: short write ({written} of {len(data)} bytes)")
        self._dirty = True
        if self.durability == "step" or time.monotonic() - self._last_sync >= self.sync_interval:
            self.sync()

    def check_compatible(self, **expected: Any) -> None:
        """Raise if the ledger was written by a run with different fixed settings (e.g. delta)."""
        for key, value in expected.items():
            have = self.header.get(key)
            if have is not None and value is not None and have != value:
                raise LedgerError(f"ledger {self.path}: {key}={have!r} was recorded, this run uses {value!r}; "
                                  "use a new ledger file for a different run")

    def begin_session(self, **meta: Any) -> int:
        """Record the start of a training session; returns its index (0 for a new run)."""
        rec = {"type": "session", "index": len(self.sessions), "start_step": len(self.steps), "time": time.time(),
               **meta}
        self._append(rec)
        self.sessions.append(rec)
        self.sync()
        return rec["index"]

    def record_step(self, *, sigma: float, q: float, sampling: str, epoch: int, **mechanism: Any) -> int:
        """Append one step (before it runs); returns its index."""
        rec = {"type": "step", "step": len(self.steps), "sigma": float(sigma), "q": float(q), "sampling": sampling,
               "epoch": int(epoch), **mechanism}
        self._append(rec)
        self.steps.append(rec)
        return rec["step"]

    def sync(self) -> None:
        """Flush appended records to disk (``fsync``)."""
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._dirty = False
        self._last_sync = time.monotonic()

    def close(self) -> None:
        self.sync()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "PrivacyLedger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ------------------------------------------------------------------ accounting
    @property
    def num_steps(self) -> int:
        return len(self.steps)

    def events(self, upto: int | None = None) -> list[AccountantEvent]:
        """The recorded steps as accountant events: runs of identical Poisson steps are merged; shuffled
        steps are grouped per pass (epoch) and charged at the pass's smallest noise multiplier."""
        steps = self.steps if upto is None else self.steps[:upto]
        return list(events_from_steps(steps))

    def epsilon(self, delta: float, accountant: Any = "pld", *, upto: int | None = None) -> float:
        """ε of the recorded steps (recomputed from the records, whatever printed it before)."""
        from .calibration import resolve_accountant

        acc = resolve_accountant(accountant)
        for event in self.events(upto):
            acc.step(noise_multiplier=event.noise_multiplier, sampling_rate=event.sampling_rate,
                     steps=event.steps, sampling=event.sampling)
        return acc.epsilon(delta)


def events_from_steps(steps: Iterable[dict[str, Any]]) -> Iterable[AccountantEvent]:
    run: list[Any] | None = None  # [sigma, q, sampling, epoch key, count]
    for s in steps:
        if s["sampling"] == "shuffle":
            if run is not None and run[2] == "shuffle" and run[3] == s["epoch"] and run[1] == s["q"]:
                run[0] = min(run[0], s["sigma"])
                run[4] += 1
                continue
            new = [s["sigma"], s["q"], "shuffle", s["epoch"], 1]
        else:
            if run is not None and run[2] == "poisson" and run[0] == s["sigma"] and run[1] == s["q"]:
                run[4] += 1
                continue
            new = [s["sigma"], s["q"], "poisson", None, 1]
        if run is not None:
            yield AccountantEvent(noise_multiplier=run[0], sampling_rate=run[1], steps=run[4], sampling=run[2])
        run = new
    if run is not None:
        yield AccountantEvent(noise_multiplier=run[0], sampling_rate=run[1], steps=run[4], sampling=run[2])
