"""Trust (issue 9, item 12): the registry's listing survives name clashes, env filters say when they match
nothing, and a misspelled hook marks its plugin broken. Everything here runs in the ``core`` session too
(fixture distributions in a fresh interpreter; no MindSpore)."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

NONSTRICT = {"ARMOUR_PLUGINS_STRICT": "0"}
CLASH = ("armour-fixture-clash-a", "armour-fixture-clash-b")

LIST = ("import json, warnings\nwarnings.simplefilter('ignore')\nfrom armour_core import registry\n"
        "print(json.dumps({'names': registry.names('noise'),\n"
        "  'all': registry.names('noise', include_unavailable=True),\n"
        "  'specs': [[s.name, s.dist] for s in registry.specs('noise')],\n"
        "  'status': [[s.plugin, s.state, s.dist, s.error] for s in registry.status()]}))")

CLI = "import sys\nfrom armour_core.cli import main\nsys.exit(main(sys.argv[1:]))"


def _json(proc):
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli(run_with, args, *dists, env=None):
    code = CLI.replace("sys.argv[1:]", repr(list(args)))
    return run_with(code, *dists, env=env, check=False)


def test_clash_keeps_listing_working_and_shows_both_distributions(run_with):
    out = _json(run_with(LIST, *CLASH, env=NONSTRICT))
    assert "fixture_dup" not in out["names"]  # not usable: never last-one-wins
    assert {"fixture_unique_a", "fixture_unique_b"} <= set(out["names"])  # the rest keeps working
    assert out["all"].count("fixture_dup") == 1
    assert sorted(d for n, d in out["specs"] if n == "fixture_dup") == sorted(CLASH)
    conflicts = [s for s in out["status"] if s[1] == "conflict"]
    assert len(conflicts) == 1
    assert "fixture_dup" in conflicts[0][3] and all(d in conflicts[0][3] for d in CLASH)


def test_clash_get_raises_conflict_in_both_modes(run_with):
    code = ("from armour_core import registry\nfrom armour_core.errors import PluginConflictError\n"
            "try:\n    registry.create('noise', 'fixture_dup')\nexcept PluginConflictError as e:\n    print(e)")
    for env in (NONSTRICT, {"ARMOUR_PLUGINS_STRICT": "1"}):
        line = run_with(code, *CLASH, env=env).stdout.strip().splitlines()[-1]
        assert "'fixture_dup'" in line and all(d in line for d in CLASH)


def test_clash_with_first_party_name_and_alias(run_with):
    code = ("import json, warnings\nwarnings.simplefilter('ignore')\nfrom armour_core import registry\n"
            "from armour_core.errors import PluginConflictError\nout = {}\n"
            "for kind, name in [('model', 'lenet5'), ('model', 'cnn'), ('dataset', 'mnist'), "
            "('dataset', 'mnist5k'), ('dataset', 'fixture_digits28')]:\n"
            "    try:\n        out[name] = ['ok', registry.spec(kind, name).dist]\n"
            "    except PluginConflictError as e:\n        out[name] = ['conflict', str(e)]\n"
            "out['models'] = registry.names('model', include_unavailable=True)\n"
            "out['usable'] = registry.names('model')\n"
            "out['status'] = [[s.state, s.error] for s in registry.status() if s.state == 'conflict']\n"
            "print(json.dumps(out))")
    out = _json(run_with(code, "armour-fixture-clash-core", env=NONSTRICT))
    assert out["lenet5"][0] == "conflict"
    assert "armour-core" in out["lenet5"][1] and "armour-fixture-clash-core" in out["lenet5"][1]
    assert out["cnn"] == ["ok", "armour-core"]  # lenet5's alias is not clashed: it still resolves
    assert out["mnist"][0] == "conflict"  # alias against alias
    assert out["mnist5k"] == ["ok", "armour-core"]
    assert out["fixture_digits28"] == ["ok", "armour-fixture-clash-core"]
    assert "lenet5" in out["models"] and "mlp" in out["models"]
    assert "lenet5" not in out["usable"]
    errors = " | ".join(e for _, e in out["status"])
    assert len(out["status"]) == 2 and "'lenet5'" in errors and "'mnist'" in errors


def test_plugins_cli_lists_the_clash(run_with):
    proc = _cli(run_with, ["plugins", "--json"], *CLASH, env=NONSTRICT)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    rows = [r for r in data["plugins"] if r["name"] == "fixture_dup"]
    assert sorted(r["dist"] for r in rows) == sorted(CLASH)
    for r in rows:
        other = [d for d in CLASH if d != r["dist"]][0]
        assert r["status"].startswith("conflict") and other in r["status"]
    assert [d["state"] for d in data["distributions"]].count("conflict") == 1
    table = _cli(run_with, ["plugins", "--kind", "noise"], *CLASH, env=NONSTRICT)
    assert table.returncode == 0, table.stderr
    dup = [line for line in table.stdout.splitlines() if line.startswith("noise") and "fixture_dup" in line]
    assert len(dup) == 2 and all("conflict" in line for line in dup)


def test_plugins_cli_in_strict_mode_lists_then_fails_in_one_line(run_with):
    """STRICT=1: ``armour plugins`` is the diagnosis tool, so it still prints the listing (with the conflict),
    then one line on stderr and exit 1; other registry queries raise."""
    for args in (["plugins"], ["plugins", "--json"]):
        proc = _cli(run_with, args, *CLASH, env={"ARMOUR_PLUGINS_STRICT": "1"})
        assert proc.returncode == 1
        assert "fixture_dup" in proc.stdout and "conflict" in proc.stdout
        err = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(err) == 1 and "ARMOUR_PLUGINS_STRICT" in err[0] and "Traceback" not in proc.stderr
        if "--json" in args:
            json.loads(proc.stdout)
    # --load verifies each record on its own: the clash elsewhere does not turn every row into an error
    proc = _cli(run_with, ["plugins", "--json", "--load", "--kind", "noise"], *CLASH,
                env={"ARMOUR_PLUGINS_STRICT": "1", "ARMOUR_PLUGINS_ONLY": "fixture_clash_a,fixture_clash_b"})
    rows = {(r["name"], r["dist"]): r["status"] for r in json.loads(proc.stdout)["plugins"]}
    assert rows[("fixture_unique_a", CLASH[0])] == "ok" and rows[("fixture_unique_b", CLASH[1])] == "ok"
    assert rows[("fixture_dup", CLASH[0])].startswith("conflict")


def test_misspelled_hook_marks_plugin_broken(run_with):
    code = ("import json\nfrom armour_core import registry\n"
            "print(json.dumps([[s.plugin, s.state, s.error] for s in registry.status()]))")
    proc = run_with(code, "armour-fixture-misspelled", env=NONSTRICT)
    status = {p: (state, err) for p, state, err in _json(proc)}
    assert status["fixture_misspelled"][0] == "broken"
    assert "armour_attack" in status["fixture_misspelled"][1]
    assert status["builtin"][0] == "ok"
    assert "armour-fixture-misspelled" in proc.stderr  # one warning naming the distribution
    strict = run_with("from armour_core import registry\nregistry.names('attack')", "armour-fixture-misspelled",
                      env={"ARMOUR_PLUGINS_STRICT": "1"}, check=False)
    assert strict.returncode != 0 and "PluginLoadError" in strict.stderr and "armour_attack" in strict.stderr


@pytest.mark.parametrize("var", ["ARMOUR_PLUGINS_DISABLE", "ARMOUR_PLUGINS_ONLY"])
def test_env_filters_are_case_insensitive(run_with, var):
    code = ("import json\nfrom armour_core import registry\n"
            "print(json.dumps({s.plugin: s.state for s in registry.status()}))")
    proc = run_with(code, "armour-fixture-broken", env={**NONSTRICT, var: " Fixture_Broken ,BUILTIN"})
    status = _json(proc)
    if var == "ARMOUR_PLUGINS_DISABLE":
        assert status["fixture_broken"] == "disabled" and status["builtin"] == "disabled"
    else:
        assert status["fixture_broken"] == "broken" and status["builtin"] == "ok"
        assert all(v == "disabled" for k, v in status.items() if k not in ("fixture_broken", "builtin"))
    assert "match no installed plugin" not in proc.stderr


@pytest.mark.parametrize("var", ["ARMOUR_PLUGINS_DISABLE", "ARMOUR_PLUGINS_ONLY"])
def test_env_filter_names_that_match_nothing_warn_once(run_with, var):
    code = ("import warnings\nfrom armour_core import registry\n"
            "with warnings.catch_warnings(record=True) as w:\n    warnings.simplefilter('always')\n"
            "    registry.names('dataset'); registry.names('model'); registry.status()\n"
            "hits = [str(x.message) for x in w if 'match no installed plugin' in str(x.message)]\n"
            "print(len(hits)); print(hits[0] if hits else '')")
    for strict in ("0", "1"):
        proc = run_with(code, env={var: "bogus,builtin", "ARMOUR_PLUGINS_STRICT": strict})
        count, message = proc.stdout.strip().splitlines()[-2:]
        assert count == "1"
        assert var in message and "'bogus'" in message and "'builtin'" not in message.split("installed:")[0]
        assert "builtin" in message  # the installed plugin names, to pick from


def test_audit_runs_with_a_clash_and_lists_both_in_the_manifest(run_with, tmp_path):
    """``armour audit`` crashed with KeyError while building its manifest; a section that lists plugins
    (as the robustness section does) must work too. First-party sections are switched off to stay fast."""
    code = f"""
