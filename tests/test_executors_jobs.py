"""Same seeds, same figures on every executor: sharded robustness evaluation and merged fuzzing campaigns on
local, processes and (when installed) Ray equal the one-process run exactly; a worker that dies is retried
once, then the command fails with one line and no partial report."""

from __future__ import annotations

import os

import numpy as np
import pytest

from armour_core.executors import TaskFailedError, get_executor
from armour_core.testing.markers import has_module, requires_dists

pytestmark = requires_dists("attacks", "fuzz")

EXECUTORS = ["local", "processes", *(["ray"] if has_module("ray") else [])]
ATTACKS = ["fgsm", ("pgd", {"steps": 3}), "deepfool"]  # pgd: random starts; deepfool: minimum-norm
EVAL = dict(attacks=ATTACKS, eps=[0.05, 0.2], batch_size=4, keep_examples=10, check_determinism=False)
FUZZ = dict(mutators=["contrast", "gaussian_noise", "rotate"], coverage=["neuron", "top_k"], mutants_per_seed=6)


@pytest.fixture(scope="module")
def ref():
    from armour_core.loading import ModelRef

    return ModelRef(model="mlp", dataset="digits")


@pytest.fixture(scope="module")
def data(ref):
    from armour_core.ms.pretrained import pretrained

    d = pretrained(ref.model, ref.dataset).dataset
    return d.x_test[:16], d.y_test[:16]


def _figures(rep) -> dict:
    """A report's figures, without the measured seconds."""
    d = rep.to_dict()
    d.pop("seconds", None), d.pop("iterations_per_second", None)
    for run in d.get("runs", []):
        run.pop("seconds")
    for budget in d.get("budget", {}).values():
        budget.pop("seconds")
    return d


@pytest.fixture(scope="module")
def one_process(ref, data):
    """The unsharded run in this process: the reference every executor must reproduce."""
    from armour_plugins_attacks.evaluation import evaluate_robustness

    return evaluate_robustness(ref.load(), *data, **EVAL)


@pytest.mark.parametrize("name", EXECUTORS)
def test_sharded_evaluation_equals_the_one_process_run(name, ref, data, one_process):
    from armour_plugins_attacks.evaluation import evaluate_robustness

    # 16 examples in batches of 4, shards of 8 (batches 0-1 and 2-3): each batch draws the random starts it
    # draws unsharded
    rep = evaluate_robustness(ref, *data, **EVAL, executor=get_executor(name, workers=2), shard_size=8)
    assert _figures(rep) == _figures(one_process)
    assert np.array_equal(rep.robust_mask, one_process.robust_mask)
    for a, b in zip(rep.examples["adversarial"], one_process.examples["adversarial"]):
        assert np.array_equal(a, b)
    assert 0 < rep.worst_case[-1] < rep.clean_accuracy  # the attacks did break points: the figures mean something


def test_the_model_attack_eps_grid_is_one_set_of_tasks(ref, data):
    """Several models, one map: each report equals that model's own one-process evaluation."""
    from armour_core.loading import ModelRef
    from armour_plugins_attacks.evaluation import evaluate_models, evaluate_robustness

    models = {"mlp": ref, "lenet5": ModelRef(model="lenet5", dataset="digits")}
    kw = dict(attacks=["fgsm", ("pgd", {"steps": 2})], eps=[0.1], batch_size=8, check_determinism=False)
    reports = evaluate_models(models, *data, **kw, executor=get_executor(EXECUTORS[-1], workers=2))
    assert list(reports) == ["mlp", "lenet5"]
    for name, m in models.items():
        assert _figures(reports[name]) == _figures(evaluate_robustness(m.load(), *data, **kw))
    assert _figures(reports["mlp"]) != _figures(reports["lenet5"])


def test_shards_must_be_whole_batches(ref, data):
    from armour_core.errors import InvalidInputError
    from armour_plugins_attacks.evaluation import evaluate_robustness

    with pytest.raises(InvalidInputError, match="shard_size: expected a positive multiple of batch_size=4"):
        evaluate_robustness(ref, *data, **EVAL, executor="local", shard_size=6)
    with pytest.raises(InvalidInputError, match="model: the processes executor loads the model in its workers"):
        evaluate_robustness(ref.load(), *data, **EVAL, executor="processes")


