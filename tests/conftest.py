"""Core tests: our own runs are strict (a broken plugin fails loudly) and quiet."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
import shutil

import pytest

os.environ.setdefault("ARMOUR_PLUGINS_STRICT", "1")
os.environ.setdefault("ARMOUR_PROGRESS", "0")

FIXTURES = Path(__file__).parent / "fixtures" / "dists"


def install_fixture(src: Path, site: Path) -> None:
    """Install a fixture distribution into ``site`` the way an installer lays it out (package + dist-info).

    The fixtures are ordinary projects (``pip install tests/fixtures/dists/NAME`` works too); writing the
    dist-info directly keeps the tests fast and offline.
    """
    project = tomllib.loads((src / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    layout = src / "src" if (src / "src").is_dir() else src
    for pkg in layout.iterdir():
        if (pkg / "__init__.py").exists():
            shutil.copytree(pkg, site / pkg.name)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             *[f"Requires-Dist: {d}" for d in project.get("dependencies", [])]]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    eps = project.get("entry-points", {})
    text = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) for group, items in eps.items())
    (info / "entry_points.txt").write_text(text)
    (info / "RECORD").write_text("")


@pytest.fixture(scope="session")
def fixture_sites(tmp_path_factory) -> dict[str, Path]:
    """One site directory per fixture distribution, keyed by distribution name."""
    out = {}
    for src in sorted(FIXTURES.iterdir()):
        site = tmp_path_factory.mktemp(src.name)
        install_fixture(src, site)
        out[src.name] = site
    return out


@pytest.fixture
def run_with(fixture_sites):
    """Run Python code in a fresh interpreter that also sees the named fixture distributions."""

    def run(code: str, *dists: str, env: dict[str, str] | None = None, check: bool = True):
        paths = [str(fixture_sites[d]) for d in dists]
        full = {**os.environ, "PYTHONPATH": os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]),
                **(env or {})}
        for k, v in list(full.items()):
            if v is None:
                del full[k]
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run
