"""A distribution declares a plugin kind of its own (``armour_kinds``): the registry lists, resolves and creates
it like a built-in kind, pluggy validates its registration hook, the kit runs its checks, and a kind declared
twice is a conflict. Proved with fixture distributions shaped like any third party's."""

from __future__ import annotations

import json
import textwrap
from types import SimpleNamespace

import pytest

from armour_core.errors import PluginConflictError, PluginLoadError, UnknownPluginError
from armour_core.plugins import hookimpl
from armour_core.registry import Registry
from armour_core.specs import KIND_HOOKS, KindSpec, PluginSpec

KIND, USER, CLASH = "armour-fixture-kind", "armour-fixture-kind-user", "armour-fixture-kind-clash"


def test_declared_kind_is_listed_resolved_and_created_without_mindspore(run_with):
    code = textwrap.dedent("""
        import json, sys
        from armour_core import registry
        toy = registry.create("fixture_toy", "fixture_scale", factor=3.0)
        spec = registry.kind_spec("fixture_toy")
        print(json.dumps({"kinds": registry.kinds(), "names": registry.names("fixture_toy"),
                          "applied": toy.apply([1.0, 2.0]).tolist(), "negated": registry.create(
                              "fixture_toy", "fixture_negate").apply([1.0]).tolist(),
                          "dist": spec.dist, "base": registry.import_target(spec.base).__name__,
                          "is_base": isinstance(toy, registry.import_target(spec.base)),
                          "record_dist": registry.spec("fixture_toy", "fixture_negate").dist,
                          "mindspore": "mindspore" in sys.modules}))
    """)
    out = json.loads(run_with(code, KIND, USER).stdout.strip().splitlines()[-1])
    assert out["kinds"][-1] == "fixture_toy" and "attack" in out["kinds"]
    # the user's entry point loads before the declaring one: registration waits for every declaration
    assert out["names"] == ["fixture_negate", "fixture_scale"]
    assert out["applied"] == [3.0, 6.0] and out["negated"] == [-1.0]
    assert out["dist"] == KIND and out["base"] == "Toy" and out["is_base"]
    assert out["record_dist"] == USER and out["mindspore"] is False


def test_plugins_command_shows_the_declared_kind(run_with):
    code = "import sys\nfrom armour_core.cli import main\nsys.exit(main(['plugins', '--kind', 'fixture_toy'{}]))"
    text = run_with(code.format(""), KIND, USER).stdout
    rows = [line.split()[:2] for line in text.splitlines()[1:] if line.strip() and not line.startswith(" ")]
    assert ["fixture_toy", "fixture_negate"] in rows and ["fixture_toy", "fixture_scale"] in rows
    assert "fixture_toy (armour-fixture-kind, hook armour_fixture_toys)" in text
    payload = json.loads(run_with(code.format(", '--json'"), KIND, USER).stdout)
    assert {r["name"] for r in payload["plugins"]} == {"fixture_negate", "fixture_scale"}
    assert {"name": "fixture_toy", "hook": "armour_fixture_toys", "dist": KIND,
            "base": "armour_fixture_kind.base:Toy", "summary": "toy array transforms (test fixture)"} \
        in payload["kinds"]


def test_without_the_declaring_distribution_the_kind_is_unknown_and_its_user_broken(run_with):
    code = textwrap.dedent("""
        from armour_core import registry
        try:
            registry.names("fixture_toy")
        except Exception as e:
            print(type(e).__name__, e)
        print([(s.plugin, s.state, s.error) for s in registry.status() if s.dist == "armour-fixture-kind-user"])
    """)
    lines = run_with(code, USER, env={"ARMOUR_PLUGINS_STRICT": "0"}).stdout.strip().splitlines()
    assert lines[0].startswith("UnknownPluginError") and "fixture_toy" in lines[0]
    assert "broken" in lines[1] and "armour_fixture_toys" in lines[1]  # pluggy: a hook no spec defines


def test_kind_declared_twice_is_a_conflict_naming_both(run_with):
    code = textwrap.dedent("""
        from armour_core import registry
        print(len(registry.names("model", include_unavailable=True)) > 0)  # a kind core itself provides
        try:
            registry.names("fixture_toy")
        except Exception as e:
            print(type(e).__name__, e)
        print([state for spec, state in registry.listing() if spec.kind == "fixture_toy"])
    """)
    lines = run_with(code, KIND, CLASH, env={"ARMOUR_PLUGINS_STRICT": "0"}).stdout.strip().splitlines()
    assert lines[0] == "True"  # every other kind keeps working
    assert lines[1].startswith("PluginConflictError") and KIND in lines[1] and CLASH in lines[1]
    assert "conflict: kind 'fixture_toy' declared by" in lines[2]
    probe = "from armour_core import registry\nregistry.names('model', include_unavailable=True)"
    strict = run_with(probe, KIND, CLASH, env={"ARMOUR_PLUGINS_STRICT": "1"}, check=False)
    assert strict.returncode != 0 and "PluginConflictError" in strict.stderr and "declared twice" in strict.stderr
    listed = run_with("import sys\nfrom armour_core.cli import main\nsys.exit(main(['plugins']))", KIND, CLASH,
                      env={"ARMOUR_PLUGINS_STRICT": "1"}, check=False)
    assert listed.returncode == 1 and "conflict" in listed.stderr  # lists, then fails in one line
    assert "conflict: kind 'fixture_toy' declared by" in listed.stdout