@pytest.fixture(scope="module")
def campaigns_local(ref, data):
    from armour_plugins_fuzz.fuzzer.campaigns import run_campaigns

    return run_campaigns(ref, *data, campaigns=2, executor="local", max_iters=6, seed=3, **FUZZ)


@pytest.mark.parametrize("name", [n for n in EXECUTORS if n != "local"])
def test_campaigns_merge_to_the_same_report_on_every_executor(name, ref, data, campaigns_local):
    from armour_plugins_fuzz.fuzzer.campaigns import run_campaigns

    rep = run_campaigns(ref, *data, campaigns=2, executor=get_executor(name, workers=2), max_iters=6, seed=3,
                        **FUZZ)
    assert _figures(rep) == _figures(campaigns_local)
    assert np.array_equal(rep.corpus_x, campaigns_local.corpus_x)
    assert np.array_equal(rep.findings_x, campaigns_local.findings_x)


def test_campaigns_are_single_runs_united(ref, data, campaigns_local):
    """Campaign i is the one-process run with seed 3 + i; the merged coverage is the union of their covered
    sets; every distinct finding of either run is reported once."""
    from armour_plugins_fuzz.fuzzer import Fuzzer

    runs, states = [], []
    for s in (3, 4):
        fz = Fuzzer(ref.load(), **FUZZ, seed=s)
        runs.append(fz.run(*data, max_iters=6))
        states.append({k: c.get_state() for k, c in fz.criteria.items()})
    merged = campaigns_local
    assert [c["seed"] for c in merged.campaigns] == [3, 4]
    for c, run in zip(merged.campaigns, runs):
        assert c["coverage"] == run.coverage and c["failures"] == run.failures
    for key in ("neuron", "top_k"):
        union = [a | b for a, b in zip(states[0][key]["covered"].values(), states[1][key]["covered"].values())]
        assert merged.coverage[key] == pytest.approx(sum(u.sum() for u in union) / sum(u.size for u in union))
        assert merged.coverage[key] >= max(r.coverage[key] for r in runs)
    distinct = {(x.tobytes(), f["label"]) for r in runs for x, f in zip(r.findings_x, r.findings)}
    assert len(merged.findings) == len(distinct) == len({(x.tobytes(), f["label"]) for x, f in
                                                         zip(merged.findings_x, merged.findings)})
    assert merged.iterations == 12 and merged.seeds_misclassified == runs[0].seeds_misclassified
    seeds_kept = sum(1 for c in runs[0].corpus_chains if not c)
    assert seeds_kept <= len(merged.corpus_x) <= sum(len(r.corpus_x) for r in runs) - seeds_kept


# ------------------------------------------------------------------------------------------ failures
def _evaluate_argv(tmp_path, data, executor: str) -> list[str]:
    np.savez(tmp_path / "data.npz", x=data[0][:16], y=data[1][:16])
    return ["evaluate", "--network", "armour_core.testing.tasks:dying_network", "--data", str(tmp_path / "data.npz"),
            "--attacks", "fgsm", "--eps", "0.1", "--batch-size", "8", "--executor", executor, "--workers", "2",
            "--no-determinism-check", "--examples", "0", "--out", str(tmp_path / "out")]


def test_a_worker_dying_every_time_fails_the_command_in_one_line(tmp_path, data, monkeypatch, capsys):
    from armour_core.cli import main

    monkeypatch.setenv("ARMOUR_TEST_DRIVER_PID", str(os.getpid()))  # the model loads here, kills any worker
    assert main(_evaluate_argv(tmp_path, data, "processes")) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("armour: error")]
    assert len(err) == 1 and err[0].startswith("armour: error: 2 of 2 tasks failed on the processes executor "
                                               "(each tried 2 times; no partial result was merged)")
    assert not (tmp_path / "out" / "robustness.json").exists()


