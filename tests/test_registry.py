"""Registry: discovery, laziness, failure policy (with fixture distributions that misbehave on purpose)."""

from __future__ import annotations

import json

import pytest

from armour_core import registry
from armour_core.errors import UnknownPluginError
from armour_core.registry import Registry
from armour_core.specs import KINDS, NoiseSpec, PluginSpec
from armour_core.testing import listing_imports

STATUS = ("import json\nfrom armour_core import registry\n"
          "print(json.dumps({s.plugin: [s.state, s.dist, s.version, s.error] for s in registry.status()}))")


def _status(run_with, *dists, env=None):
    out = run_with(STATUS, *dists, env={"ARMOUR_PLUGINS_STRICT": "0", **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_kinds_cover_every_hook():
    assert registry.kinds()[:len(KINDS)] == KINDS  # built-in first, then the kinds distributions declare
    assert set(registry.kinds()) - set(KINDS) == {k.name for k in registry.declared_kinds()}
    for k in ("attack", "defense", "detector", "mutator", "coverage", "noise", "suppressor", "clip",
              "accountant", "inference", "dataset", "model"):
        assert k in registry.kinds()


def test_builtin_records_listed_and_resolved_lazily():
    spec = registry.spec("dataset", "digits")
    assert spec.dist == "armour-core" and spec.version
    assert "digits" in registry.names("dataset", include_unavailable=True)
    if registry.availability("dataset", "digits"):  # core session: scikit-learn absent
        assert "scikit-learn" in registry.availability("dataset", "digits")
    assert registry.spec("model", "cnn").name == "lenet5"  # alias


def test_unknown_kind_and_name_errors_are_keyerrors_with_suggestions():
    with pytest.raises(UnknownPluginError) as exc:
        registry.names("atack")
    assert "'attack'" in str(exc.value)
    with pytest.raises(KeyError):
        registry.spec("dataset", "digitz")
    with pytest.raises(UnknownPluginError) as exc:
        registry.spec("dataset", "digitz")
    assert "digits" in exc.value.suggestions and "did you mean" in str(exc.value)


def test_missing_first_party_distribution_is_named(monkeypatch):
    """With the attacks distribution absent, an unknown attack names the pip install that fixes it."""
    reg = Registry(entry_points=[])
    monkeypatch.setattr("armour_core.registry._dist_installed", lambda name: False)
    with pytest.raises(UnknownPluginError) as exc:
        reg.get("attack", "fgsm")
    assert "pip install armour-plugins-attacks" in str(exc.value)
    with pytest.raises(UnknownPluginError) as exc:
        reg.get("mutator", "rotate")
    assert "armour-plugins-fuzz" in str(exc.value)


def test_listing_does_not_import_heavy_modules():
    assert listing_imports() == []


def test_import_armour_core_loads_no_plugin(run_with):
    out = run_with("import sys, armour_core\nprint(armour_core.registry._default._built, "
                   "'mindspore' in sys.modules, 'numpy' in sys.modules)")
    assert out.stdout.split() == ["False", "False", "False"]


def test_broken_plugin_is_isolated(run_with):
    status = _status(run_with, "armour-fixture-broken")
    state, dist, version, error = status["fixture_broken"]
    assert (state, dist, version) == ("broken", "armour-fixture-broken", "0.0.1")
    assert "fails on purpose" in error
    assert status["builtin"][0] == "ok"
    out = run_with("from armour_core import registry\nprint(registry.spec('dataset', 'digits').name)",
                   "armour-fixture-broken", env={"ARMOUR_PLUGINS_STRICT": "0"})
    assert out.stdout.strip().endswith("digits")
    assert "armour-fixture-broken 0.0.1 is broken" in out.stderr  # one warning naming dist and version


def test_strict_mode_raises_on_broken_plugin(run_with):
    proc = run_with("from armour_core import registry\nregistry.names('attack')", "armour-fixture-broken",
                    env={"ARMOUR_PLUGINS_STRICT": "1"}, check=False)
    assert proc.returncode != 0 and "PluginLoadError" in proc.stderr


def test_missing_dependency_is_unavailable_not_broken(run_with):
    status = _status(run_with, "armour-fixture-missingdep", "armour-fixture-needs")
    assert status["fixture_missingdep"][0] == "unavailable"
    assert "armour_no_such_dependency_xyz" in status["fixture_missingdep"][3]
    assert status["fixture_needs"][0] == "unavailable"
    code = ("from armour_core import registry\n"
            "print('fixture_needy' in registry.names('noise'), "
            "'fixture_needy' in registry.names('noise', include_unavailable=True))\n"
            "try:\n    registry.get('noise', 'fixture_needy')\nexcept Exception as e:\n"
            "    print(type(e).__name__, e)")
    out = run_with(code, "armour-fixture-needs", env={"ARMOUR_PLUGINS_STRICT": "1"})
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "False True"
    assert lines[1].startswith("PluginUnavailableError") and "pip install 'armour-no-such-package>=1.0'" in lines[1]


def test_hook_that_raises_registers_nothing(run_with):
    status = _status(run_with, "armour-fixture-raises")
    assert status["fixture_raises"][0] == "broken"
    out = run_with("from armour_core import registry\nprint('fixture_half' in registry.names('noise'))",
                   "armour-fixture-raises", env={"ARMOUR_PLUGINS_STRICT": "0"})
    assert out.stdout.strip().endswith("False")


def test_name_clash_names_both_distributions(run_with):
    code = ("from armour_core import registry\n"
            "print(registry.create('noise', 'fixture_unique_a').sample(2).shape)\n"
            "try:\n    registry.get('noise', 'fixture_dup')\nexcept Exception as e:\n"
            "    print(type(e).__name__, e)")
    out = run_with(code, "armour-fixture-clash-a", "armour-fixture-clash-b", env={"ARMOUR_PLUGINS_STRICT": "0"})
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "(2,)"  # the rest keeps working
    assert lines[1].startswith("PluginConflictError")
    assert "armour-fixture-clash-a" in lines[1] and "armour-fixture-clash-b" in lines[1]
    strict = run_with("from armour_core import registry\nregistry.names('noise')", "armour-fixture-clash-a",
                      "armour-fixture-clash-b", env={"ARMOUR_PLUGINS_STRICT": "1"}, check=False)
    assert strict.returncode != 0 and "PluginConflictError" in strict.stderr


def test_heavy_implementation_imported_only_on_get(run_with):
    code = ("import sys\nfrom armour_core import registry\n"
            "print(registry.spec('model', 'fixture_heavy').name, 'mindspore' in sys.modules)")
    out = run_with(code, "armour-fixture-heavy")
    assert out.stdout.strip().splitlines()[-1] == "fixture_heavy False"


def test_disable_and_only(run_with):
    status = _status(run_with, "armour-fixture-broken", "armour-fixture-heavy",
                     env={"ARMOUR_PLUGINS_DISABLE": "fixture_broken"})
    assert status["fixture_broken"][0] == "disabled" and status["fixture_heavy"][0] == "ok"
    status = _status(run_with, "armour-fixture-broken", "armour-fixture-heavy",
                     env={"ARMOUR_PLUGINS_ONLY": "fixture_heavy"})
    assert status["fixture_heavy"][0] == "ok"
    assert all(v[0] == "disabled" for k, v in status.items() if k != "fixture_heavy")


def test_in_process_registration_and_create_validates():
    from armour_core.api.noise import NoiseMechanism

    class Half(NoiseMechanism):
        def _sample(self, shape, step, std, dtype):
            return self.generator().normal(0.0, std, size=shape).astype(dtype)

    class Plugin:
        @staticmethod
        def armour_noise_mechanisms():
            yield PluginSpec(name="acme.half", kind="noise", target=Half, facet=NoiseSpec(), summary="test")

    from armour_core.plugins import hookimpl

    Plugin.armour_noise_mechanisms = hookimpl(Plugin.armour_noise_mechanisms)
    reg = Registry(entry_points=[])
    reg.register(Plugin, name="acme")
    assert reg.names("noise") == ["acme.half"]
    assert reg.create("noise", "acme.half", noise_multiplier=2.0).stddev() == 2.0
    from armour_core.errors import ConfigError

    with pytest.raises(ConfigError, match="noise_multipler"):
        reg.create("noise", "acme.half", noise_multipler=2.0)
    with pytest.raises(ConfigError):
        reg.create("noise", "acme.half", noise_multiplier=-1.0)


def test_records_reject_bad_names_and_kinds():
    with pytest.raises(ValueError):
        PluginSpec(name="Bad Name", kind="noise", target="a.b:C")
    with pytest.raises(ValueError):  # a declared kind may be any lower-case name; this is none
        PluginSpec(name="ok", kind="Not a kind", target="a.b:C")
    with pytest.raises(ValueError):
        PluginSpec(name="ok", kind="noise", target="not a target")
    with pytest.raises(ValueError):
        PluginSpec(name="ok", kind="noise", target="a.b:C", requires=("not a requirement!!",))
    with pytest.raises(ValueError):
        PluginSpec(name="ok", kind="noise", target="a.b:C", capabilities={"telepathy"})
    assert PluginSpec(name="acme.ok_1", kind="noise", target="a.b:C").names == ("acme.ok_1",)
