"""Run a program and measure it: wall time, peak resident memory (its own or any waited-for
descendant's), exit status; killed with its whole process group at a hard limit."""
from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: An address-space ceiling for the measured program. Not a check: it keeps a memory bomb that
#: gets through from taking the test machine down (the 500 MB checks fail long before it).
ADDRESS_SPACE_GUARD = 4 << 30


@dataclass(frozen=True)
class Measured:
    returncode: int  # negative: killed by that signal
    wall: float  # seconds
    peak_mb: float
    stdout: str
    stderr: str
    killed: bool  # by us, at the hard limit or past `stop_above_mb`

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _guard() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_GUARD, ADDRESS_SPACE_GUARD))


def run_measured(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, hard_limit: float,
                 stdin: bytes | None = None, logs: Path, stop_above_mb: float | None = None) -> Measured:
    """Run `args` in its own session (so the whole group can be killed), with stdin, stdout and
    stderr in files in `logs` (a pipe could fill and stall a child we only `wait4` for).
    `stop_above_mb`: kill it as soon as its resident memory passes that (enough to know)."""
    logs.mkdir(parents=True, exist_ok=True)
    in_path, out_path, err_path = logs / "stdin", logs / "stdout", logs / "stderr"
    in_path.write_bytes(stdin or b"")
    with open(in_path, "rb") as inp, open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=inp, stdout=out, stderr=err,
                                start_new_session=True, preexec_fn=_guard)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            _kill_group(proc.pid)

        timer = threading.Timer(hard_limit, kill)
        timer.start()
        done = threading.Event()
        if stop_above_mb is not None:
            threading.Thread(target=_watch_memory, args=(proc.pid, stop_above_mb, done, kill), daemon=True).start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            done.set()
            timer.cancel()
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
    _kill_group(proc.pid)  # anything it left running in its group
    return Measured(proc.returncode, wall, usage.ru_maxrss / 1024, out_path.read_text(errors="replace"),
                    err_path.read_text(errors="replace"), killed.is_set())


def _watch_memory(pid: int, limit_mb: float, done: threading.Event, kill) -> None:
    while not done.wait(0.05):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        rss_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        if rss_kb / 1024 > limit_mb:
            kill()
            return


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
