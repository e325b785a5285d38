"""The privacy ledger: a durable, append-only, hash-chained record of every DP-SGD step, from which ε is
recomputed.

Format (version 2): UTF-8 text, one record per line, ``<digest> <mac> <json>\\n``. ``json`` holds the record
and ``prev``, the digest of the record before it (64 zeros for the header); ``digest`` is the SHA-256 of
``json``, so the records form a hash chain whose *head* — ``(steps recorded, digest of the last record)`` —
commits to everything before it. ``mac`` is ``-``, or HMAC-SHA256(``ARMOUR_LEDGER_KEY``, digest) when the
ledger was created with that key. The header carries a random run id, so two runs never share a chain.

What each level detects (see docs/dp.md, "Trusting the ledger"):

* the chain alone: any damaged, edited, inserted or removed record *inside* the file, and a damaged last
  record — never dropped as a "torn write": reading refuses, naming the line; :meth:`PrivacyLedger.repair`
  removes it deliberately and records that it did;
* the checkpoint head (DPModel stamps it into every checkpoint it saves): a ledger cut at a record boundary,
  emptied, or belonging to another run;
* the MAC (only with the key): deliberate edits by someone who recomputed the chain.
  Nothing detects a ledger deleted together with every checkpoint that refers to it.

Reading (:meth:`PrivacyLedger.read`) opens the file read-only and never writes to it. A writer
(``PrivacyLedger(path)``) reads the same way and touches the file only when it first appends: it then takes an
exclusive, non-blocking ``flock`` (a second writer gets "in use by another process"), checks that the file is
still byte for byte what it read, and appends. Records are written *before* the step runs (write-ahead), so a
crash can only over-count a step, never forget one.

Voided steps: a step whose charge was written but which failed before anything of it was released (DPModel:
before any compiled graph of the step was launched) is voided by a ``void`` record, appended by the writer that
charged it, holding the lock, directly after that step record (only the *last* step of the writer's own
session, once; the record states the reason). ε, :attr:`PrivacyLedger.num_steps` and :meth:`~PrivacyLedger.events`
skip voided steps; :attr:`PrivacyLedger.steps` keeps every record and the head counts step *records*
(:attr:`PrivacyLedger.charged_steps`), so a checkpoint head still detects a cut ledger.

Audits: a one-run privacy audit (:mod:`.canaries`) is appended as an ``audit`` record after the steps it
audited; readers recompute its ε lower bound from its counts and refuse a record that disagrees.

Durability: every record reaches the OS with its ``write`` (it survives the process being killed);
``fsync`` pushes it to disk — after every record with ``durability="step"``, else at most every
``sync_interval`` seconds and always at session end, epoch end and before a checkpoint. Resuming a run
opens the same file, keeps every earlier step and opens a new session (which also selects fresh noise
streams: noise must never repeat across sessions).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from armour_core.api.accountant import AccountantEvent
from armour_core.atomic import atomic_write_bytes
from armour_core.errors import ArmourError, InvalidInputError

VERSION = 2
#: environment variable holding the MAC key (any string); unset or empty: no MAC
KEY_ENV = "ARMOUR_LEDGER_KEY"
#: the checkpoint entry (``append_dict`` key) holding the ledger head, ``"<steps>:<digest>"``
CHECKPOINT_KEY = "armour_ledger_head"
GENESIS = "0" * 64
_MAC = "hmac-sha256"


class LedgerError(ArmourError):
    """The ledger file is missing, unreadable, corrupt, in use, or belongs to a different run."""


class LedgerHead(NamedTuple):
    """The chain head after a record: steps recorded so far and that record's digest."""

    steps: int
    digest: str

    def encode(self) -> str:
        return f"{self.steps}:{self.digest}"

    @classmethod
    def parse(cls, text: str) -> "LedgerHead":
        try:
            steps, digest = str(text).split(":")
            if len(digest) != 64 or int(steps) < 0:
                raise ValueError
            int(digest, 16)
            return cls(int(steps), digest)
        except ValueError:
            raise LedgerError(f"{CHECKPOINT_KEY}: expected '<steps>:<sha256 hex>', got {str(text)[:80]!r}") from None


