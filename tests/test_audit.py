"""``armour audit`` framework: sections from plugins, placeholders for missing distributions, schema, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from armour_core import registry
from armour_core.audit.context import AuditContext, SectionResult
from armour_core.audit.runner import run_audit
from armour_core.audit.schema import validate
from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec
from armour_core.testing.models import SoftmaxRegression

jsonschema = pytest.importorskip("jsonschema")


def good_section(ctx: AuditContext) -> SectionResult:
    acc = float(np.mean(ctx.model.predict(ctx.x_test) == ctx.y_test))
    return SectionResult(verdict="pass" if acc > 0.5 else "fail", headline=f"accuracy {acc:.3f}",
                         metrics={"accuracy": acc, "settings": ctx.settings}, html="<p>ok</p>")


def bad_section(ctx: AuditContext) -> SectionResult:
    raise RuntimeError("this section fails on purpose")


class Plugin:
    @hookimpl
    def armour_audit_sections():
        yield AuditSectionSpec(name="robustness", title="Robustness (test)", target=f"{__name__}:good_section",
                               order=10, profiles={"quick": {"attacks": ["a", "b"]}, "thorough": {"attacks": ["c"]}})
        yield AuditSectionSpec(name="broken_area", title="Broken", target=f"{__name__}:bad_section", order=15)


@pytest.fixture
def ctx(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (200, 1, 2, 2)).astype(np.float32)
    y = (x.reshape(200, -1)[:, 0] > 0.5).astype(np.int64)
    model = SoftmaxRegression.fit(x, y, 2)
    return AuditContext(model=model, x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:],
                        num_classes=2, bounds=(0.0, 1.0), profile="quick", seed=0, out_dir=tmp_path,
                        model_name="softmax", dataset_name="toy")


@pytest.fixture
def fake_sections(monkeypatch):
    """Only the test plugin's sections exist, and no first-party distribution is installed."""
    private = registry.Registry(entry_points=[])
    private.register(Plugin, name="audit_test", dist="armour-audit-test")
    monkeypatch.setattr("armour_core.registry._dist_installed", lambda name: False)
    monkeypatch.setattr("armour_core.registry.audit_sections", private.audit_sections)
    monkeypatch.setattr("armour_core.registry.status", private.status)


def test_sections_run_missing_ones_are_placeholders_and_errors_are_contained(ctx, fake_sections):
    html_path, json_path, data = run_audit(ctx, command="armour audit --test", progress=False)
    validate(data)
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(data))
    sec = data["sections"]
    assert sec["robustness"]["verdict"] == "pass" and sec["robustness"]["dist"] == "armour-audit-test"
    # the record's settings for the profile reached the section
    assert sec["robustness"]["metrics"]["settings"] == {"attacks": ["a", "b"]}
    assert sec["broken_area"]["verdict"] == "error" and "on purpose" in sec["broken_area"]["headline"]
    missing = ["armour-plugins-attacks", "armour-plugins-privacy", "armour-plugins-fuzz"]  # no record from them
    for dist in missing:
        assert sec[dist]["verdict"] == "not_installed" and sec[dist]["install"] == f"pip install {dist}"
        assert sec[dist]["title"] == dist and sec[dist]["dist"] == dist
    assert [s["section"] for s in data["summary"]] == ["robustness", "broken_area", *missing]
    m = data["manifest"]
    assert m["command"] == "armour audit --test" and m["seed"] == 0 and set(m["timing_seconds"]) == set(sec)
    page = html_path.read_text()
    for anchor in ("summary", "robustness", "broken_area", *missing, "manifest"):
        assert f'id="{anchor}"' in page
    assert page.index('id="summary"') < page.index('id="robustness"')
    assert "pip install armour-plugins-fuzz" in page
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")  # self-contained, offline


def test_profile_settings_come_from_the_record_and_overrides_win(ctx, fake_sections):
    ctx.profile = "thorough"
    _, _, data = run_audit(ctx, progress=False, overrides={"robustness": {"n": 3}})
    assert data["sections"]["robustness"]["metrics"]["settings"] == {"attacks": ["c"], "n": 3}
    ctx.profile = "standard"  # the record states no settings for it: the section's own defaults apply
    _, _, data = run_audit(ctx, progress=False)
    assert data["sections"]["robustness"]["metrics"]["settings"] == {}


def test_section_record_profiles_are_checked():
    with pytest.raises(ValueError, match="quik"):
        AuditSectionSpec(name="x", title="X", target="m:f", profiles={"quik": {}})
    with pytest.raises(ValueError, match="profiles"):
        AuditSectionSpec(name="x", title="X", target="m:f", profiles={"quick": 3})
    spec = AuditSectionSpec(name="x", title="X", target="m:f", profiles={"quick": {"n": 1}})
    with pytest.raises(TypeError):
        spec.profiles["quick"]["n"] = 2  # records are read-only
    assert hash(spec) == hash(AuditSectionSpec(name="x", title="X", target="m:f"))


def test_unknown_profile_rejected(ctx):
    ctx.profile = "extreme"
    with pytest.raises(ValueError, match="profile"):
        run_audit(ctx, progress=False)


def test_schema_rejects_a_malformed_report(ctx, fake_sections):
    _, _, data = run_audit(ctx, progress=False)
    data["summary"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        validate(data)
