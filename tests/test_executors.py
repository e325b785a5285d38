"""The executor contract: same results in task order on every executor, one retry, no partial result."""

from __future__ import annotations

import importlib.util
import os
import pytest

from armour_core.errors import InvalidInputError
from armour_core.executors import EXECUTORS, TaskFailedError, get_executor
from armour_core.testing.tasks import always_fails, dies_first_time, fails_first_time, square, worker_pid


def _available():
    names = ["local", "processes"]
    if importlib.util.find_spec("ray") is not None:
        names.append("ray")
    return names


@pytest.fixture(scope="module", params=_available())
def executor(request):
    return get_executor(request.param, workers=2)


def test_results_come_back_in_task_order(executor):
    assert executor.map(square, range(7)) == [i * i for i in range(7)]


def test_a_transient_failure_is_retried_once(executor, tmp_path):
    tasks = [{"dir": str(tmp_path), "i": i} for i in range(4)]
    assert executor.map(fails_first_time, tasks) == [0, 1, 2, 3]


def test_a_task_failing_twice_fails_the_whole_map_naming_it(executor):
    with pytest.raises(TaskFailedError, match=r"task 0: ValueError: task 1 is broken; then ValueError") as info:
        executor.map(always_fails, [1])
    assert list(info.value.failures) == [0] and len(info.value.failures[0]) == 2


def test_a_dying_worker_is_retried_in_a_new_one(tmp_path):
    for name in [n for n in _available() if n != "local"]:
        d = tmp_path / name
        d.mkdir()
        tasks = [{"dir": str(d), "i": i} for i in range(3)]
        assert get_executor(name, workers=2).map(dies_first_time, tasks) == [0, 10, 20], name


def test_a_processes_executor_keeps_its_workers_across_maps(tmp_path):
    """Workers are spawned once per executor (each imports what its tasks need once), and replaced when one
    dies."""
    with get_executor("processes", workers=2) as ex:
        first = set(ex.map(worker_pid, range(6)))
        assert set(ex.map(worker_pid, range(6))) <= first and os.getpid() not in first
        assert ex.map(dies_first_time, [{"dir": str(tmp_path), "i": 1}]) == [10]
        assert ex.map(square, [3]) == [9]  # a fresh pool after the broken one


def test_bad_choices_name_the_argument():
    with pytest.raises(InvalidInputError, match="executor: expected one of local, processes, ray"):
        get_executor("threads")
    with pytest.raises(InvalidInputError, match="workers: expected a positive integer"):
        get_executor("processes", workers=0)
    with pytest.raises(InvalidInputError, match="address: only the ray executor"):
        get_executor("local", address="10.0.0.1:6379")
    assert set(EXECUTORS) == {"local", "processes", "ray"}


def test_importing_the_module_does_not_import_ray():
    import subprocess
    import sys
    code = "import armour_core.executors, sys; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
