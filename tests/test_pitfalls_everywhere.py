"""Pitfalls that apply everywhere (``/work/shared/MINDARMOUR_PITFALLS.md``, section "Everywhere"): quiet,
side-effect-free imports, determinism without hidden global NumPy state, and the execution mode stated with
every benchmark figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from armour_core import registry
from armour_core.testing.markers import requires_dists

ROOT = Path(__file__).resolve().parents[1]

_IMPORT_PROBE = r"""
import json, os, sys, time, warnings
sleeps = []
_real_sleep = time.sleep
time.sleep = lambda s: sleeps.append(s)  # record, do not wait
caught = []
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    import armour_core
    from armour_core import registry
    listing = {k: registry.names(k) for k in registry.kinds()}
    light = "mindspore" in sys.modules
    modules = sorted({s.target.split(":")[0] for k in registry.kinds() for s in registry.specs(k)
                      if isinstance(s.target, str)})
    modules += ["armour_core.ms", "armour_plugins_privacy.dp.model", "armour_plugins_privacy.suppress.model",
                "armour_plugins_privacy.dp.callbacks"]
    import importlib, importlib.util
    if importlib.util.find_spec("armour_plugins_fuzz"):  # the fuzz engine, when its distribution is installed
        modules.append("armour_plugins_fuzz.fuzzer.fuzzer")
    for m in modules:
        importlib.import_module(m)
    caught = [f"{x.category.__name__}: {x.message} ({x.filename}:{x.lineno})" for x in w]
time.sleep = _real_sleep
print("ARMOUR-PROBE " + json.dumps({"sleeps": sleeps, "warnings": caught, "mindspore_on_listing": light,
                                     "modules": len(modules), "kinds": len(listing)}))
