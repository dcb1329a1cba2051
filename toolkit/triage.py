"""Batch triage: one row per file, bad files as rows, on every core (or a Dask cluster).

`triage_file` never raises for a bad file: the toolkit's one sentence goes into the row.
Each file is diagnosed on its own safe copy, so files are independent work items and the
runner can hand them to processes on this machine or to a Dask scheduler.

On this machine every file gets its own worker process (forked, at most `jobs` at a time,
never the caller's own process), with a memory cap and a wall-clock budget: a file that makes
SQLite crash the process (a stack overflow on a crafted schema), eat memory or hang becomes
that file's row ("the tool could not read this file safely"), never the end of the batch.

A file whose header is not SQLite 3's (an image, an archive, a text, a sidecar on its own) is a
'not-a-database' row, named by what its header says, and does not count against the run: a customer's
data folder holds more than databases.
"""
from __future__ import annotations

import contextlib
import csv
import faulthandler
import multiprocessing
import os
import re
import signal
import time
import traceback
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from . import errors
from .findings import FindingCode
from .safe_access import SIDECAR_SUFFIXES, FileKind, foreign_file_error, sniff_file

if TYPE_CHECKING:
    from .diagnosis import Finding
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkContext, SpawnContext
    from multiprocessing.process import BaseProcess

#: Address space a worker may add to what it inherits: crafted files drove one process to 0.7-2.9 GB
#: (issue 13), so one file must not be able to take the machine's memory; healthy files need far less.
WORKER_MEMORY_LIMIT = 2 << 30
#: Seconds a worker gets beyond the toolkit's own time limit (TOOLKIT_TIME_LIMIT) before it is killed.
WORKER_GRACE = 10.0


#: Row states beside a diagnosis' own: a file the toolkit refused, and a file that is no SQLite 3 database.
BAD_FILE = "bad-file"
NOT_A_DATABASE = "not-a-database"
#: Within a severity, the findings that say most about why writes fail come first; advice comes last.
FINDING_ORDER: tuple[FindingCode, ...] = (
    FindingCode.INTEGRITY_ERROR, FindingCode.DANGLING_REFERENCE, FindingCode.PARENT_KEY_NOT_UNIQUE,
    FindingCode.STALE_PARENT_TABLE, FindingCode.ORPHAN_ROWS, FindingCode.FK_CONSTRAINTS_PRESENT,
    FindingCode.TYPE_AFFINITY_MISMATCH, FindingCode.RECORDED_VERSION_MISMATCH, FindingCode.LEFTOVER_MIGRATION_TABLE,
    FindingCode.FK_COLUMNS_NOT_NULL, FindingCode.NON_DEFERRABLE_CYCLE, FindingCode.UNINDEXED_CHILD_KEY,
    FindingCode.WAL_NOT_CHECKPOINTED,
)
#: Findings that only say which app's profile a file fits, not what is wrong with it: ranked after all others.
PROFILE_FINDINGS: tuple[FindingCode, ...] = (FindingCode.NO_UPSCALES_TABLE,)


@dataclass(frozen=True)
class TriageRow:
    file: str  # the full, resolved path
    state: str  # a diagnosis state, BAD_FILE or NOT_A_DATABASE
    needs_030: bool | None
    failing: str  # the failing reference(s) of the app's insert, comma separated
    reason: str  # their reasons; a bad file's error type; what a not-a-database file's header says
    top_finding: str  # the code of the most severe finding
    top_message: str  # and its sentence
    answer: str
    error: str
    exit_code: int
    seconds: float

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def top_finding(findings: Iterable[Finding]) -> Finding | None:
    """The most severe finding; among equals, the first in FINDING_ORDER, then the first reported."""
    from .diagnosis import Severity

    def rank(indexed: tuple[int, Finding]) -> tuple[bool, int, int, int]:
        index, finding = indexed
        code = str(finding.code)
        order = FINDING_ORDER.index(code) if code in FINDING_ORDER else len(FINDING_ORDER)
        return code in PROFILE_FINDINGS, list(Severity).index(finding.severity), order, index

    ranked = sorted(enumerate(findings), key=rank)
    return ranked[0][1] if ranked else None


def not_a_database_row(path: str, kind: FileKind, seconds: float = 0.0) -> TriageRow:
    """The row of a file whose header is not SQLite 3's: what the header says, and diagnose's sentence."""
    return TriageRow(path, NOT_A_DATABASE, None, "", kind.value, "", "", "", foreign_file_error(path, kind).message,
                     errors.EXIT_NOT_A_DATABASE, seconds)


