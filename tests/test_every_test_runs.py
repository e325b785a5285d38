"""Every test runs in at least one CI session (noxfile.py).

``tests/`` runs in three sessions: ``core`` (armour-core alone, no MindSpore), ``core-ms`` (armour-core with
MindSpore, no plugin distribution) and ``tests`` (everything). A test in ``tests/`` states what it needs with
:func:`~armour_core.testing.markers.requires_mindspore` or ``requires_dists(...)`` (module ``pytestmark``, class
or function); the scan below finds what each test uses (imports, ``registry.create("attack", ...)`` of a kind a
distribution provides, the MindSpore fixtures) and fails on a use its marks do not cover, so the core sessions
run every core test and skip only the ones that need what they lack.

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

from armour_core import MOVED
from armour_core.testing.markers import requires_dists

ROOT = Path(__file__).resolve().parent.parent
DISTS = ("attacks", "privacy", "fuzz")

#: plugin kinds each distribution provides (checked against the registry where everything is installed)
KINDS = {"attacks": {"attack", "defense", "detector", "certifier"},
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


@requires_dists(*DISTS)
def test_kind_table_matches_the_registry():
    """The kinds in ``KINDS`` are exactly those each distribution registers."""
    from armour_core import registry

    provided: dict[str, set[str]] = {d: set() for d in DISTS}
    for kind in registry.kinds():
        for spec in registry.specs(kind):
            if spec.dist.startswith("armour-plugins-"):
                provided[spec.dist.removeprefix("armour-plugins-")].add(kind)
    assert provided == KINDS


# ------------------------------------------------------------------------------------ tests/ across sessions
#: what each session of noxfile.py installs besides armour-core: MindSpore?, plugin distributions
SESSIONS = {"core": (False, frozenset()), "core-ms": (True, frozenset()), "tests": (True, frozenset(DISTS))}

#: ``from armour_core import X`` names that moved to a plugin distribution (core's own table of lazy names)
LAZY = {name: dist.removeprefix("armour-plugins-") for name, (_, dist) in MOVED.items()}
#: fixtures of the armour pytest plugin that build MindSpore models
MS_FIXTURES = {"armour_mlp", "armour_lenet", "armour_softmax"}
#: registry calls whose first argument is a kind
REGISTRY_CALLS = {"create", "get", "spec", "specs", "names"}
#: tests that name a distribution's kind without needing the distribution
OWN_KINDS = {
    "test_registry.py::test_missing_first_party_distribution_is_named": "asks an empty registry, for the install hint",
    "test_registry.py::test_in_process_registration_and_create_validates": "registers its own noise plugin",
}
#: skips in tests/ that depend on the environment rather than on a session (each with its reason)
ENVIRONMENT_SKIPS = {
    "test_audit_report.py::test_report_renders_in_headless_chromium":
        "headless Chromium / chromedriver (ARMOUR_REQUIRE_BROWSER=1 in CI makes it a failure)",
    "test_pitfalls_everywhere.py::test_every_benchmark_result_states_the_execution_mode_and_command":
        "benchmarks/RESULTS.md absent from a source distribution",
}


def _module_needs(module: str) -> set[str]:
    """What importing ``module`` needs: ``"mindspore"`` and/or a distribution."""
    top = module.split(".")[0]
    if top.startswith("armour_plugins_"):
        return {top.removeprefix("armour_plugins_")}
    if top == "mindspore" or module == "armour_core.ms" or module.startswith("armour_core.ms."):
        return {"mindspore"}
    return set()


def _uses(node: ast.AST) -> set[str]:
    """What the code under ``node`` uses directly (imports, kinds asked of the registry)."""
    kind_dist = {k: d for d, kinds in KINDS.items() for k in kinds}
    used: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            for a in sub.names:
                used |= _module_needs(a.name)
        elif isinstance(sub, ast.ImportFrom) and sub.module and not sub.level:
            for a in sub.names:  # ``from armour_plugins_fuzz import fuzzer``: the submodule says more
                used |= _module_needs(f"{sub.module}.{a.name}") or _module_needs(sub.module)
            if sub.module == "armour_core":
                used |= {LAZY[a.name] for a in sub.names if a.name in LAZY}
                used |= {"mindspore" for a in sub.names if a.name == "MSModel"}
        elif (isinstance(sub, ast.Call) and _call_name(sub) in REGISTRY_CALLS and sub.args
              and isinstance(sub.args[0], ast.Constant) and sub.args[0].value in kind_dist):
            used.add(kind_dist[sub.args[0].value])
    return used


def _marks(decorators: list[ast.expr]) -> set[str]:
    """What a list of decorators (or ``pytestmark`` values) declares."""
    declared: set[str] = set()
    for dec in decorators:
        for sub in ast.walk(dec):
            if isinstance(sub, ast.Name) and sub.id == "requires_mindspore":
                declared.add("mindspore")
            elif isinstance(sub, ast.Call) and _call_name(sub) == "requires_dists":
                declared |= {"mindspore", *(a.value for a in sub.args if isinstance(a, ast.Constant))}
    return declared


def _pytestmark(body: list[ast.stmt]) -> set[str]:
    """``pytestmark = ...`` and a top-level ``skip_module_unless_dists(...)``."""
    declared = _marks([s.value for s in body if isinstance(s, ast.Assign)
                       and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in s.targets)])
    for s in body:
        if (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                and _call_name(s.value) == "skip_module_unless_dists"):
            declared |= {"mindspore", *(a.value for a in s.value.args if isinstance(a, ast.Constant))}
    return declared


def undeclared_needs(path: Path) -> list[str]:
    """``line test: uses X`` for each test in ``path`` that uses something its marks do not declare (module
    code, the module's helpers and fixtures it calls or requests, transitively, count as its own)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    helpers = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    top_level = [s for s in tree.body if not isinstance(s, (ast.FunctionDef, ast.ClassDef))]
    module_uses = set().union(*(_uses(s) for s in top_level)) if top_level else set()
    module_marks = _pytestmark(tree.body)

    def closure(fn: ast.AST) -> set[str]:
        seen, todo, used = set(), [fn], set()
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            used |= _uses(node)
            names = {s.id for s in ast.walk(node) if isinstance(s, ast.Name)}
            if isinstance(node, ast.FunctionDef):
                names |= {a.arg for a in node.args.args}
                used |= {"mindspore" for a in node.args.args if a.arg in MS_FIXTURES}
            todo += [helpers[n] for n in names if n in helpers]
        return used

    tests = [(fn, set()) for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test")]
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name.startswith("Test"):
            tests += [(fn, _marks(cls.decorator_list) | _pytestmark(cls.body)) for fn in cls.body
                      if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test")]
    bad = []
    for fn, class_marks in tests:
        declared = module_marks | class_marks | _marks(fn.decorator_list)
        missing = (module_uses | closure(fn)) - declared
        if f"{path.name}::{fn.name}" in OWN_KINDS:
            missing -= set(DISTS)
        if missing - {"mindspore"} and "mindspore" not in declared:
            missing.discard("mindspore")  # requires_dists(...) will say it
        if missing:
            what = ", ".join(sorted(missing))
            bad.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}: uses {what}")
    return bad


def _core_test_files() -> list[Path]:
    return sorted((ROOT / "tests").glob("test_*.py"))


def test_every_core_test_declares_what_it_needs():
    """A test that needs a distribution but is not marked ``requires_dists`` fails in ``core-ms``; one that
    needs MindSpore but is not marked fails in ``core``: the scan says so before either session runs."""
    bad = [hit for path in _core_test_files() for hit in undeclared_needs(path)]
    assert not bad, ("mark these tests with requires_mindspore / requires_dists(...) "
                     "(armour_core.testing.markers):\n" + "\n".join(bad))


def test_core_tests_skip_only_through_the_session_marks():
    """Any other skip could hide a test from every session; the environment skips left are listed with why."""
    bad = []
    for path in _core_test_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for top in tree.body:
            if f"{path.name}::{getattr(top, 'name', '')}" in ENVIRONMENT_SKIPS:
                continue
            bad += [f"{path.name}:{node.lineno}: {_call_name(node)}" for node in ast.walk(top)
                    if _is_skip_call(node) and _call_name(node) not in ("has_module", "import_module", "find_spec")
                    and not (_call_name(node) == "importorskip" and node.args  # in the [testing] extra
                             and isinstance(node.args[0], ast.Constant) and node.args[0].value == "jsonschema")]
    assert not bad, "use requires_mindspore / requires_dists(...) instead:\n" + "\n".join(bad)


def test_the_need_scan_catches_each_kind_of_use(tmp_path, monkeypatch):
    """Imports, registry kinds, plugin modules, lazy names, fixtures and helpers are each attributed."""
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    src = tmp_path / "test_x.py"
    src.write_text(
        "from armour_core.testing.markers import requires_dists, requires_mindspore\n"
        "def _helper():\n"
        "    return registry.create('attack', 'x')\n"
        "def test_a():\n"                                          # 4: attacks via the helper
        "    _helper()\n"
        "def test_b(armour_mlp):\n"                                # 6: mindspore via the fixture
        "    pass\n"
        "@requires_mindspore\n"
        "def test_c():\n"                                          # 9: fuzz via its module
        "    from armour_plugins_fuzz.fuzzer.fuzzer import Fuzzer\n"
        "def test_d():\n"                                          # 11: privacy via the lazy name
        "    from armour_core import DPModel\n"
        "@requires_dists('attacks')\n"
        "def test_e():\n"                                          # 14: declared
        "    _helper()\n"
        "def test_f():\n"                                          # 16: nothing needed
        "    import numpy\n", encoding="utf-8")
    assert undeclared_needs(src) == ["test_x.py:4 test_a: uses attacks", "test_x.py:6 test_b: uses mindspore",
                                     "test_x.py:9 test_c: uses fuzz", "test_x.py:11 test_d: uses privacy"]


def _nox_sessions() -> dict[str, str]:
    """Session name -> source of its function, from noxfile.py (read statically: nox is not installed here)."""
    text = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    out = {}
    for node in ast.parse(text).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            if isinstance(dec, ast.Call) and _call_name(dec) == "session":
                named = [k.value.value for k in dec.keywords if k.arg == "name" and isinstance(k.value, ast.Constant)]
                out[named[0] if named else node.name] = ast.get_source_segment(text, node)
    return out


def test_nox_defines_the_three_sessions_of_tests_dir():
    """core (no MindSpore, no plugin), core-ms (MindSpore, no plugin) and tests (everything) run tests/ by default,
    so each combination of marks above runs somewhere."""
    sessions = _nox_sessions()
    default = re.search(r"nox\.options\.sessions\s*=\s*\[(.*?)\]", (ROOT / "noxfile.py").read_text()).group(1)
    for name, (mindspore, dists) in SESSIONS.items():
        assert name in sessions and f'"{name}"' in default, f"noxfile.py: no default session {name!r}"
        body = sessions[name]
        assert '"tests"' in body, f"session {name!r} does not run tests/"
        with_ms = re.search(r"\.\[[^\]]*\bmindspore\b[^\]]*\]", body) is not None
        assert with_ms == mindspore, f"session {name!r}: MindSpore installed should be {mindspore}"
        assert ("DISTS.values()" in body) == bool(dists), f"session {name!r}: plugin distributions {set(dists)}"