def _key() -> bytes | None:
    value = os.environ.get(KEY_ENV, "")
    return value.encode() if value else None


def _mac(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def _encode(record: dict[str, Any], key: bytes | None) -> tuple[bytes, str]:
    """The line for ``record`` (which carries ``prev``) and its digest."""
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"{digest} {_mac(key, digest) if key else '-'} {body}\n".encode(), digest


def _decode(line: bytes) -> tuple[dict[str, Any], str, str] | None:
    """``(record, digest, mac)`` of a complete line whose digest matches, else ``None``."""
    try:
        digest, mac, body = line.decode().split(" ", 2)
        if hashlib.sha256(body.encode()).hexdigest() != digest:
            return None
        record = json.loads(body)
        return (record, digest, mac) if isinstance(record, dict) else None
    except (UnicodeDecodeError, ValueError):
        return None


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, opened read-only; a clear :class:`LedgerError` for anything but a readable file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise LedgerError(f"ledger {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise LedgerError(f"ledger {str(path)!r} is a directory, not a ledger file") from None
    except OSError as exc:
        raise LedgerError(f"ledger {str(path)!r} cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        with os.fdopen(fd, "rb") as fh:
            return fh.read()
    except IsADirectoryError:
        raise LedgerError(f"ledger {str(path)!r} is a directory, not a ledger file") from None
    except OSError as exc:
        raise LedgerError(f"ledger {str(path)!r} cannot be read ({exc.strerror or type(exc).__name__})") from None


def _lock_for_writing(path: Path) -> int:
    """An append descriptor on ``path`` holding the writers' exclusive lock (released when it is closed)."""
    import fcntl

    where = f"ledger {str(path)!r}"
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except OSError as exc:
        raise LedgerError(f"{where} cannot be opened for writing ({exc.strerror or type(exc).__name__})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise LedgerError(f"{where} is in use by another process (another writer holds its lock)") from None
        raise LedgerError(f"{where} cannot be locked ({exc.strerror})") from None
    return fd


def _writer_active(path: Path) -> bool:
    """Whether another process holds the writer's lock on ``path`` (probed with a shared, non-blocking lock
    on a read-only descriptor, released at once)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock


def _read_settled(path: Path, wait: float = 2.0) -> bytes:
    """The file's bytes; an incomplete last line while a writer holds the lock is a write in flight, so the
    read is retried for up to ``wait`` seconds (a reader never takes a half-written record for damage)."""
    data = _read_bytes(path)
    deadline = time.monotonic() + wait
    while data and not data.endswith(b"\n") and time.monotonic() < deadline and _writer_active(path):
        time.sleep(0.02)
        data = _read_bytes(path)
    return data


class PrivacyLedger:
    """Append-only DP-SGD step records, on disk (``path``) or in memory (``path=None``).

    ``PrivacyLedger(path)`` opens a ledger to write (a new run if ``path`` does not exist; nothing is
    written before the first record). :meth:`read` opens one only to read it. Either way an existing file
    is verified in full (chain, MAC when keyed) and never modified by opening it.

    Step records hold what the accountant needs (``sigma``: the noise multiplier to account, ``q``,
    ``sampling``, ``epoch``) and what the mechanism did (``noise_multiplier``, ``clip_norm``,
    ``mechanism``, ``clip``, ``micro_batches``...).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, durability: str = "interval",
                 sync_interval: float = 1.0, header: dict[str, Any] | None = None, _readonly: bool = False,
                 _data: bytes | None = None):
        if durability not in ("step", "interval"):
            raise InvalidInputError(f"durability: expected 'step' or 'interval', got {durability!r}")
        self.path = Path(path) if path is not None else None
        self.durability = durability
        self.sync_interval = float(sync_interval)
        self.readonly = _readonly
        self.header: dict[str, Any] = {}
        self.sessions: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.repairs: list[dict[str, Any]] = []
        #: ``void`` records: steps charged but never taken (not counted in ε)
        self.voids: list[dict[str, Any]] = []
        self._voided: set[int] = set()
        #: ``audit`` records: one-run privacy audits (dp/canaries.py), each after the steps it audited
        self.audits: list[dict[str, Any]] = []
        self._last_kind: str | None = None
        #: index of the step this writer charged last, while it may still void it (holding the lock)
        self._own_step: int | None = None
        #: "verified" (every MAC checked), "none" (no MAC) or "not checked: ..." (MAC present, no key)
        self.mac_status = "none"
        self._key: bytes | None = None
        self._heads: set[tuple[int, str]] = set()
        self._digest = GENESIS
        self._fd: int | None = None
        self._on_disk = False
        self._size = 0
        self._hasher = hashlib.sha256()
        self._last_sync = time.monotonic()
        self._dirty = False
        if _data is not None or (self.path is not None and (_readonly or os.path.lexists(self.path))):
            self._parse(_read_settled(self.path) if _data is None else _data)
            self._on_disk = True
        else:
            self._key = _key()
            self.mac_status = "verified" if self._key else "none"
            self._add({"type": "header", "version": VERSION, "created": time.time(), "run": os.urandom(16).hex(),
                       "mac": _MAC if self._key else None, **(header or {})}, write=False)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "PrivacyLedger":
        """Open an existing ledger read-only (it is never written); missing, empty, unreadable or corrupt
        ledgers raise :class:`LedgerError`."""
        if path is None:
            raise InvalidInputError("path: reading a ledger needs its file path, got None")
        return cls(path, _readonly=True)

    # ------------------------------------------------------------------ reading
    def _parse(self, data: bytes) -> None:
        """Verify every line of ``data`` and load the records; any bad line raises, naming it."""
        where = f"ledger {str(self.path)!r}"
        if not data:
            raise LedgerError(f"{where} is empty (an emptied ledger cannot be read or resumed; if it belongs to no "
                              "run, delete it)")
        lines = data.split(b"\n")
        tail = lines.pop()  # bytes after the last newline: empty unless the last line is incomplete
        if tail:
            lines.append(tail)
        key = _key()
        for i, raw in enumerate(lines):
            lineno, last = i + 1, i == len(lines) - 1
            decoded = _decode(raw) if not (last and tail) else None
            if decoded is None:
                if i == 0:
                    raise LedgerError(self._not_a_ledger(raw))
                why = "incomplete: no newline" if last and tail else "its digest does not match its content"
                if last:
                    raise LedgerError(
                        f"{where}: line {lineno} (the last) is damaged ({why}); it may be a write torn by a crash or "
                        f"an edit, and is never dropped silently. Check the file; to remove it deliberately run "
                        f"'python -m armour_plugins_privacy.dp.ledger repair {self.path}' (the repair is recorded)")
                raise LedgerError(f"{where}: line {lineno} is corrupt ({why}); a record inside the ledger was "
                                  "damaged or edited")
            record, digest, mac = decoded
            if record.get("prev") != self._digest:
                raise LedgerError(f"{where}: line {lineno} breaks the hash chain (a record before it was removed, "
                                  "inserted or replaced)")
            if i == 0:
                if record.get("type") != "header" or record.get("version") != VERSION:
                    raise LedgerError(self._not_a_ledger(raw))
                self.mac_status = self._check_mac_mode(record, key)
            if self.mac_status == "verified" and not hmac.compare_digest(mac, _mac(key, digest)):
                raise LedgerError(f"{where}: line {lineno}: MAC mismatch (the record was edited, or {KEY_ENV} is not "
                                  "the key the ledger was written with)")
            if self.mac_status == "none" and mac != "-":
                raise LedgerError(f"{where}: line {lineno} carries a MAC the header does not declare")
            self._load_record(record, lineno)
            self._digest = digest
            self._heads.add((len(self.steps), digest))
        self._key = key if self.mac_status == "verified" else None
        self._size = len(data)
        self._hasher = hashlib.sha256(data)

    def _not_a_ledger(self, first: bytes) -> str:
        where = f"ledger {str(self.path)!r}"
        try:
            old = json.loads(first.decode().split(" ", 1)[1])
            if isinstance(old, dict) and old.get("type") == "header" and old.get("version") == 1:
                return (f"{where} is a version 1 ledger, without the hash chain that makes its ε checkable; armour "
                        f"refuses it (version {VERSION} expected): start a new ledger")
        except (UnicodeDecodeError, ValueError, IndexError):
            pass
        return f"{where} is not an armour privacy ledger (version {VERSION})"

    def _check_mac_mode(self, header: dict[str, Any], key: bytes | None) -> str:
        if header.get("mac") == _MAC:
            return "verified" if key else f"not checked: {KEY_ENV} is not set"
        if header.get("mac") is not None:
            raise LedgerError(f"ledger {str(self.path)!r}: unknown MAC scheme {header.get('mac')!r}")
        if key:
            raise LedgerError(f"ledger {str(self.path)!r} carries no MAC but {KEY_ENV} is set: it cannot be verified "
                              f"(anyone could have rewritten it); unset {KEY_ENV} to read it unverified")
        return "none"

    def _load_record(self, rec: dict[str, Any], lineno: int) -> None:
        kind = rec.get("type")
        if kind == "header":
            if self.header:
                raise LedgerError(f"ledger {str(self.path)!r}: line {lineno}: a second header")
            self.header = rec
        elif kind == "session":
            self.sessions.append(rec)
        elif kind == "step":
            if rec.get("step") != len(self.steps):
                raise LedgerError(f"ledger {str(self.path)!r}: line {lineno}: step {rec.get('step')} out of order "
                                  f"(expected {len(self.steps)})")
            self.steps.append(rec)
        elif kind == "repair":
            self.repairs.append(rec)
        elif kind == "void":
            reason = rec.get("reason")
            if (self._last_kind != "step" or rec.get("step") != len(self.steps) - 1
                    or not isinstance(reason, str) or not reason.strip()):
                raise LedgerError(f"ledger {str(self.path)!r}: line {lineno}: a void record may void only the step "
                                  f"record just before it, with a reason (got step {rec.get('step')!r} after a "
                                  f"{self._last_kind!r} record)")
            self.voids.append(rec)
            self._voided.add(rec["step"])
        elif kind == "audit":
            self._load_audit(rec, lineno)
        else:
            raise LedgerError(f"ledger {str(self.path)!r}: line {lineno}: unknown record type {kind!r}")
        self._last_kind = kind

    def _load_audit(self, rec: dict[str, Any], lineno: int | None) -> None:
        """An audit record is checked like a step: it must name a step count the ledger has reached, and its
        ε lower bound must be what its counts give (recomputed here). ``lineno=None``: check only."""
        from .canaries import check_record

        where = f"ledger {str(self.path)!r}: " + ("audit record" if lineno is None else f"line {lineno}: audit record")
        steps = rec.get("steps")
        if not isinstance(steps, int) or not 0 <= steps <= self.num_steps:
            raise LedgerError(f"{where} names {steps!r} steps; the ledger has {self.num_steps} before it")
        try:
            check_record(rec)
        except ValueError as exc:
            raise LedgerError(f"{where}: {exc}") from None
        if lineno is not None:
            self.audits.append(rec)

    @property
    def head(self) -> LedgerHead:
        """The chain head: step records in the chain (voided ones included: a void adds a record, it removes
        none) and the digest of the last record (stamped into checkpoints)."""
        return LedgerHead(len(self.steps), self._digest)

    def verify_head(self, head: LedgerHead | str, *, what: str = "checkpoint") -> None:
        """Raise unless this ledger's chain passes through ``head`` (the head a checkpoint was saved with):
        fewer steps means the ledger was cut; another digest, that it is not this model's ledger."""
        head = LedgerHead.parse(head) if isinstance(head, str) else head
        where = f"ledger {str(self.path) if self.path else '(in memory)'!r}"
        if head.steps > len(self.steps):
            raise LedgerError(f"{where} is truncated: the {what} was saved after {head.steps} DP-SGD steps, the ledger "
                              f"records only {len(self.steps)} (its ε would be under-reported)")
        if (head.steps, head.digest) not in self._heads:
            raise LedgerError(f"{where} does not belong to the {what}: its hash chain never reaches the {what}'s head "
                              f"at step {head.steps} (another run's ledger, records before that step were changed, "
                              "or the record the head names was cut off)")
        for void in self.voids:
            if void["prev"] == head.digest:  # a head is stamped only after its step ran
                raise LedgerError(f"{where} voids step {void['step']}, which the {what} shows was taken (its head "
                                  f"was stamped after that step ran): the void under-reports ε")

    # ------------------------------------------------------------------ writing
    def _writable(self) -> None:
        if self.readonly:
            raise LedgerError(f"ledger {str(self.path)!r} was opened read-only")
        if self.header.get("mac") == _MAC and self._key is None:
            raise LedgerError(f"ledger {str(self.path)!r} carries MACs: appending to it needs {KEY_ENV}")

    def _acquire(self) -> None:
        """Become the only writer: create the file if new, lock it, check it is still what was read."""
        self._writable()

        where = f"ledger {str(self.path)!r}"
        if not self._on_disk:
            first, _ = _encode(self.header, self._key)
            try:
                atomic_write_bytes(self.path, first, overwrite=False)
            except FileExistsError:
                raise LedgerError(f"{where} was created by another process after this one opened it") from None
            self._on_disk = True
            self._size = len(first)
            self._hasher = hashlib.sha256(first)
        fd = _lock_for_writing(self.path)
        with os.fdopen(os.dup(fd), "rb") as fh:
            fh.seek(0)
            current = fh.read()
        if len(current) != self._size or hashlib.sha256(current).hexdigest() != self._hasher.hexdigest():
            os.close(fd)
            raise LedgerError(f"{where} changed since it was opened (another writer, or an edit); open it again")
        self._fd = fd

    def _add(self, record: dict[str, Any], *, write: bool = True) -> None:
        """Chain ``record`` to the head and (``write``) append it to the file."""
        record = {**record, "prev": self._digest}
        line, digest = _encode(record, self._key)
        if write and self.path is not None:
            if self._fd is None:
                self._acquire()
            written = os.write(self._fd, line)
            if written != len(line):
                raise LedgerError(f"ledger {str(self.path)!r}: short write ({written} of {len(line)} bytes)")
            self._size += len(line)
            self._hasher.update(line)
            self._dirty = True
        self._load_record(record, 0)
        self._own_step = None
        self._digest = digest
        self._heads.add((len(self.steps), digest))
        if write and self.path is not None and (
                self.durability == "step" or time.monotonic() - self._last_sync >= self.sync_interval):
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
        index = len(self.sessions)
        self._add({"type": "session", "index": index, "start_step": len(self.steps), "time": time.time(), **meta})
        self.sync()
        return index

    def record_step(self, *, sigma: float, q: float, sampling: str, epoch: int, **mechanism: Any) -> int:
        """Append one step (before it runs); returns its index."""
        step = len(self.steps)
        self._add({"type": "step", "step": step, "sigma": float(sigma), "q": float(q), "sampling": sampling,
                   "epoch": int(epoch), **mechanism})
        self._own_step = step
        return step

    def record_audit(self, **audit: Any) -> dict[str, Any]:
        """Append a one-run privacy audit (see :mod:`.canaries`; checked before it is written) and sync it."""
        self._load_audit(audit, None)
        self._add({"type": "audit", "time": time.time(), **audit})
        self.sync()
        return self.audits[-1]

    def void_last_step(self, reason: str) -> dict[str, Any]:
        """Void the step this writer charged last, because it failed before anything of it was released;
        appends a chained ``void`` record (synced) stating ``reason`` and returns it.

        Refused unless the last record is that step (so never a step of an earlier session, another
        writer's, or one already voided) and this writer still holds the lock it charged it under. Only the
        caller can know that nothing was released: void only what provably never reached the parameters."""
        self._writable()
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInputError(f"reason: expected a non-empty string saying why the step never ran, got "
                                    f"{reason!r}")
        where = f"ledger {str(self.path) if self.path else '(in memory)'!r}"
        last = len(self.steps) - 1
        if self._last_kind != "step":
            raise LedgerError(f"{where}: only the last record can be voided, and it must be a step; the last record "
                              f"is a {self._last_kind!r} record")
        if self._own_step != last:
            raise LedgerError(f"{where}: step {last} was not charged by this writer in this session; only the "
                              "writer that charged a step can void it")
        if self.path is not None and self._fd is None:
            raise LedgerError(f"{where}: this writer no longer holds the lock it charged step {last} under "
                              "(another writer may have appended since); the step stays charged")
        self._add({"type": "void", "step": last, "reason": reason.strip()[:500], "time": time.time()})
        self.sync()
        return self.voids[-1]

    def sync(self) -> None:
        """Flush appended records to disk (``fsync``)."""
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._dirty = False
        self._last_sync = time.monotonic()

    def close(self) -> None:
        """Sync and give up the writer's lock (a later append takes it again, after re-checking the file;
        the last step can no longer be voided)."""
        self.sync()
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
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

    @classmethod
    def repair(cls, path: str | os.PathLike) -> dict[str, Any]:
        """Remove a damaged *last* line deliberately, under the writer's lock, and append a ``repair`` record
        saying what was removed (line, bytes, SHA-256). Only the last line can be repaired: damage anywhere
        else is an error. Returns the repair record.

        A torn write-ahead record belongs to a step that never ran, so dropping it is sound; if the line was a
        step that did run, the checkpoint head still shows the missing step."""

        path = Path(path)
        data = _read_bytes(path)
        try:
            cls(path, _readonly=True)
        except LedgerError as exc:
            if "(the last) is damaged" not in str(exc):
                raise
        else:
            raise LedgerError(f"ledger {str(path)!r}: nothing to repair (every line verifies)")
        body = data[:-1] if data.endswith(b"\n") else data
        cut = body.rfind(b"\n") + 1
        if cut == 0:
            raise LedgerError(f"ledger {str(path)!r}: the header itself is damaged; nothing can be repaired")
        led = cls(path, _data=data[:cut])
        led._writable()
        fd = _lock_for_writing(path)
        if os.fstat(fd).st_size != len(data):
            os.close(fd)
            raise LedgerError(f"ledger {str(path)!r} changed while being repaired; try again")
        os.ftruncate(fd, cut)
        os.fsync(fd)
        led._fd = fd
        dropped = data[cut:]
        record = {"type": "repair", "line": data[:cut].count(b"\n") + 1, "dropped_bytes": len(dropped),
                  "dropped_sha256": hashlib.sha256(dropped).hexdigest(), "time": time.time()}
        led._add(record)
        led.close()
        return led.repairs[-1]

    # ------------------------------------------------------------------ accounting
    @property
    def counted_steps(self) -> list[dict[str, Any]]:
        """The step records that count: every charged step except the voided ones."""
        return [s for s in self.steps if s["step"] not in self._voided] if self._voided else self.steps

    @property
    def num_steps(self) -> int:
        """Steps taken (charged and not voided): what ε is computed from."""
        return len(self.steps) - len(self._voided)

    @property
    def charged_steps(self) -> int:
        """Step records in the chain, voided ones included (the head's step count)."""
        return len(self.steps)

    def summary(self) -> str:
        """One line: steps charged and, if any, those voided with their reasons."""
        text = f"{self.charged_steps} DP-SGD steps charged"
        if self.voids:
            text += f", {len(self.voids)} voided (" + "; ".join(f"step {v['step']}: {v['reason']}"
                                                                  for v in self.voids) + ")"
        return text

    def events(self, upto: int | None = None) -> list[AccountantEvent]:
        """The counted steps (the first ``upto`` of them) as accountant events: runs of identical Poisson
        steps are merged; shuffled steps are grouped per pass (epoch) and charged at the pass's smallest
        noise multiplier."""
        steps = self.counted_steps
        return list(events_from_steps(steps if upto is None else steps[:upto]))

    def epsilon(self, delta: float, accountant: Any = "pld", *, upto: int | None = None) -> float:
        """ε of the recorded steps (recomputed from the records, whatever printed it before)."""
        from .calibration import resolve_accountant

        acc = resolve_accountant(accountant)
        for event in self.events(upto):
            acc.step(noise_multiplier=event.noise_multiplier, sampling_rate=event.sampling_rate,
                     steps=event.steps, sampling=event.sampling)
        return acc.epsilon(delta)


def read_ledger_head(path: str | os.PathLike) -> LedgerHead | None:
    """The ledger head DPModel stamped into the checkpoint at ``path`` (``None`` if it has none)."""
    from armour_core.ms.checkpoint import read_checkpoint_entry

    text = read_checkpoint_entry(path, CHECKPOINT_KEY)
    return None if text is None else LedgerHead.parse(text)


def verify_ledger(path: str | os.PathLike, *, checkpoint: str | os.PathLike | None = None) -> PrivacyLedger:
    """Read ``path`` (read-only) and, given the ``checkpoint`` of the model it is claimed for, check that its
    chain reaches the head stamped into that checkpoint. A checkpoint without a head is refused: nothing then
    ties the ledger to the model."""
    ledger = PrivacyLedger.read(path)
    if checkpoint is not None:
        head = read_ledger_head(checkpoint)
        if head is None:
            raise LedgerError(f"checkpoint {str(checkpoint)!r} carries no ledger head ({CHECKPOINT_KEY}; it was not "
                              "saved by DPModel), so the ledger cannot be tied to it")
        ledger.verify_head(head)
    return ledger


def _report_audits(ledger: PrivacyLedger) -> bool:
    """Print the ledger's one-run privacy audits, each against the claimed ε; whether one exceeds it (a FAIL)."""
    import sys

    from .canaries import ledger_audits

    audits = ledger_audits(ledger)
    for audit in audits:
        print(audit.describe(), file=sys.stderr if audit.violated else sys.stdout)
    return any(a.violated for a in audits)


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


def _add_arguments(parser) -> None:
    parser.add_argument("action", choices=("verify", "repair"),
                        help="verify: read-only check of the chain (and --checkpoint's head); repair: drop a "
                             "damaged last line, recording the repair in the ledger")
    parser.add_argument("path", help="the ledger file")
    parser.add_argument("--checkpoint", help="with verify: a DPModel checkpoint whose ledger head must be reached")


def run_cli(args) -> int:
    """Verify or repair ``args.path``: 0 when done, 1 when a recorded one-run audit found an empirical ε above
    the claimed one, 2 with one line on stderr when the ledger is refused."""
    import sys

    try:
        if args.action == "repair":
            if args.checkpoint:
                raise LedgerError("--checkpoint only applies to verify")
            rec = PrivacyLedger.repair(args.path)
            print(f"removed line {rec['line']} ({rec['dropped_bytes']} bytes, sha256 {rec['dropped_sha256']}); "
                  "the repair is recorded in the ledger")
        else:
            led = verify_ledger(args.path, checkpoint=args.checkpoint)
            print(f"ledger {args.path}: {led.num_steps} steps, head {led.head.encode()}, MAC {led.mac_status}"
                  + (f" ({led.summary()})" if led.voids else "")
                  + (", reaches the checkpoint's head" if args.checkpoint else ""))
            if _report_audits(led):
                return 1
    except LedgerError as exc:
        print(f"{getattr(args, 'prog', 'armour')}: error: {exc}", file=sys.stderr)  # one line, as every command
        return 2
    return 0


def register_cli(subparsers) -> None:
    """``armour ledger verify|repair PATH [--checkpoint CKPT]``."""
    p = subparsers.add_parser("ledger", help="verify a privacy ledger, or repair its damaged last line",
                              description="Verify a privacy ledger (read-only: its hash chain, its MAC when "
                                          "ARMOUR_LEDGER_KEY is set, and that it reaches a checkpoint's stamped "
                                          "head), or deliberately repair a damaged last line.")
    _add_arguments(p)
    p.set_defaults(func=run_cli)


def _main(argv: list[str] | None = None) -> int:
    """``python -m armour_plugins_privacy.dp.ledger verify|repair PATH [--checkpoint CKPT]`` (no MindSpore)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m armour_plugins_privacy.dp.ledger",
                                     description="Verify a privacy ledger, or deliberately repair its damaged "
                                                 "last line.")
    _add_arguments(parser)
    parser.set_defaults(prog=parser.prog)
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(_main())
