"""Minimal progress reporting for long work (no dependency; quiet when stderr is not a terminal)."""

from __future__ import annotations

import os
import sys
import time


class Progress:
    """``with Progress(total, "PGD") as p: p.update(n)`` — a one-line bar on stderr.

    ``enabled=None`` shows it only on an interactive terminal (or when ``ARMOUR_PROGRESS=1``);
    ``ARMOUR_PROGRESS=0`` silences it everywhere.
    """

    def __init__(self, total: int, desc: str = "", *, enabled: bool | None = None, unit: str = "it"):
        env = os.environ.get("ARMOUR_PROGRESS")
        if enabled is None:
            enabled = env == "1" or (env != "0" and sys.stderr.isatty())
        self.enabled, self.total, self.desc, self.unit = enabled, max(int(total), 0), desc, unit
        self.done = 0
        self._t0 = time.perf_counter()
        self._last = 0.0

    def __enter__(self) -> "Progress":
        self._draw(force=True)
        return self

    def update(self, n: int = 1, **postfix: object) -> None:
        self.done += n
        self._postfix = postfix
        self._draw()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(24 * frac)
        rate = self.done / max(now - self._t0, 1e-9)
        extra = " ".join(f"{k}={v}" for k, v in getattr(self, "_postfix", {}).items())
        sys.stderr.write(f"\r{self.desc} [{bar:<24}] {self.done}/{self.total} {rate:.1f} {self.unit}/s {extra}")
        sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._draw(force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()
