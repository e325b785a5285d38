"""Test and benchmark sessions. ``nox`` runs every session except ``bench``.

Each plugin distribution is tested installed alone with armour-core (proving it needs nothing else). ``tests/``
runs three times: ``core`` without MindSpore, ``core-ms`` with MindSpore but no plugin distribution (so the
core's own code, the ``ms/`` runtime, CLI frame and audit runner, is tested in core), and ``tests`` with
everything installed (the core tests again plus the cross-distribution ones). Each test states what it needs
(``requires_mindspore`` / ``requires_dists``); tests/test_every_test_runs.py checks the marks.
Sessions use uv when it is available (MindSpore is an 800 MB wheel; uv links it from its cache).
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "core", "core-ms", "tests", "attacks", "privacy", "fuzz"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
DISTS = {"attacks": "./armour_plugins_attacks", "privacy": "./armour_plugins_privacy", "fuzz": "./armour_plugins_fuzz"}


def _env(session: nox.Session) -> dict[str, str]:
    """Strict plugin loading, a cache shared by all sessions (default models train once), quiet progress."""
    cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".nox", "_armour_cache")
    return {"ARMOUR_PLUGINS_STRICT": "1", "ARMOUR_CACHE_DIR": os.environ.get("ARMOUR_CACHE_DIR", cache),
            "ARMOUR_PROGRESS": "0", "HYPOTHESIS_PROFILE": "ci", "PYTHONDONTWRITEBYTECODE": "1",
            "ARMOUR_REQUIRE_BROWSER": os.environ.get("ARMOUR_REQUIRE_BROWSER", "0")}


def _without(session: nox.Session, *dists: str) -> None:
    """Fail the session if any of ``dists`` is installed (a session that must prove it runs without them)."""
    session.run("python", "-c", "import importlib.metadata as md, sys\n"
                "def there(d):\n    try:\n        return bool(md.distribution(d))\n"
                "    except md.PackageNotFoundError:\n        return False\n"
                f"bad = [d for d in {list(dists)!r} if there(d)]\n"
                "sys.exit(f'must not be installed here: {bad}' if bad else 0)")


def _pytest(session: nox.Session, *paths: str) -> None:
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "--durations=10", *paths,
                *session.posargs, env=_env(session))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Static checks (ruff) over every distribution."""
    session.install("ruff>=0.4")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def core(session: nox.Session) -> None:
    """armour-core alone, without MindSpore: registry, failure policy, CLI listing, bases, kit."""
    session.install(".[testing]")
    _without(session, "mindspore", *(f"armour-plugins-{d}" for d in DISTS))
    _pytest(session, "tests")


@nox.session(name="core-ms", python=PYTHON)
def core_ms(session: nox.Session) -> None:
    """armour-core with MindSpore, no plugin distribution: ms/ runtime, MSModel, checkpoints, CLI, audit runner."""
    session.install(".[testing,mindspore]")
    _without(session, *(f"armour-plugins-{d}" for d in DISTS))
    _pytest(session, "tests")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Everything installed (strict): core tests and cross-distribution integration."""
    session.install(".[testing,mindspore,ray]", *DISTS.values(), "mlxtend>=0.23", "matplotlib>=3.7", "selenium>=4.10")
    _pytest(session, "tests")


def _alone(session: nox.Session, name: str) -> None:
    # Only ``name`` is installed, so a test in its tree that needs a sibling distribution would skip in every
    # session: a test that needs two distributions lives in tests/ (the ``tests`` session), and
    # tests/test_every_test_runs.py fails on a plugin test that imports a sibling or skips on one.
    # the dist brings the rest itself; ray for the executor tests (LiRA/RMIA shadows, sharded evaluation, campaigns)
    session.install(".[testing,mindspore,ray]", DISTS[name], "mlxtend>=0.23")
    _without(session, *(f"armour-plugins-{d}" for d in DISTS if d != name))
    _pytest(session, f"{DISTS[name]}/tests")


@nox.session(python=PYTHON)
def attacks(session: nox.Session) -> None:
    """armour-plugins-attacks installed alone with armour-core."""
    _alone(session, "attacks")


@nox.session(python=PYTHON)
def privacy(session: nox.Session) -> None:
    """armour-plugins-privacy installed alone with armour-core."""
    _alone(session, "privacy")


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """armour-plugins-fuzz installed alone with armour-core."""
    _alone(session, "fuzz")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks against MindArmour 2.0.0 (installed here only); writes benchmarks/RESULTS.md."""
    session.install(".[mindspore,ray]", *DISTS.values(), "mlxtend>=0.23", "matplotlib>=3.7")  # ray: executor benches
    session.install("mindarmour==2.0.0", "numpy>=1.25,<2")
    session.run("python", "benchmarks/run.py", *session.posargs, env={"ARMOUR_PROGRESS": "0"})