def test_the_kit_runs_the_declared_kinds_checks(run_with, tmp_path):
    (tmp_path / "test_toy_kit.py").write_text(textwrap.dedent("""
        from armour_core.testing import parametrize_with_checks

        @parametrize_with_checks("fixture_toy", ["fixture_scale", "fixture_negate"])
        def test_kit(plugin, check, request):
            check(plugin, request)
    """))
    code = ("import sys, pytest\nsys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-rA', "
            f"{str(tmp_path / 'test_toy_kit.py')!r}]))")
    out = run_with(code, KIND, USER).stdout
    passed = {line.split("[")[-1].rstrip("]") for line in out.splitlines() if line.startswith("PASSED")}
    for name in ("fixture_scale", "fixture_negate"):
        for check in ("check_record", "check_rejects_unknown_config_key", "check_keeps_shape", "check_rejects_nan"):
            assert f"{name}-{check}" in passed, out


# ------------------------------------------------------------------------------------------ in process
def _plugin(**hooks) -> SimpleNamespace:
    return SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def _declares(kind: str, hook: str):
    return _plugin(armour_kinds=lambda: [KindSpec(name=kind, hook=hook, summary="things")])


def _registry(monkeypatch, *plugins: tuple[str, SimpleNamespace], strict: str = "1") -> Registry:
    """An in-process registry of ``(name, plugin)`` pairs, strict unless told."""
    monkeypatch.setenv("ARMOUR_PLUGINS_STRICT", strict)
    reg = Registry(entry_points=[])
    for name, plugin in plugins:
        reg.register(plugin, name=name)
    return reg


@pytest.mark.parametrize("kind, hook", [("attack", "armour_widgets"), ("widget", KIND_HOOKS["attack"]),
                                        ("widget", "armour_cli_commands"), ("widget", "armour_kinds")])
def test_declaring_a_builtin_kind_or_a_taken_hook_breaks_the_declaring_plugin(kind, hook, monkeypatch):
    reg = _registry(monkeypatch, ("acme", _declares(kind, hook)))
    with pytest.raises(PluginLoadError, match="already uses|built into"):
        reg.names("dataset")


def test_misspelled_hook_of_a_declared_kind_gets_a_hint(monkeypatch):
    reg = _registry(monkeypatch, ("acme", _declares("widget", "armour_widgets")),
                    ("typo", _plugin(armour_widget=lambda: [])))
    with pytest.raises(PluginLoadError, match="did you mean 'armour_widgets'"):
        reg.names("widget")


def test_records_of_a_declared_kind_come_only_from_its_hook(monkeypatch):
    rec = PluginSpec(name="w", kind="widget", target="a.b:C", summary="w")
    reg = _registry(monkeypatch, ("acme", _declares("widget", "armour_widgets")),
                    ("wrong_hook", _plugin(armour_noise_mechanisms=lambda: [rec])))
    with pytest.raises(PluginLoadError, match="expected 'noise'"):
        reg.names("widget")
    ok = _registry(monkeypatch, ("acme", _declares("widget", "armour_widgets")),
                   ("user", _plugin(armour_widgets=lambda: [rec])))
    assert ok.names("widget") == ["w"] and ok.kind_spec("widget").hook == "armour_widgets"
    assert ok.kind_spec("attack").base == "armour_core.api.attack:Attack"
    with pytest.raises(UnknownPluginError, match="did you mean 'widget'"):
        ok.names("widgett")


def test_conflicting_kind_in_process_raises_conflict(monkeypatch):
    reg = _registry(monkeypatch, ("a", _declares("widget", "armour_widgets")),
                    ("b", _declares("widget", "armour_widgets")), strict="0")
    with pytest.warns(UserWarning, match="declared twice"):
        reg.kinds()
    with pytest.raises(PluginConflictError, match="'a'.*'b'"):
        reg.names("widget")


def test_kind_records_reject_bad_fields():
    for bad in (dict(name="Widget"), dict(hook="widgets"), dict(summary=""), dict(summary="two\nlines"),
                dict(base="not a target")):
        with pytest.raises(ValueError):
            KindSpec(**{"name": "widget", "hook": "armour_widgets", "summary": "things", **bad})
