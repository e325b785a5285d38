"""MindSpore's compile cache stays off for armour's graphs (``armour_core.ms.runtime._compile_cache_off``).

Measured with MindSpore 2.10 on CPU (``docs/performance.md``): a cached ``mindspore.jit`` function that reads
a network's Parameters returns NaN in the next process, and graphs are looked up by compile order, so a
process that compiles in another order runs another function's graph. These tests run fresh processes that
ask for the cache: they must get the results of a process without it (also with other weights and another
compile order), a warning, and no cache files; ``ARMOUR_MS_COMPILE_CACHE=1`` leaves MindSpore's switch alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from armour_core.testing.markers import requires_mindspore

pytestmark = requires_mindspore

SCRIPT = textwrap.dedent("""
    import json, os, sys, warnings
    warnings.simplefilter("always")
    import armour_core.ms  # noqa: F401  (configure(): the compile cache guard)
    import mindspore as ms
    import numpy as np
    from mindspore import nn
    ms.set_seed(int(sys.argv[1]))
    net = nn.SequentialCell([nn.Dense(12, 8), nn.ReLU(), nn.Dense(8, 3)])
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    def total(x, y):
        return ce(net(x), y)
    def scores(x, y):
        return net(x) * 2.0
    fns = {"grad": ms.jit(ms.grad(total, grad_position=0)), "scores": ms.jit(scores)}
    x = ms.Tensor(np.linspace(-1, 1, 5 * 12, dtype=np.float32).reshape(5, 12))
    y = ms.Tensor(np.array([0, 1, 2, 0, 1], np.int32))
    out = {k: fns[k](x, y).asnumpy().tolist() for k in sys.argv[2].split(",")}
    print(json.dumps(out))
""")


def run(tmp_path, seed: int, order: str, **env) -> tuple[dict, str]:
    full = {k: v for k, v in os.environ.items() if k not in ("MS_COMPILER_CACHE_ENABLE", "ARMOUR_MS_COMPILE_CACHE")}
    full.update(env)
    script = tmp_path / "graphs.py"  # MindSpore parses the source of jit functions: it needs a file
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(seed), order], env=full, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def cache_files(path) -> list:
    return [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]


def test_asked_for_cache_is_switched_off_and_results_match_a_fresh_process(tmp_path):
    cache = tmp_path / "ms_cache"
    asked = {"MS_COMPILER_CACHE_ENABLE": "1", "MS_COMPILER_CACHE_PATH": str(cache)}
    first, err = run(tmp_path, 0, "grad,scores", **asked)
    assert "switched MindSpore's compile cache off" in err
    # a second process: other weights of the same network class and shapes, the functions in the other order
    second, _ = run(tmp_path, 1, "scores,grad", **asked)
    fresh0, _ = run(tmp_path, 0, "grad,scores")
    fresh1, _ = run(tmp_path, 1, "scores,grad")
    for got, want in ((first, fresh0), (second, fresh1)):
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-7)
            assert np.isfinite(got[key]).all()
    assert not np.allclose(second["scores"], first["scores"])  # the weights did change
    assert cache_files(cache) == []


def test_no_warning_when_the_cache_is_not_asked_for(tmp_path):
    _, err = run(tmp_path, 0, "scores")
    assert "compile cache" not in err


@pytest.mark.parametrize("how", ["env"])
def test_opt_out_leaves_mindspore_switch_alone(tmp_path, how):
    cache = tmp_path / "ms_cache"
    _, err = run(tmp_path, 0, "scores", MS_COMPILER_CACHE_ENABLE="1", MS_COMPILER_CACHE_PATH=str(cache),
                 ARMOUR_MS_COMPILE_CACHE="1")
    assert "switched MindSpore's compile cache off" not in err
    assert any(f.endswith(".mindir") for f in cache_files(cache))  # MindSpore wrote its cache: the switch held