def test_a_worker_dying_once_is_retried_and_changes_nothing(tmp_path, data, monkeypatch, capsys):
    from armour_core.cli import main

    monkeypatch.setenv("ARMOUR_TEST_DRIVER_PID", str(os.getpid()))
    monkeypatch.setenv("ARMOUR_TEST_DIE_ONCE", str(tmp_path))
    assert main(_evaluate_argv(tmp_path, data, "processes")) == 0
    sharded = capsys.readouterr().out
    assert (tmp_path / "died").exists()  # a worker did die
    assert main(_evaluate_argv(tmp_path, data, "local")) == 0  # in this process: no worker, nothing dies
    assert capsys.readouterr().out == sharded


def test_a_campaign_failing_twice_is_reported_not_merged(ref, data, tmp_path):
    from armour_plugins_fuzz.fuzzer.campaigns import run_campaigns

    (tmp_path / "file").write_text("not a directory")  # no campaign can make its corpus directory in it
    with pytest.raises(TaskFailedError, match=r"2 of 2 tasks failed on the local executor.*no partial result"):
        run_campaigns(ref, *data, campaigns=2, executor="local", max_iters=2, corpus_dir=tmp_path / "file", **FUZZ)


# ------------------------------------------------------------------------------------------ the audit
def test_the_audit_robustness_section_gives_the_same_figures_on_an_executor(ref, data, tmp_path):
    from pathlib import Path

    from armour_core.audit.context import AuditContext
    from armour_plugins_attacks.cli.audit_section import robustness_section

    def section(executor):
        model = ref.load()
        ctx = AuditContext(model=model, x_train=data[0], y_train=data[1], x_test=data[0], y_test=data[1],
                           num_classes=10, bounds=(0.0, 1.0), profile="quick", seed=0, out_dir=Path(tmp_path),
                           executor=executor, model_ref=ref)
        ctx.settings = {"n": 16, "attacks": ["fgsm", "pgd"], "steps": 3, "small_eps": [0.05, 0.2]}
        res = robustness_section(ctx)
        for budget in res.metrics["budget"].values():
            budget.pop("seconds")
        return res

    here, there = section(None), section(get_executor(EXECUTORS[-1], workers=2))
    assert (there.verdict, there.headline, there.metrics, there.criteria) == \
        (here.verdict, here.headline, here.metrics, here.criteria)


def test_armour_audit_hands_its_sections_the_executor_and_a_model_reference(monkeypatch, tmp_path):
    from armour_core.audit import runner
    from armour_core.cli import main
    from armour_core.loading import ModelRef

    seen = {}

    def fake_run_audit(ctx, **_):
        seen["ctx"] = ctx
        return tmp_path / "report.html", tmp_path / "report.json", {"summary": [
            {"title": "robustness", "verdict": "pass", "headline": "fine"}]}

    monkeypatch.setattr(runner, "run_audit", fake_run_audit)
    assert main(["audit", "--executor", "processes", "--workers", "2", "--out", str(tmp_path)]) == 0
    ctx = seen["ctx"]
    assert (ctx.executor.name, ctx.executor.workers) == ("processes", 2)
    assert ctx.model_ref == ModelRef(model="lenet5", dataset="digits", seed=0)
    assert main(["audit", "--out", str(tmp_path)]) == 0 and seen["ctx"].executor is None  # default: in process
    assert main(["audit", "--ray-address", "10.0.0.1:6379", "--out", str(tmp_path)]) == 2  # needs --executor ray


def test_armour_fuzz_campaigns_write_one_merged_report(tmp_path, capsys):
    import json

    from armour_core.cli import main

    argv = ["fuzz", "--model", "mlp", "--n", "10", "--campaigns", "2", "--max-iters", "3", "--mutators",
            "contrast,rotate", "--corpus-dir", str(tmp_path / "corpus"), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    report = json.loads((tmp_path / "out" / "fuzz.json").read_text())
    assert [c["seed"] for c in report["campaigns"]] == [0, 1] and report["iterations"] == 6
    assert all((tmp_path / "corpus" / f"campaign-{i}" / "state.json").exists() for i in (0, 1))
    assert "2 campaigns on the local executor, merged" in capsys.readouterr().err
    assert main(argv) == 0  # run again: every campaign resumes from its own directory
    again = json.loads((tmp_path / "out" / "fuzz.json").read_text())
    assert [c["resumed_from"] for c in again["campaigns"]] == [3, 3] and again["coverage"] == report["coverage"]