def triage_file(path: str | Path, full_check: bool = False) -> TriageRow:
    """Diagnose one file into a row; a bad file becomes a row with its error."""
    from .diagnosis import Reason, diagnose

    started = time.perf_counter()
    path = os.path.realpath(path)
    kind = sniff_file(path)  # only the header is read: such a file is never handed to SQLite
    if kind is not None and kind is not FileKind.SQLITE3:
        return not_a_database_row(path, kind, time.perf_counter() - started)
    try:
        d = diagnose(path, full_check=full_check)
    except errors.ToolkitError as exc:
        return TriageRow(path, BAD_FILE, None, "", type(exc).__name__, "", "", "", exc.message, exc.exit_code,
                         time.perf_counter() - started)
    failing = [r for r in d.insert_simulation.references if r.reason != Reason.OK]
    top = top_finding(d.findings)
    return TriageRow(path, d.state, d.needs_migration_030, ", ".join(r.column for r in failing),
                     ", ".join(r.reason for r in failing), top.code if top else "", top.message if top else "",
                     d.answer, "", d.exit_code, time.perf_counter() - started)


def run_exit_code(rows: Iterable[TriageRow]) -> int:
    """Triage's own exit code: 2 if any file was bad, else 1 if any needs work, else 0.  A file that is
    not a database does not count: the run reports it and goes on."""
    codes = {r.exit_code for r in rows if r.state != NOT_A_DATABASE}
    return errors.EXIT_BAD_INPUT if errors.EXIT_BAD_INPUT in codes else max(codes, default=errors.EXIT_OK)


def _beside_its_database(path: Path) -> bool:
    return any(path.name.endswith(suffix) and path.with_name(path.name[:-len(suffix)]).is_file()
               for suffix in SIDECAR_SUFFIXES)


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and every file under each folder, by full resolved path (a sidecar beside its
    database belongs to it; one on its own is a file of its own)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and not _beside_its_database(f)
                            and not any(part.startswith(".") for part in f.relative_to(p).parts))
        else:
            found.append(p)
    return [Path(os.path.realpath(f)) for f in found]


def _progress(rows: Iterator[tuple[int, TriageRow]], total: int, show: bool) -> Iterator[tuple[int, TriageRow]]:
    if not show:
        yield from rows
        return
    from tqdm import tqdm

    yield from tqdm(rows, total=total, unit="file", desc="triage", leave=False)


def triage(paths: Iterable[str | Path], *, jobs: int = 1, progress: bool = False, scheduler: str | None = None,
           full_check: bool = False, time_limit: float | None = None) -> list[TriageRow]:
    """Triage every file; rows come back in input order.

    Without a scheduler each file runs in its own worker process, `jobs` at a time; a worker
    that dies (a signal, a non-zero exit) or is still running after `time_limit` seconds of wall
    clock (default: `worker_time_limit`, the toolkit's time limit for that file plus WORKER_GRACE)
    is killed and becomes that file's 'bad-file' row with exit code 2.
    """
    files = [str(p) for p in expand(paths)]
    if scheduler:
        return _triage_dask(files, scheduler, full_check)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files) or 1))
    budgets = [worker_time_limit(f) if time_limit is None else time_limit for f in files]
    rows: list[TriageRow | None] = [None] * len(files)
    for index, row in _progress(_run_workers(files, full_check, jobs, budgets), len(files), progress):
        rows[index] = row
    return rows  # type: ignore[return-value]  # every index was filled


# --------------------------------------------------------------------------- the workers
def worker_time_limit(path: str | Path) -> float:
    """Wall-clock seconds one file's worker may run: the toolkit's own deadline for that file
    (guards.default_time_limit) plus WORKER_GRACE, so SQLite's deadline gives its own sentence
    first and the kill only catches what it cannot stop."""
    from .guards import default_time_limit

    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0  # the worker will say what is wrong with it
    return default_time_limit(size) + WORKER_GRACE


