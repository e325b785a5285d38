"""Every test runs in at least one CI session (noxfile.py).

The ``attacks``/``privacy``/``fuzz`` sessions run ``armour_plugins_X/tests`` with only that distribution and
armour-core installed, so a test there that needs a sibling distribution skips in every session. Such a test
lives in ``tests/`` (the ``tests`` session installs everything). This guard scans the plugin test trees
statically (ast, no imports, no MindSpore: it runs in the ``core`` session too) for sibling imports and for skip
conditions or messages that name a sibling distribution or a plugin kind a sibling provides.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from armour_core.testing.markers import has_module

ROOT = Path(__file__).resolve().parent.parent
DISTS = ("attacks", "privacy", "fuzz")

#: plugin kinds each distribution provides (checked against the registry where everything is installed)
KINDS = {"attacks": {"attack", "defense", "detector"},
         "privacy": {"noise", "clip", "accountant", "suppressor", "inference"},
         "fuzz": {"mutator", "coverage", "scheduler"}}

#: calls that make a test depend on what is installed
SKIP_CALLS = {"skip", "skipif", "xfail", "importorskip", "has_module", "find_spec", "import_module"}


def _sibling_words(own: str) -> dict[str, str]:
    """Words that point at a sibling distribution: its package and distribution names, its kinds (and plurals)."""
    words = {}
    for other in DISTS:
        if other == own:
            continue
        words[f"armour_plugins_{other}"] = words[f"armour-plugins-{other}"] = other
        for kind in KINDS[other]:
            words[kind] = words[kind + "s"] = other
    return words


def _call_name(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _mentions(node: ast.AST, words: dict[str, str]) -> set[str]:
    """Sibling words in the string constants and called function names under ``node``."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            tokens = re.findall(r"[\w-]+", sub.value)
        elif isinstance(sub, ast.Call):
            tokens = _call_name(sub).split("_")
        else:
            continue
        found |= {words[t] for t in tokens if t in words}
    return found


def _is_skip_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _call_name(node) in SKIP_CALLS


def sibling_dependencies(path: Path, own: str) -> list[str]:
    """``line: what`` for each place in ``path`` where a test depends on a sibling of distribution ``own``."""
    words = _sibling_words(own)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        hits: set[str] = set()
        if isinstance(node, ast.Import):
            hits = {words[a.name.split(".")[0]] for a in node.names if a.name.split(".")[0] in words}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            hits = {words[top]} if top in words else set()
        elif _is_skip_call(node):
            hits = _mentions(node, words)
        elif isinstance(node, ast.If) and any(_is_skip_call(s) for b in node.body for s in ast.walk(b)):
            hits = _mentions(node.test, words)  # ``if <condition>: pytest.skip(...)``
        found += [f"{path.relative_to(ROOT)}:{node.lineno}: needs armour-plugins-{h}" for h in sorted(hits)]
    return found


def _plugin_test_files(dist: str) -> list[Path]:
    return sorted((ROOT / f"armour_plugins_{dist}" / "tests").rglob("*.py"))


def test_plugin_test_trees_exist():
    """The scan below would pass vacuously on a moved tree."""
    for dist in DISTS:
        assert _plugin_test_files(dist), f"armour_plugins_{dist}/tests has no Python files"


@pytest.mark.parametrize("dist", DISTS)
def test_no_plugin_test_needs_a_sibling_distribution(dist):
    """A test that needs two distributions lives in tests/: in armour_plugins_X/tests it skips in every
    session, because the X session installs X alone."""
    bad = [hit for path in _plugin_test_files(dist) for hit in sibling_dependencies(path, dist)]
    assert not bad, "move these tests to tests/ (see CONTRIBUTING.md):\n" + "\n".join(bad)


def test_the_scan_catches_each_kind_of_dependency(tmp_path, monkeypatch):
    """Each pattern that made a fuzz test skip everywhere (issue 10) is reported; own-kind skips are not."""
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    src = tmp_path / "t.py"
    src.write_text(
        "import pytest\n"
        "from armour_plugins_attacks.gradient import fgsm\n"                                         # 2
        "needs = pytest.mark.skipif(not any(s.facet.fuzzing for s in registry.specs('attack')),\n"   # 3
        "                           reason='x')\n"
        "def test_a():\n"
        "    if 'fgsm' not in adversarial_attack_names():\n"                                         # 6
        "        pytest.skip('needs fgsm')\n"
        "    pytest.importorskip('armour_plugins_privacy')\n"                                        # 8
        "def test_b():\n"
        "    if 'rotate' not in registry.names('mutator'):\n"
        "        pytest.skip('no affine mutator registered')\n"
        "    pytest.importorskip('mindspore')\n", encoding="utf-8")
    assert sibling_dependencies(src, "fuzz") == [
        "t.py:2: needs armour-plugins-attacks", "t.py:3: needs armour-plugins-attacks",
        "t.py:6: needs armour-plugins-attacks", "t.py:8: needs armour-plugins-privacy"]


@pytest.mark.skipif(not all(has_module(f"armour_plugins_{d}") for d in DISTS),
                    reason="needs every plugin distribution (the 'tests' session)")
def test_kind_table_matches_the_registry():
    """The kinds in ``KINDS`` are exactly those each distribution registers."""
    from armour_core import registry

    provided: dict[str, set[str]] = {d: set() for d in DISTS}
    for kind in registry.kinds():
        for spec in registry.specs(kind):
            if spec.dist.startswith("armour-plugins-"):
                provided[spec.dist.removeprefix("armour-plugins-")].add(kind)
    assert provided == KINDS
