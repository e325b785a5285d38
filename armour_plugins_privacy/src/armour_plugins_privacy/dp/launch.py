"""``armour train-dp --workers N``: start the command itself through MindSpore's ``msrun`` on this host.

The workers run ``python launch.py train-dp <the same arguments>``; each initialises
``mindspore.communication`` and ``DPModel`` trains data-parallel (see :mod:`.distributed`). Rank 0's output
is shown (MindSpore's own log lines are left in the worker logs); when the job fails, the error names the
worker that failed and the last error it logged, instead of msrun's "check the logs".
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # started by msrun as a script: its directory must not shadow top-level modules
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != os.path.dirname(os.path.realpath(__file__))]

import re
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from armour_plugins_privacy.dp.distributed import DistributedError

#: printed by a worker whose command finished: a worker log without it shows where a job failed
DONE_MARKER = "armour: worker finished"
_NOISE = re.compile(r"^\[(INFO|WARNING|DEBUG)\] |^\s*$")
_EXIT = re.compile(r"Worker process (\d+) exit with exception\. Error code: (-?\d+)")
_START = re.compile(r"Start worker process with rank id:(\d+).*")


def free_port() -> int:
    """A TCP port free on the loopback now (the scheduler binds it a moment later; a clash fails fast)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def msrun_command(workers: int, argv: list[str], *, port: int, log_dir: str) -> list[str]:
    """The ``msrun`` command line that runs ``armour <argv>`` on ``workers`` local workers."""
    exe = shutil.which("msrun")
    if exe is None:
        raise DistributedError("--workers: msrun (MindSpore's launcher) is not on PATH; install mindspore >= 2.3 "
                               "or start the workers yourself")
    return [exe, f"--worker_num={workers}", f"--local_worker_num={workers}", f"--master_port={port}",
            "--join=True", f"--log_dir={log_dir}", "--tail_worker_log=0", "--cluster_time_out=120",
            str(Path(__file__).resolve()), *argv]


def _last_error(log: Path) -> str | None:
    """The last line a worker logged that is not MindSpore's INFO/WARNING chatter."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    if any(DONE_MARKER in ln for ln in lines):
        return None
    errors = [ln.strip() for ln in lines if re.match(r"^(armour: |[A-Za-z_.]*(Error|Exception)\b)", ln.strip())]
    return errors[-1][:300] if errors else None


def command_line(parser, args, *, drop: tuple[str, ...] = ("workers",)) -> list[str]:
    """``args`` (parsed by the subcommand ``parser``) back as command-line flags, those in ``drop`` left out:
    what every worker runs (values at their defaults are left to the defaults)."""
    argv = [parser.prog.split()[-1]]
    for action in parser._actions:
        if not action.option_strings or action.dest in (*drop, "help", "debug") or not hasattr(args, action.dest):
            continue
        value = getattr(args, action.dest)
        if value == action.default:
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def launch(workers: int, argv: list[str], *, log_dir: str | None = None) -> int:
    """Run ``armour <argv>`` on ``workers`` msrun workers; raise one :class:`DistributedError` naming the
    failed worker when the job fails."""
    log_dir = log_dir or tempfile.mkdtemp(prefix="armour-msrun-")
    env = dict(os.environ)
    env.setdefault("GLOG_v", "3")  # MindSpore: errors only in the worker logs
    cmd = msrun_command(workers, argv, port=free_port(), log_dir=log_dir)
    exits: list[tuple[str, int]] = []
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            start, died = _START.search(line), _EXIT.search(line)
            if died:
                exits.append((died.group(1), int(died.group(2))))
            if start or died or _NOISE.match(line) or "] ME(" in line or line.startswith(("Traceback", "  ")):
                continue
            sys.stdout.write(line)
            sys.stdout.flush()
        code = proc.wait()
    except BaseException:  # interrupted: msrun stops its workers on SIGINT
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    if code == 0:
        return 0
    failed = []
    for pid, status in exits:
        how = f"was killed by signal {-status}" if status < 0 else f"exited with code {status}"
        failed.append(f"a worker (pid {pid}) {how}")
    for rank in range(workers):
        err = _last_error(Path(log_dir) / f"worker_{rank}.log")
        if err:
            failed.append(f"worker {rank}: {err}")
    why = "; ".join(failed) or f"msrun exit code {code}"
    raise DistributedError(f"--workers {workers}: the distributed job failed ({why}); worker logs in {log_dir}. "
                           "The ledger charges every step that may have "
                           "run (write-ahead): resume from the last --save-checkpoint with the same --ledger")


def _worker_main() -> int:
    """Entry point of each msrun worker: initialise communication, run the armour command, mark the end."""
    from armour_plugins_privacy.dp.distributed import initialise

    initialise()  # msrun's scheduler process stays in here until the job ends
    from armour_core.cli import main

    code = main(sys.argv[1:])
    if code == 0:
        print(DONE_MARKER, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(_worker_main())