def _context() -> ForkContext | SpawnContext:
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_workers(files: list[str], full_check: bool, jobs: int,
                 budgets: list[float]) -> Iterator[tuple[int, TriageRow]]:
    """Yield (index, row) as each file's worker finishes; no worker outlives this generator."""
    from multiprocessing.connection import wait

    ctx = _context()
    if ctx.get_start_method() == "fork":
        from . import diagnosis  # noqa: F401  imported once here, not once per forked worker
    queue = list(enumerate(files))[::-1]
    # receiving end -> (index, path, process, started, deadline)
    running: dict[Connection[Any, Any], tuple[int, str, BaseProcess, float, float]] = {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                index, path = queue.pop()
                receive, send = ctx.Pipe(duplex=False)
                worker: BaseProcess = ctx.Process(target=_worker, args=(send, path, full_check), name=f"triage-{index}")
                started = time.monotonic()
                worker.start()
                send.close()  # only the worker holds the sending end: its death is EOF here
                running[receive] = (index, path, worker, started, started + budgets[index])
            timeout = max(0.0, min(entry[4] for entry in running.values()) - time.monotonic())
            for ready in wait(list(running), timeout):
                receive = cast("Connection[Any, Any]", ready)  # wait() returns the ends it was given
                index, path, worker, started, _ = running.pop(receive)
                try:
                    row = receive.recv()
                except (EOFError, OSError):
                    row = None  # it died before sending its row
                receive.close()
                worker.join(WORKER_GRACE)
                if worker.is_alive():  # sent its row but will not exit: not a reason to lose the row
                    worker.kill()
                    worker.join()
                yield index, row if row is not None else _stopped_row(path, started, _how_it_stopped(worker.exitcode))
            now = time.monotonic()
            for receive in [r for r, entry in running.items() if entry[4] <= now]:
                index, path, worker, started, _ = running.pop(receive)
                worker.kill()
                worker.join()
                receive.close()
                yield index, _stopped_row(path, started, f"its worker was still running at the time limit "
                                                        f"({budgets[index]:g} s) and was stopped", "WorkerTimedOut")
    finally:  # an interrupted batch (Ctrl-C, the caller stopped iterating) leaves no worker behind
        for receive, (_, _, worker, _, _) in running.items():
            worker.kill()
            worker.join()
            receive.close()


def _how_it_stopped(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"its worker stopped with signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"its worker stopped with signal {-exitcode}"
    if exitcode:
        return f"its worker stopped with exit code {exitcode}"
    return "its worker stopped without a result"


def _stopped_row(path: str, started: float, how: str, reason: str = "WorkerCrashed") -> TriageRow:
    how = re.sub(r"\s+", " ", how).strip()
    return TriageRow(path, BAD_FILE, None, "", reason, "", "", "",
                     f"{path}: the tool could not read this file safely ({how}); send it to engineering.",
                     errors.EXIT_BAD_INPUT, time.monotonic() - started)


def _worker(send: Connection[Any, Any], path: str, full_check: bool) -> None:
    """Runs in the worker process: diagnose one file, send its row back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops every worker
    if not os.environ.get("TOOLKIT_DEBUG"):
        faulthandler.disable()  # inherited (pytest, PYTHONFAULTHANDLER): a crash is the row's sentence, not a dump
    _cap_memory()
    started = time.monotonic()
    try:
        _inject_fault(path)
        row = triage_file(path, full_check)
    except MemoryError:
        row = _stopped_row(path, started, f"its worker reached its memory limit "
                                          f"({WORKER_MEMORY_LIMIT / 2**30:g} GiB)", "WorkerOutOfMemory")
    except Exception as exc:  # a bug met on this file: its row says so, the batch goes on
        if os.environ.get("TOOLKIT_DEBUG"):
            traceback.print_exc()
        row = _stopped_row(path, started, f"its worker stopped with {type(exc).__name__}: {exc}", "WorkerError")
    send.send(row)
    send.close()


def _cap_memory() -> None:
    """Let this worker grow by at most WORKER_MEMORY_LIMIT: past it, allocations fail (MemoryError).
    And no core dump: a crashed worker's memory holds the customer's data."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    try:
        with open("/proc/self/statm") as fh:  # what the fork inherited from the parent already counts
            inherited = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        inherited = 0
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = inherited + WORKER_MEMORY_LIMIT
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _inject_fault(path: str) -> None:
    """Fault injection for tests, in the worker, for a path containing the given text:
    TOOLKIT_FAULT_CRASH_ON=TEXT  the worker dies of SIGSEGV, as SQLite does on a stack overflow;
    TOOLKIT_FAULT_HANG_ON=TEXT   the worker stops itself (SIGSTOP), so only the time limit ends it;
    TOOLKIT_FAULT_MEMORY_ON=TEXT the worker asks for a little more than its memory limit at once."""
    def hit(name: str) -> bool:
        text = os.environ.get(name)
        return bool(text and text in path)

    if hit("TOOLKIT_FAULT_CRASH_ON"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if hit("TOOLKIT_FAULT_HANG_ON"):
        os.kill(os.getpid(), signal.SIGSTOP)
    if hit("TOOLKIT_FAULT_MEMORY_ON"):
        bytes(WORKER_MEMORY_LIMIT + (64 << 20))  # calloc'd, untouched: without the cap it would succeed


def _triage_dask(files: list[str], scheduler: str, full_check: bool) -> list[TriageRow]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise errors.RefusedError("--scheduler needs Dask: pip install 'dask[distributed]' "
                                  "(without --scheduler, triage runs on this machine's cores).") from None
    try:
        client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise errors.RefusedError(
            f"Cannot reach the Dask scheduler at {scheduler} ({exc}); check the address.") from None
    try:
        futures = client.map(triage_file, files, full_check=full_check, pure=False)
        rows: list[TriageRow] = client.gather(futures)  # type: ignore[no-untyped-call]
        return rows
    finally:
        client.close()  # type: ignore[no-untyped-call]


def write_csv(rows: list[TriageRow], out: str | Path) -> Path:
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=TriageRow.columns())
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the CSV appears whole or not at all
        raise
    return out
