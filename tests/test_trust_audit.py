"""Trust (issue 9, item 20): ``armour audit``'s ε grid fits the data (a documented rule, or ``--eps``), and the
report states the ε the verdict is judged at and the PASS/WARN/FAIL thresholds (HTML and JSON, schema-valid).

The rule and the ``--eps`` checks are pure Python and run in the ``core`` session; the report tests need
MindSpore and armour-plugins-attacks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from armour_core.audit.profiles import eps_grid, format_eps, parse_eps
from armour_core.errors import InvalidInputError
from armour_core.testing.markers import requires_dists

K255 = tuple(k / 255 for k in (1, 2, 4, 8, 16))


#: the small-input grids of armour-plugins-attacks' robustness record (its profiles), stated here so the rule runs
#: in the core session; test_robustness_record_states_these_grids checks they agree
SMALL_EPS = {"quick": [0.05, 0.1, 0.2], "standard": [0.03, 0.05, 0.1, 0.2]}


def _settings(profile="quick", **extra):
    return {"small_eps": SMALL_EPS[profile], **extra}


@requires_dists("attacks")
def test_robustness_record_states_these_grids():
    from armour_core import registry

    (spec,) = [s for s in registry.audit_sections() if s.name == "robustness"]
    assert {p: list(spec.profiles[p]["small_eps"]) for p in SMALL_EPS} == SMALL_EPS


@pytest.mark.parametrize("shape, expected, reference, source", [
    ((1, 8, 8), (0.05, 0.1, 0.2), 0.1, "small"),          # the embedded digits: today's grid
    ((3, 32, 32), K255, 8 / 255, "image"),                # colour images
    ((1, 28, 28), K255, 8 / 255, "image"),                # MNIST-sized grey images
    ((32, 32, 3), K255, 8 / 255, "image"),                # channel-last colour images
    ((3, 8, 8), K255, 8 / 255, "image"),                  # >= 3 channels, however small
    ((1, 16, 16), (0.05, 0.1, 0.2), 0.1, "small"),        # grey and under 28x28
    ((64,), (0.05, 0.1, 0.2), 0.1, "small"),              # feature vectors
    ((28, 28), K255, 8 / 255, "image"),                   # grey image without a channel axis
])
def test_default_grid_rule_on_synthetic_shapes(shape, expected, reference, source):
    grid = eps_grid(shape, (0.0, 1.0), _settings())
    assert grid.source == source
    np.testing.assert_allclose(grid.values, expected, rtol=1e-12)
    assert math.isclose(grid.reference, reference, rel_tol=1e-12)
    assert grid.reference in grid.values
    assert grid.rule  # a sentence saying which rule applied


def test_default_grid_scales_with_the_input_range_and_profile():
    grid = eps_grid((3, 32, 32), (-1.0, 1.0), _settings())
    np.testing.assert_allclose(grid.values, [2 * e for e in K255], rtol=1e-12)
    assert math.isclose(grid.reference, 16 / 255, rel_tol=1e-12)
    grid = eps_grid((1, 8, 8), (0.0, 1.0), _settings("standard"))
    np.testing.assert_allclose(grid.values, (0.03, 0.05, 0.1, 0.2))
    grid = eps_grid((1, 8, 8), (0.0, 255.0), _settings())
    np.testing.assert_allclose(grid.values, (0.05 * 255, 0.1 * 255, 0.2 * 255))


def test_given_grid_wins_and_the_verdict_eps_is_the_nearest_to_the_rule_reference():
    grid = eps_grid((3, 32, 32), (0.0, 1.0), _settings(eps=[0.03, 0.01]))
    assert grid.source == "given" and grid.values == (0.01, 0.03) and grid.reference == 0.03
    grid = eps_grid((1, 8, 8), (0.0, 1.0), _settings(eps=[0.3, 0.05]))
    assert grid.values == (0.05, 0.3) and grid.reference == 0.05  # nearest to 0.1
    with pytest.raises(InvalidInputError, match="eps"):
        eps_grid((1, 8, 8), (0.0, 1.0), _settings(eps=[0.1, 1.5]))


def test_parse_eps_accepts_lists_and_keeps_them_sorted():
    assert parse_eps("0.03, 0.01") == (0.01, 0.03)
    assert parse_eps("8/255,4/255") == (4 / 255, 8 / 255)
    assert parse_eps("0.5", bounds=(0.0, 1.0)) == (0.5,)
    assert parse_eps("1.0", bounds=(0.0, 1.0)) == (1.0,)  # the whole range is the largest budget


@pytest.mark.parametrize("text, fragment", [
    ("0.01,abc", "'abc'"), ("", "at least one"), (" , ", "at least one"), ("0", "> 0"), ("-0.1", "> 0"),
    ("nan", "finite"), ("inf", "finite"), ("0.1,0.1", "distinct"), ("1.5", "[0, 1]"), ("1/0", "'1/0'"),
])
def test_parse_eps_errors_name_the_flag_expected_and_actual(text, fragment):
    with pytest.raises(InvalidInputError) as exc:
        parse_eps(text, bounds=(0.0, 1.0))
    msg = str(exc.value)
    assert msg.startswith("--eps:") and fragment in msg and "\n" not in msg


def test_format_eps_names_k_over_255():
    assert format_eps(8 / 255) == "8/255" and format_eps(16 / 255) == "16/255"
    assert format_eps(0.1) == "0.1" and format_eps(0.2) == "0.2"  # a short decimal stays a decimal
    assert format_eps(0.0123456) == "0.01235"


def test_cli_rejects_a_bad_eps_before_any_work(capsys, tmp_path):
    """Checked before the model is built or loaded (this runs in the core session, without MindSpore)."""
    from armour_core.cli import main

    out = str(tmp_path / "report")
    assert main(["audit", "--eps", "0.1,x", "--out", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--eps" in err[0] and "'x'" in err[0]
    assert main(["audit", "--eps", "2", "--out", out]) == 2  # outside the digits' bounds [0, 1]
    err = capsys.readouterr().err.strip()
    assert "--eps" in err and "[0, 1]" in err
    assert not (tmp_path / "report").exists()


# ------------------------------------------------------------------------------------------- the report


def _colour_audit(tmp_path, monkeypatch, overrides):
    """The robustness section alone on a fixed linear model of 3x32x32 inputs; labels are the model's own
    predictions, so clean accuracy is 1 and the verdict depends on the attacks only."""
    import mindspore as ms
    from mindspore import nn

    from armour_core import registry
    from armour_core.audit.context import AuditContext
    from armour_core.audit.runner import run_audit
    from armour_core.ms.model import MSModel

    monkeypatch.setenv("ARMOUR_PLUGINS_DISABLE", "fuzz,privacy")
    registry.reset()
    rng = np.random.default_rng(0)
    net = nn.SequentialCell([nn.Flatten(), nn.Dense(3 * 32 * 32, 4)])
    net[1].weight.set_data(ms.Tensor(rng.normal(0, 0.05, (4, 3072)).astype(np.float32)))
    model = MSModel(net, bounds=(0.0, 1.0), input_shape=(3, 32, 32), num_classes=4)
    x = rng.uniform(0, 1, (24, 3, 32, 32)).astype(np.float32)
    y = model.predict(x)
    ctx = AuditContext(model=model, x_train=x, y_train=y, x_test=x, y_test=y, num_classes=4, bounds=(0.0, 1.0),
                       profile="quick", seed=0, out_dir=tmp_path, model_name="linear", dataset_name="noise")
    settings = {"attacks": ["fgsm"], "n": 24, **overrides}
    try:
        return run_audit(ctx, progress=False, overrides={"robustness": settings})
    finally:
        monkeypatch.undo()
        registry.reset()


@requires_dists("attacks")
@pytest.mark.parametrize("overrides, grid, judged", [
    ({}, K255, 8 / 255),
    ({"eps": [0.01, 0.03]}, (0.01, 0.03), 0.03),
])
def test_report_states_grid_threshold_and_verdict_eps(tmp_path, monkeypatch, overrides, grid, judged):
    from armour_core.audit.schema import SCHEMA_VERSION, validate

    html_path, json_path, report = _colour_audit(tmp_path, monkeypatch, overrides)
    on_disk = json.loads(json_path.read_text())
    assert on_disk["schema_version"] == SCHEMA_VERSION == "1.1"
    validate(on_disk)
    sec = on_disk["sections"]["robustness"]
    assert sec["verdict"] in ("pass", "warn", "fail"), sec
    np.testing.assert_allclose(sec["metrics"]["eps"], grid, rtol=1e-6)
    crit = sec["criteria"]
    assert math.isclose(crit["judged_at"]["eps"], judged, rel_tol=1e-6)
    assert crit["judged_at"]["norm"] == "linf"
    assert crit["thresholds"] == {"pass": 0.5, "warn": 0.2}
    assert crit["grid"]["source"] == ("given" if overrides else "image") and crit["grid"]["rule"]
    # the verdict follows the stated rule from the stated figures
    i = [round(e, 9) for e in sec["metrics"]["eps"]].index(round(judged, 9))
    ratio = sec["metrics"]["worst_case"][i] / sec["metrics"]["clean_accuracy"]
    assert math.isclose(crit["measured"]["ratio"], ratio, rel_tol=1e-9)
    expected = "pass" if ratio >= 0.5 else "warn" if ratio >= 0.2 else "fail"
    if expected == "pass" and sec["warnings"]:
        expected = "warn"
    assert sec["verdict"] == expected
    html = html_path.read_text()
    label = format_eps(judged)
    assert f"judged at ε = {label}" in html and "≥ 0.5" in html and "≥ 0.2" in html
    assert label in sec["headline"]


def test_schema_requires_criteria_of_a_judged_robustness_section():
    jsonschema = pytest.importorskip("jsonschema")
    from armour_core.audit.schema import SCHEMA_VERSION, validate

    section = {"title": "Robustness", "verdict": "pass", "headline": "h", "metrics": {}, "warnings": [],
               "seconds": 0.0, "dist": "armour-plugins-attacks"}
    report = {"schema_version": SCHEMA_VERSION, "title": "t", "summary": [], "sections": {"robustness": section},
              "manifest": {"armour_core": "0", "plugins": {}, "mindspore": "x", "numpy": "x", "python": "3",
                           "platform": "p", "profile": "quick", "seed": 0, "command": "", "model": "m",
                           "dataset": "d", "timing_seconds": {}, "started_at": ""}}
    with pytest.raises(jsonschema.ValidationError):
        validate(report)
    section["criteria"] = {"rule": "r", "judged_at": {"eps": 0.1, "norm": "linf"},
                           "thresholds": {"pass": 0.5, "warn": 0.2}, "measured": {"ratio": 0.7},
                           "grid": {"values": [0.1], "source": "given", "rule": "r"}}
    validate(report)
    section["criteria"]["thresholds"]["pass"] = "half"
    with pytest.raises(jsonschema.ValidationError):
        validate(report)
