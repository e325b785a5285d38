"""``ARMOUR_CPU_THREADS`` (``armour_core.ms.runtime._cpu_threads``): sets MindSpore's CPU kernel threads when
given, leaves MindSpore's default alone when not, keeps a value the caller set first, refuses a bad value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from armour_core.testing.markers import requires_mindspore

pytestmark = requires_mindspore

PROBE = ("from mindspore._c_expression import RuntimeConf\n"
         "import armour_core.ms\n"
         "print(RuntimeConf.get_instance().is_op_threads_num_configured())\n")


def run(code: str, value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ARMOUR_CPU_THREADS"}
    if value is not None:
        env["ARMOUR_CPU_THREADS"] = value
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("value, configured", [(None, "False"), ("1", "True")])
def test_threads_set_only_when_asked(value, configured):
    proc = run(PROBE, value)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.strip().splitlines()[-1] == configured


def test_caller_value_wins():
    code = "import mindspore as ms\nms.device_context.cpu.op_tuning.threads_num(2)\n" + PROBE
    proc = run(code, "1")
    assert proc.returncode == 0, proc.stderr[-1500:]


def test_bad_value_names_the_variable():
    proc = run("import armour_core.ms\n", "0")
    assert proc.returncode != 0
    assert "ARMOUR_CPU_THREADS" in proc.stderr
