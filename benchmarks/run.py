"""Run every ``benchmarks/bench_*.py`` (or those named on the command line) and assemble RESULTS.md.

Each script writes its own ``benchmarks/results/<area>.md``; this file concatenates them with the machine
and package versions, so the figures in RESULTS.md always come with the command that produced them.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).parent


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str]) -> int:
    """``run.py [names...]`` runs the matching scripts (all by default); ``run.py --collect`` only assembles
    RESULTS.md from the per-area files already in ``results/``."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if "--collect" in argv:
        scripts = []
    elif argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        if subprocess.run([sys.executable, str(script)], env=env).returncode != 0:
            failed.append(script.name)
    parts = ["# Benchmark results", "",
             "Produced by `nox -s bench` (equivalently `python benchmarks/run.py`). Each section names its own "
             "command and execution mode. Ratios are measured side by side in one process; absolute times on a "
             "shared 2-core machine vary by up to about 2x.", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
             f"mindspore {_version('mindspore')}, numpy {_version('numpy')}, mindarmour {_version('mindarmour')}.",
             ""]
    for md in sorted((HERE / "results").glob("*.md")):
        parts += [md.read_text().strip(), ""]
    if failed:
        parts += ["Failed scripts in the last run: " + ", ".join(failed), ""]
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
