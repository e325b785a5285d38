"""Persistence: a run killed with SIGKILL resumes from its last checkpoint with the same corpus, continues
the iteration count, and ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from armour_core.errors import InvalidInputError
from armour_plugins_fuzz.fuzzer import Fuzzer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

MAX_ITERS = 40
SCRIPT = textwrap.dedent("""
    import sys, time
    import armour_core.ms
    from armour_core.ms.pretrained import pretrained
    from armour_plugins_fuzz.fuzzer import Fuzzer

    pre = pretrained("lenet5", "digits")
    d = pre.dataset
    fz = Fuzzer(pre.model, ["gaussian_blur"], coverage="neuron", scheduler="deephunter", mutants_per_seed=10,
                alpha=0.5, beta=0.5, corpus_dir=sys.argv[1], checkpoint_every=1, seed=5)
    orig = fz._iteration
    def slow(*a, **k):  # leave the parent time to kill us mid-run
        time.sleep(0.15)
        return orig(*a, **k)
    fz._iteration = slow
    fz.run(d.x_test[:16], d.y_test[:16], max_iters=int(sys.argv[2]))
""")


def _fuzzer(model, corpus_dir=None):
    return Fuzzer(model, ["gaussian_blur"], coverage="neuron", scheduler="deephunter", mutants_per_seed=10,
                  alpha=0.5, beta=0.5, corpus_dir=corpus_dir, checkpoint_every=1, seed=5)


def _iteration_on_disk(d) -> int:
    try:
        return json.loads((d / "state.json").read_text())["iteration"]
    except (OSError, ValueError, KeyError):
        return -1


def test_killed_run_resumes_same_corpus(armour_lenet, armour_digits, tmp_path):
    d = tmp_path / "corpus"
    env = dict(os.environ, ARMOUR_PROGRESS="0")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(d), str(MAX_ITERS)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _iteration_on_disk(d) < 8:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the fuzzing subprocess made no progress"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = _iteration_on_disk(d)
    assert 8 <= killed_at < MAX_ITERS

    x, y = armour_digits.x_test[:16], armour_digits.y_test[:16]
    # what the checkpoint held when the process died
    snap = _fuzzer(armour_lenet, d).run(x, y, max_iters=killed_at)
    assert snap.resumed_from == killed_at and snap.iterations == killed_at

    resumed = _fuzzer(armour_lenet, d).run(x, y, max_iters=MAX_ITERS)
    assert resumed.resumed_from == killed_at and resumed.iterations == MAX_ITERS
    assert len(resumed.coverage_history["neuron"]) == MAX_ITERS + 1
    n = len(snap.corpus_x)
    assert np.array_equal(resumed.corpus_x[:n], snap.corpus_x)  # the corpus continues, it is not rebuilt
    assert resumed.corpus_chains[:n] == snap.corpus_chains
    assert resumed.findings[: len(snap.findings)] == snap.findings

    fresh = _fuzzer(armour_lenet).run(x, y, max_iters=MAX_ITERS)  # never interrupted, in memory
    assert np.array_equal(resumed.corpus_x, fresh.corpus_x)
    assert resumed.corpus_chains == fresh.corpus_chains
    assert resumed.findings == fresh.findings
    np.testing.assert_array_equal(resumed.coverage_history["neuron"], fresh.coverage_history["neuron"])
    assert {k: v.asdict() for k, v in resumed.mutators.items()} == {k: v.asdict() for k, v in fresh.mutators.items()}

    # a different configuration does not silently reuse the directory; resume=False starts afresh
    other = Fuzzer(armour_lenet, ["gaussian_blur"], coverage="neuron", scheduler="uniform", corpus_dir=d)
    with pytest.raises(InvalidInputError, match="corpus_dir"):
        other.run(x, y, max_iters=MAX_ITERS)
    again = other.run(x, y, max_iters=2, resume=False)
    assert again.resumed_from is None and again.iterations == 2
    assert sorted(p.name for p in d.iterdir()) == ["chunks", "coverage-00000002.npz", "state.json"]
