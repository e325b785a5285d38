"""Core names no first-party plugin (issue 10): which algorithms a section runs, which mutators the fuzzer chains,
which noise a trainer uses come from the distributions' records, never from a name written in ``armour_core``.

The first-party names are read from the distributions' source (their light ``hooks.py``, in a subprocess with
the source roots on the path), so the check runs in every session, the ``core`` one included.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "armour_core"
SOURCE_ROOTS = sorted(ROOT.glob("armour_plugins_*/src"))

#: string constants in core that equal a first-party plugin name but mean something else
ALLOWED = {
    "adversarial": "the MutatorSpec category of mutators that adapt an attack (a record facet value)",
    "pad": "numpy's padding mode and the strategies' padding layer",
    "loss": "the model capability / loss-function vocabulary of the runtime",
    "mindarmour": "the MindArmour package in the kit's list of heavy imports",
    "fgsm": "the documented default of `armour demo --attack` (its help: clean vs FGSM accuracy)",
}
#: modules moving to a distribution in issue 10 (the DP engine, SuppressModel, the Fuzzer): they leave core
MOVING = ("wrappers/", "ms/ghost.py", "ms/per_example.py")

_COLLECT = r"""
import importlib, inspect, json, pkgutil, sys
import armour_core.specs
armour_core.specs.requirement = lambda dist, project: project  # the distributions need not be installed
names = {}
for root in sys.argv[1:]:
    for mod in pkgutil.iter_modules([root]):
        hooks = importlib.import_module(mod.name + ".hooks")
        for fname, fn in vars(hooks).items():
            if fname.startswith("armour_") and inspect.isfunction(fn) and not inspect.signature(fn).parameters:
                for rec in fn() or ():
                    if not hasattr(rec, "kind"):
                        continue  # CLI commands and audit sections are not algorithms
                    for n in (getattr(rec, "name", None), *getattr(rec, "aliases", ())):
                        if n:
                            names[n] = mod.name
print(json.dumps(names))
"""


def first_party_names() -> dict[str, str]:
    """Every record name and alias the first-party distributions register (and the package registering it)."""
    roots = [str(r) for r in SOURCE_ROOTS]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*roots, str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", _COLLECT, *roots], capture_output=True, text=True, env=env,
                         check=True, timeout=120).stdout
    return json.loads(out)


def plugin_names_in(path: Path, names: dict[str, str]) -> list[str]:
    """``file:line: 'name' (package)`` for each string constant in ``path`` that is a first-party plugin name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r} ({names[node.value]})"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
            and node.value not in ALLOWED]


def test_the_names_are_read():
    """The scan below would pass vacuously on an empty list."""
    names = first_party_names()
    assert {"armour_plugins_attacks", "armour_plugins_privacy", "armour_plugins_fuzz"} <= set(names.values())
    assert len(names) > 50


def test_core_source_names_no_first_party_plugin():
    names = first_party_names()
    files = [p for p in sorted(CORE.rglob("*.py"))
             if not any(str(p.relative_to(CORE)).startswith(m) for m in MOVING)]
    hits = [h for p in files for h in plugin_names_in(p, names)]
    assert not hits, ("core names first-party plugins; take them from the records (or document a default in "
                      "ALLOWED):\n" + "\n".join(hits))


def test_the_scan_catches_a_name(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    src = tmp_path / "m.py"
    src.write_text('DEFAULT = ["pgd", "pad"]\n"""pgd in a sentence is prose."""\n', encoding="utf-8")
    assert plugin_names_in(src, {"pgd": "armour_plugins_attacks", "pad": "armour_plugins_attacks"}) == [
        "m.py:1: 'pgd' (armour_plugins_attacks)"]