import json, warnings
warnings.simplefilter('ignore')
from pathlib import Path
from armour_core import registry
from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec
from armour_core.audit.context import AuditContext, SectionResult
from armour_core.audit.runner import run_audit

def section(ctx):
    return SectionResult(verdict='pass', headline=','.join(registry.names('noise')))

@hookimpl
def armour_audit_sections():
    yield AuditSectionSpec(name='listing', title='Listing', target='__main__:section', order=5)

import __main__
registry.register(__main__, name='local_section')
ctx = AuditContext(model=None, x_train=None, y_train=None, x_test=None, y_test=None, num_classes=2,
                   bounds=(0.0, 1.0), profile='quick', seed=0, out_dir=Path({str(tmp_path)!r}))
_, js, report = run_audit(ctx, progress=False)
print(json.dumps(report['sections']['listing']))
print(json.dumps(report['manifest']['plugins']))
"""
    proc = run_with(code, *CLASH, env={**NONSTRICT, "ARMOUR_PLUGINS_ONLY": "fixture_clash_a,fixture_clash_b"})
    section, plugins = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert section["verdict"] == "pass"
    assert {"fixture_unique_a", "fixture_unique_b"} <= set(section["headline"].split(","))
    assert "fixture_dup" not in section["headline"].split(",")
    assert set(CLASH) <= set(plugins)


def test_unknown_name_mentions_env_filtered_plugins(run_with):
    code = ("import warnings\nwarnings.simplefilter('ignore')\nfrom armour_core import registry\n"
            "try:\n    registry.spec('dataset', 'digits')\nexcept KeyError as e:\n    print(e)")
    line = run_with(code, env={"ARMOUR_PLUGINS_ONLY": "bogus"}).stdout.strip().splitlines()[-1]
    assert "no dataset plugin named 'digits'" in line and "ARMOUR_PLUGINS_ONLY" in line and "builtin" in line


# ------------------------------------------------------------------ item 16: each distribution declares its needs
ROOT = Path(__file__).resolve().parents[1]
DISTS = {  # distribution -> (pyproject, package directory)
    "armour-core": (ROOT / "pyproject.toml", ROOT / "armour_core"),
    "armour-plugins-attacks": (ROOT / "armour_plugins_attacks" / "pyproject.toml",
                               ROOT / "armour_plugins_attacks" / "src" / "armour_plugins_attacks"),
    "armour-plugins-privacy": (ROOT / "armour_plugins_privacy" / "pyproject.toml",
                               ROOT / "armour_plugins_privacy" / "src" / "armour_plugins_privacy"),
    "armour-plugins-fuzz": (ROOT / "armour_plugins_fuzz" / "pyproject.toml",
                            ROOT / "armour_plugins_fuzz" / "src" / "armour_plugins_fuzz"),
}
#: import names whose distribution is named differently (the rest: ``_`` -> ``-``)
IMPORT_TO_DIST = {"sklearn": "scikit-learn", "dp_accounting": "dp-accounting", "attr": "attrs", "yaml": "pyyaml",
                  "PIL": "pillow", "skimage": "scikit-image", "cv2": "opencv-python"}


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _optional_import(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``try: ... except ImportError`` or ``if TYPE_CHECKING:``: not a hard requirement."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            return True
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imports(package: Path) -> dict[str, set[str]]:
    """Third-party distributions imported anywhere in ``package`` (lazy imports too) -> files importing them."""
    own = package.name
    out: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            if _optional_import(node, parents):
                continue
            for mod in mods:
                top = mod.split(".")[0]
                if top in sys.stdlib_module_names or top in (own, "armour_core", "__future__"):
                    continue
                out.setdefault(_canon(IMPORT_TO_DIST.get(top, top)), set()).add(str(path.relative_to(ROOT)))
    return out


def _declared(dist: str) -> dict[str, SpecifierSet]:
    """What ``dist`` may import: its own dependencies and extras, plus armour-core's dependencies and the
    armour-core extras it depends on (every plugin distribution depends on armour-core)."""
    project = tomllib.loads(DISTS[dist][0].read_text())["project"]
    reqs = [Requirement(r) for r in project.get("dependencies", [])]
    reqs += [Requirement(r) for rs in project.get("optional-dependencies", {}).values() for r in rs]
    out: dict[str, SpecifierSet] = {}
    for req in reqs:
        if _canon(req.name) == "armour-core" and dist != "armour-core":
            core = tomllib.loads(DISTS["armour-core"][0].read_text())["project"]
            for text in core["dependencies"] + [r for e in req.extras for r in core["optional-dependencies"][e]]:
                inner = Requirement(text)
                out.setdefault(_canon(inner.name), inner.specifier)
        elif not _canon(req.name).startswith("armour-"):
            out[_canon(req.name)] = req.specifier
    return out


@pytest.mark.parametrize("dist", sorted(DISTS))
def test_every_third_party_import_is_declared(dist):
    """``pip install . ./armour_plugins_attacks`` then ``armour audit`` gave "No module named matplotlib":
    every module a distribution imports must come with it (its pyproject, or armour-core's part it asks for)."""
    declared = _declared(dist)
    missing = {name: sorted(files)[:3] for name, files in _imports(DISTS[dist][1]).items() if name not in declared}
    assert not missing, f"{dist} imports but does not declare: {missing}"


def test_plugin_distributions_bring_what_core_commands_need():
    """A plugin distribution alone with armour-core must run ``armour audit`` on the embedded default: the
    model runtime, the digits data and the report plots come from armour-core's ``mindspore`` extra."""
    for dist in DISTS:
        if dist == "armour-core":
            continue
        declared = _declared(dist)
        for need in ("mindspore", "scikit-learn", "matplotlib"):
            assert need in declared, f"{dist}: installing it alone with armour-core lacks {need}"


def test_record_requirements_match_their_distribution():
    """A record's ``requires`` must not admit versions its distribution's pyproject rules out (an accountant
    record said dp-accounting>=0.4 while the distribution needs >=0.6), and must be declared there at all."""
    from armour_core import registry

    bad = []
    for spec, _ in registry.listing():
        if spec.dist not in DISTS:
            continue
        declared = _declared(spec.dist)
        for text in spec.requires:
            req = Requirement(text)
            have = declared.get(_canon(req.name))
            if have is None or have != req.specifier:
                bad.append(f"{spec.kind} {spec.name} ({spec.dist}): requires {text!r}, pyproject has "
                           f"{req.name}{have if have is not None else ' (undeclared)'}")
    assert not bad, "\n".join(bad)


def test_requirement_reads_the_installed_metadata():
    """Records take their ``requires`` from the distribution's metadata (issue 10: one fact, once)."""
    from armour_core.specs import requirement

    core = tomllib.loads(DISTS["armour-core"][0].read_text())["project"]
    stated = {_canon(Requirement(r).name): str(Requirement(r).specifier)
              for r in core["dependencies"] + core["optional-dependencies"]["mindspore"]}
    assert requirement("armour-core", "pluggy") == f"pluggy{stated['pluggy']}"
    assert requirement("armour-core", "PLUGGY") == f"pluggy{stated['pluggy']}"  # names compare canonically
    with pytest.raises(LookupError, match="no-such-dist"):
        requirement("no-such-dist", "mindspore")
    with pytest.raises(LookupError, match="'torch'"):
        requirement("armour-core", "torch")


def test_every_distribution_pins_the_mindspore_of_armour_core():
    """Each distribution imports MindSpore and declares it; the pin is armour-core's (``[mindspore]`` extra),
    and a plugin stating another (once ``mindspore>=2.3`` beside ``==2.10.0``) would let pip pick either."""
    pins = {dist: _declared(dist).get("mindspore") for dist in DISTS}
    assert len({str(p) for p in pins.values()}) == 1 and pins["armour-core"], pins
