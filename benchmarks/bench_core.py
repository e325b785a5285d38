"""Startup cost of the core: ``import armour_core`` and ``armour plugins`` vs a bare interpreter.

Run: ``python benchmarks/bench_core.py`` (writes benchmarks/results/core.md). Fresh interpreters, rounds
interleaved, medians reported; every listing run also reports whether MindSpore got imported.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROUNDS = 15
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import armour_core": [sys.executable, "-c", "import armour_core"],
    "list every plugin (registry)": [sys.executable, "-c",
                                     "import sys\nfrom armour_core import registry\n"
                                     "[registry.names(k) for k in registry.kinds()]\n"
                                     "sys.exit(3 if 'mindspore' in sys.modules else 0)"],
    "armour plugins": [sys.executable, "-c",
                       "import sys\nfrom armour_core.cli import main\nimport io, contextlib\n"
                       "with contextlib.redirect_stdout(io.StringIO()):\n    main(['plugins'])\n"
                       "sys.exit(3 if 'mindspore' in sys.modules else 0)"],
    "python -c 'import mindspore' (for scale)": [sys.executable, "-c", "import mindspore"],
}


def main() -> None:
    times: dict[str, list[float]] = {k: [] for k in CASES}
    heavy: dict[str, bool] = {k: False for k in CASES}
    for _ in range(ROUNDS):
        for name, cmd in CASES.items():
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True)
            times[name].append(time.perf_counter() - t0)
            heavy[name] |= proc.returncode == 3
            if proc.returncode not in (0, 3):
                raise SystemExit(f"{name} failed: {proc.stderr.decode()}")
    base = statistics.median(times["python -c pass"])
    lines = ["## Core startup (wall time of a fresh interpreter)", "",
             f"Command: `python benchmarks/bench_core.py` — {ROUNDS} interleaved rounds, medians. "
             "No MindSpore execution is involved (mode not applicable).", "",
             "| command | median ms | minus bare python (ms) | imported mindspore |", "|---|---|---|---|"]
    for name in CASES:
        med = statistics.median(times[name]) * 1000
        flag = "yes" if heavy[name] else ("—" if "mindspore" in name else "no")
        lines.append(f"| {name} | {med:.0f} | {med - base * 1000:.0f} | {flag} |")
    out = Path(__file__).parent / "results" / "core.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
