"""``armour audit`` on the embedded default with every distribution: the report renders in headless Chromium
with every section and plot, the JSON validates, and the same seed gives the same numbers."""

from __future__ import annotations

import os
import shutil

import pytest

from armour_core import registry
from armour_core.testing.markers import skip_module_unless_dists

skip_module_unless_dists("attacks", "privacy", "fuzz")

#: a small audit: the same code paths as --profile quick, on fewer points and iterations
SMALL = {"robustness": {"n": 60, "eps": [0.05, 0.1], "steps": 5},
         "testing": {"max_iters": 4, "seeds": 16, "batch": 8},
         "privacy": {"n": 120}}


def _audit(out_dir, seed=0):
    from armour_core.audit.context import AuditContext
    from armour_core.audit.runner import run_audit
    from armour_core.ms import pretrained as pt

    pre = pt.pretrained("lenet5", "digits")
    d = pre.dataset
    ctx = AuditContext(model=pre.model, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
                       num_classes=d.num_classes, bounds=d.bounds, profile="quick", seed=seed, out_dir=out_dir,
                       model_name="lenet5", dataset_name="digits", train_fn=pt.trainer("lenet5", d))
    return run_audit(ctx, command="pytest", progress=False, overrides=SMALL)


@pytest.fixture(scope="module")
def audits(tmp_path_factory):
    return [_audit(tmp_path_factory.mktemp(f"audit{i}")) for i in range(2)]


def _numbers(report):
    """Every figure of every section, without wall-clock timings."""

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in ("seconds", "iterations_per_second")}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return {k: (v["verdict"], v["headline"], strip(v["metrics"])) for k, v in report["sections"].items()}


def test_json_validates_and_every_section_ran(audits):
    from armour_core.audit.schema import validate

    _, _, report = audits[0]
    validate(report)
    for name in ("robustness", "testing", "privacy"):
        assert report["sections"][name]["verdict"] in ("pass", "warn", "fail"), report["sections"][name]


def test_same_seed_same_numbers(audits):
    assert _numbers(audits[0][2]) == _numbers(audits[1][2])


def _browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def test_report_renders_in_headless_chromium(audits):
    browser = _browser()
    if browser is None:
        if os.environ.get("ARMOUR_REQUIRE_BROWSER") == "1":
            pytest.fail("headless Chromium + chromedriver + selenium are required here (ARMOUR_REQUIRE_BROWSER=1)")
        pytest.skip("headless Chromium, chromedriver or selenium not available")
    html_path, _, report = audits[0]
    try:
        browser.get(html_path.as_uri())
        ids = browser.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id)")
        assert ids[0] == "summary" and ids[-1] == "manifest"
        assert set(report["sections"]) <= set(ids)
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.closest('section').id, i.complete && i.naturalWidth > 0])")
        assert images and all(ok for _, ok in images), images
        with_plots = {sid for sid, _ in images}
        assert {"robustness", "testing", "privacy"} <= with_plots, with_plots
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        browser.quit()


def test_disabled_distribution_leaves_a_placeholder(tmp_path, monkeypatch):
    monkeypatch.setenv("ARMOUR_PLUGINS_DISABLE", "fuzz")
    monkeypatch.setenv("ARMOUR_PLUGINS_STRICT", "0")
    registry.reset()
    try:
        from armour_core.audit.context import AuditContext
        from armour_core.audit.runner import run_audit
        from armour_core.ms import pretrained as pt

        pre = pt.pretrained("lenet5", "digits")
        d = pre.dataset
        ctx = AuditContext(model=pre.model, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test,
                           y_test=d.y_test, num_classes=10, bounds=d.bounds, profile="quick", seed=0,
                           out_dir=tmp_path, model_name="lenet5", dataset_name="digits")
        _, _, report = run_audit(ctx, progress=False, overrides={**SMALL, "privacy": {"n": 60}})
        assert report["sections"]["armour-plugins-fuzz"]["verdict"] == "not_installed"
        assert "disabled" in report["sections"]["armour-plugins-fuzz"]["headline"]
        assert report["sections"]["robustness"]["verdict"] in ("pass", "warn", "fail")
    finally:
        monkeypatch.undo()
        registry.reset()


def test_user_model_and_npz_through_the_cli(tmp_path, capsys):
    """``armour audit --network module:factory --checkpoint --data file.npz`` on a user's model and data."""
    import json

    import numpy as np

    from armour_core.cli import main
    from armour_core.ms import pretrained as pt

    pre = pt.pretrained("lenet5", "digits")
    d = pre.dataset
    data = tmp_path / "data.npz"
    np.savez(data, x_train=d.x_train[:300], y_train=d.y_train[:300], x_test=d.x_test[:300], y_test=d.y_test[:300])
    out = tmp_path / "report"
    code = main(["audit", "--network", "armour_core.builtin.models:LeNet5", "--checkpoint", pre.checkpoint,
                 "--data", str(data), "--out", str(out), "--command-line", "armour audit (test)"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["manifest"]["model"] == "armour_core.builtin.models:LeNet5"
    assert report["sections"]["robustness"]["metrics"]["clean_accuracy"] > 0.8  # the checkpoint was loaded
    assert "report.html" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["--network", "no_such_module_xyz:build", "--data", "{npz}"], "--network"),
    (["--network", "armour_core.builtin.models:LeNet5", "--data", "{missing}"], "--data"),
    (["--network", "armour_core.builtin.models:LeNet5", "--checkpoint", "{npz}", "--data", "{npz}"], "--checkpoint"),
])
def test_malformed_user_input_is_a_clear_error(tmp_path, capsys, argv, needle):
    import numpy as np

    from armour_core.cli import main

    npz = tmp_path / "d.npz"
    np.savez(npz, x=np.zeros((4, 1, 8, 8), np.float32), y=np.zeros(4, np.int64))
    argv = [a.format(npz=npz, missing=tmp_path / "nope.npz") for a in argv]
    assert main(["audit", *argv, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