"""


def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@requires_dists("attacks", "privacy", "fuzz")  # every plugin implementation module, ten kinds and more
def test_imports_neither_sleep_nor_warn_nor_write_files(tmp_path):
    """Pitfall: "No import-time sleeps, warnings or files written to the working directory."

    A fresh interpreter in an empty working directory imports ``armour_core``, lists every plugin, then
    imports every plugin implementation module and the wrappers: ``time.sleep`` is never called, no Python
    warning is issued and none is logged to stderr (MindSpore's own log), listing does not import MindSpore,
    and the directory stays empty."""
    env = {**os.environ, "ARMOUR_PLUGINS_STRICT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONWARNINGS", None)
    before = _tree(tmp_path)
    proc = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("ARMOUR-PROBE ")]
    assert line, proc.stdout[-2000:]
    out = json.loads(line[-1][len("ARMOUR-PROBE "):])
    assert out["modules"] > 10 and out["kinds"] >= 10
    assert out["sleeps"] == [], f"import-time sleeps: {out['sleeps']}"
    assert out["warnings"] == [], "import-time warnings:\n" + "\n".join(out["warnings"])
    noisy = [ln for ln in proc.stderr.splitlines() if "warn" in ln.lower()]
    assert not noisy, "warnings printed to stderr at import:\n" + "\n".join(noisy[:10])
    assert not out["mindspore_on_listing"], "listing plugins imported mindspore"
    assert _tree(tmp_path) == before, f"files written to the working directory: {_tree(tmp_path) - before}"


# ---------------------------------------------------------------------------------------- determinism
def _runs(armour_mlp, armour_digits):
    """Randomised algorithms of every kind, each a zero-argument callable returning arrays."""
    x, y = armour_digits.x_test[:6], armour_digits.y_test[:6]
    xtr = armour_digits.x_train[:40]

    def attack(name, **cfg):
        return lambda: registry.create("attack", name, model=armour_mlp, seed=0, **cfg).generate(x, y).adversarial

    def mutator(name, **cfg):
        return lambda: registry.create("mutator", name, seed=0, **cfg).mutate(x)

    def noise():
        return registry.create("noise", "gaussian", noise_multiplier=1.0, seed=0).sample(50)

    def suppressor():
        w = {"a": np.linspace(-1, 1, 40).reshape(8, 5)}
        return registry.create("suppressor", "random", seed=0).masks(w, 0.5)["a"]

    def region():
        det = registry.create("detector", "region_based", model=armour_mlp, radius=0.1, samples=10, seed=0)
        return det.fit(xtr).score(x)

    def fuzz():
        from armour_plugins_fuzz.fuzzer import Fuzzer

        fz = Fuzzer(armour_mlp, ["gaussian_noise", "rotate"], coverage="neuron", scheduler="uniform",
                    mutants_per_seed=3, alpha=0.5, beta=0.5, seed=0)
        rep = fz.run(x, y, max_iters=3)
        return np.asarray(rep.corpus_x)

    return {
        "pgd": attack("pgd", steps=2, compile="eager"), "rfgsm": attack("rfgsm"), "rfgm": attack("rfgm"),
        "apgd": attack("apgd", steps=5), "difgsm": attack("difgsm", steps=3, compile="eager"),
        "vmifgsm": attack("vmifgsm", steps=3, neighbours=3, compile="eager"),
        "nes": attack("nes", max_queries=40, samples=5), "genetic": attack("genetic", max_queries=40),
        "pso": attack("pso", max_queries=40), "square": attack("square", queries=20),
        "hsja": attack("hsja", max_queries=60), "salt_and_pepper": attack("salt_and_pepper", max_queries=30),
        "mutator_gaussian_noise": mutator("gaussian_noise"), "mutator_perspective": mutator("perspective"),
        "noise_gaussian": noise, "suppressor_random": suppressor, "detector_region_based": region,
        "fuzzer": fuzz,
    }


@requires_dists("attacks", "privacy", "fuzz")
def test_deterministic_under_a_seed_without_global_numpy_state(armour_mlp, armour_digits):
    """Pitfall: "Deterministic under a seed: no hidden use of the global NumPy random state."

    Each randomised algorithm (attacks, mutators, noise, suppressor, detector, fuzzer) is run twice with
    ``seed=0`` after *different* ``np.random.seed`` and ``mindspore.set_seed`` calls: the results are identical,
    and the global NumPy state is left exactly as it was (nothing drew from it)."""
    import warnings

    import mindspore as ms

    bad = []
    for name, run in _runs(armour_mlp, armour_digits).items():
        outs = []
        for global_seed in (1, 2):
            ms.set_seed(global_seed)
            np.random.seed(global_seed)
            state = np.random.get_state()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outs.append(np.asarray(run()))
            after = np.random.get_state()
            if not (after[1] == state[1]).all() or after[2] != state[2]:
                bad.append(f"{name}: drew from the global NumPy random state")
        if outs[0].shape != outs[1].shape or not np.array_equal(outs[0], outs[1]):
            bad.append(f"{name}: differs between two runs with seed=0")
    assert not bad, "\n".join(bad)


@requires_dists("privacy")
def test_shadow_model_training_leaves_the_global_numpy_state_alone(armour_mlp, armour_digits):
    """Pitfall: "Deterministic under a seed: no hidden use of the global NumPy random state."

    LiRA trains shadow networks under its own ``seed``; that must neither depend on nor overwrite the
    caller's global NumPy state (``mindspore.set_seed`` also calls ``np.random.seed``, so seeding MindSpore
    globally resets the user's NumPy stream)."""
    d = armour_digits
    xp, yp = d.x_test[:100], d.y_test[:100]
    scores = []
    for global_seed in (5, 6):
        np.random.seed(global_seed)
        state = np.random.get_state()
        lira = registry.create("inference", "lira", model=armour_mlp, shadows=2, epochs=1, batch_size=64,
                               cache=False, architecture="mlp", seed=0).set_population(xp, yp)
        scores.append(np.asarray(lira.score(d.x_train[:20], d.y_train[:20])))
        after = np.random.get_state()
        assert (after[1] == state[1]).all() and after[2] == state[2], \
            "LiRA reset the caller's global NumPy random state"
    np.testing.assert_array_equal(scores[0], scores[1])


# ---------------------------------------------------------------------------------------- benchmarks
def test_every_benchmark_result_states_the_execution_mode_and_command():
    """Pitfall: "Execution mode (PyNative or graph) is stated with every benchmark figure: MindArmour's own
    speed changes up to 50× between them." Every results file names the command that produced it and the
    execution mode (or says that no MindSpore execution is involved)."""
    results = sorted((ROOT / "benchmarks" / "results").glob("*.md"))
    if not results:
        pytest.skip("no benchmark results in this checkout")
    missing = []
    for path in results:
        text = path.read_text(encoding="utf-8").lower()
        if not any(k in text for k in ("pynative", "graph mode", "graph_mode", "mode not applicable")):
            missing.append(f"{path.name}: no execution mode")
        if "command" not in text and "python benchmarks/" not in text:
            missing.append(f"{path.name}: no command")
    assert not missing, "\n".join(missing)
