"""Batch triage: one row per file, bad files as rows, the same answers on 1 core, N cores or Dask."""
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SCENARIOS
from toolkit import errors
from toolkit.samples import SAMPLES_DIR
from toolkit.triage import WORKER_MEMORY_LIMIT, triage, write_csv


def comparable(rows):
    return [(r.file, r.state, r.needs_030, r.failing, r.reason, r.top_finding, r.error) for r in rows]


#: The samples whose header is not SQLite 3's, and what triage says it is.
NOT_DATABASES = {"bad_empty.db": "empty", "bad_text.db": "text"}


def test_every_sample_is_a_row_and_bad_files_are_rows_not_crashes():
    rows = triage([SAMPLES_DIR])
    by_name = {r.file.rsplit("/", 1)[-1]: r for r in rows}
    for s in SCENARIOS:
        row = by_name[s.filename]
        if s.filename in NOT_DATABASES:
            assert (row.state, row.reason, row.exit_code) == ("not-a-database", NOT_DATABASES[s.filename], 5)
            assert row.error.startswith(f"{SAMPLES_DIR.resolve() / s.filename} is ")
        elif s.error:
            assert row.state == "bad-file" and row.reason == s.error and row.error and row.exit_code == 2
        else:
            assert row.state == s.state and row.failing == ", ".join(s.failing)
    assert not any(name.endswith("-wal") for name in by_name)  # sidecars belong to their database


def test_jobs_give_the_same_rows_in_the_same_order():
    assert comparable(triage([SAMPLES_DIR], jobs=2)) == comparable(triage([SAMPLES_DIR], jobs=1))


def test_csv_and_cli_exit_codes(tmp_path):
    out = write_csv(triage([SAMPLES_DIR / "v26_seed_failure.db"]), tmp_path / "t.csv")
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["failing"] == "project_id" and rows[0]["state"] == "strict"

    def cli(*paths):
        return subprocess.run([sys.executable, "-m", "toolkit", "triage", *map(str, paths), "--json", "--jobs", "2"],
                              capture_output=True, text=True)
    assert cli(SAMPLES_DIR / "v30_fixed.db").returncode == 0
    assert cli(SAMPLES_DIR / "v30_fixed.db", SAMPLES_DIR / "v26_seed_failure.db").returncode == 1
    mixed = cli(SAMPLES_DIR / "v26_seed_failure.db", SAMPLES_DIR / "bad_truncated.db", SAMPLES_DIR / "bad_text.db")
    assert mixed.returncode == 2 and len(json.loads(mixed.stdout)) == 3
    assert mixed.stderr.count("error:") == 1 and mixed.stderr.count("note:") == 1 and "Traceback" not in mixed.stderr


def test_dask_scheduler_gives_the_same_rows():
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is a dev dependency")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        rows = triage([SAMPLES_DIR], scheduler=cluster.scheduler_address)
    assert comparable(rows) == comparable(triage([SAMPLES_DIR]))


def test_without_dask_installed_the_tool_still_works():
    code = ("import sys; sys.modules['dask'] = None; sys.modules['dask.distributed'] = None\n"
            "from toolkit.triage import triage\nfrom toolkit import errors\n"
            f"rows = triage([{str(SAMPLES_DIR / 'v26_seed_failure.db')!r}], jobs=2)\n"
            "assert rows[0].failing == 'project_id'\n"
            "try:\n    triage(['x.db'], scheduler='tcp://127.0.0.1:1')\nexcept errors.RefusedError as e:\n"
            "    print('refused:', e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "needs Dask" in result.stdout


def test_unreachable_scheduler_is_a_clear_refusal():
    pytest.importorskip("dask.distributed")
    with pytest.raises(errors.RefusedError, match="Cannot reach the Dask scheduler"):
        triage([SAMPLES_DIR / "v30_fixed.db"], scheduler="tcp://127.0.0.1:9")


# ---- every file in its own worker: a worker's crash, hang or memory blow-up is that file's row ----------
# The workers really crash: the fault-injection hooks (TOOLKIT_FAULT_*_ON, see toolkit/triage.py) act
# inside the worker on the file whose path holds the marker; the runner itself is not mocked.
CRASH, HANG, MEMORY = "segv-here", "hang-here", "oom-here"


def children() -> set[int]:
    """Processes whose parent is this one (zombies too: a worker not reaped is a worker left over)."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{os.getpid()}\n" in status.read_text():
                found.add(int(status.parent.name))
        except OSError:
            pass  # it ended while we looked
    return found


@pytest.fixture
def batch(sample, tmp_path, monkeypatch):
    """Good samples (and a bad one) around a file whose worker will crash, hang or run out of memory."""
    monkeypatch.setenv("TOOLKIT_FAULT_CRASH_ON", CRASH)
    monkeypatch.setenv("TOOLKIT_FAULT_HANG_ON", HANG)
    monkeypatch.setenv("TOOLKIT_FAULT_MEMORY_ON", MEMORY)

    def make(marker: str) -> list[Path]:
        faulty = shutil.copyfile(SAMPLES_DIR / "v30_fixed.db", tmp_path / f"{marker}.db")
        return [sample("v26_seed_failure.db"), faulty, sample("bad_text.db"), sample("v30_fixed.db")]
    return make


def assert_the_other_rows_are_real(rows, files):
    assert [r.file for r in rows] == [str(f) for f in files]  # every file, in input order
    assert (rows[0].state, rows[0].failing, rows[0].reason, rows[0].exit_code) == ("strict", "project_id",
                                                                                   "missing-row", 1)
    assert (rows[2].state, rows[2].reason, rows[2].exit_code) == ("not-a-database", "text", 5)
    assert (rows[3].state, rows[3].error, rows[3].exit_code) == ("fixed", "", 0)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="counts worker processes through /proc")
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_killed_by_a_signal_is_its_files_row(batch, jobs):
    files = batch(CRASH)
    before = children()
    rows = triage(files, jobs=jobs)  # with jobs=1 too: a crash in this process would end pytest
    assert_the_other_rows_are_real(rows, files)
    assert (rows[1].state, rows[1].reason, rows[1].exit_code) == ("bad-file", "WorkerCrashed", 2)
    assert rows[1].error == (f"{files[1]}: the tool could not read this file safely "
                             "(its worker stopped with signal SIGSEGV); send it to engineering.")
    assert children() <= before


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="counts worker processes through /proc")
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_past_its_time_limit_is_stopped_and_is_its_files_row(batch, jobs):
    files = batch(HANG)
    before = children()
    started = time.monotonic()
    rows = triage(files, jobs=jobs, time_limit=2)
    assert time.monotonic() - started < 2 + 8
    assert_the_other_rows_are_real(rows, files)
    assert (rows[1].state, rows[1].reason, rows[1].exit_code) == ("bad-file", "WorkerTimedOut", 2)
    assert rows[1].error == (f"{files[1]}: the tool could not read this file safely (its worker was still running "
                             "at the time limit (2 s) and was stopped); send it to engineering.")
    assert 2 <= rows[1].seconds < 2 + 5
    assert children() <= before  # the stopped worker was killed and reaped


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS caps the address space on Linux")
def test_a_worker_past_its_memory_cap_is_its_files_row(batch):
    files = batch(MEMORY)  # asks for WORKER_MEMORY_LIMIT + 64 MiB: only the cap makes that fail here
    rows = triage(files, jobs=2)
    assert_the_other_rows_are_real(rows, files)
    assert (rows[1].state, rows[1].reason, rows[1].exit_code) == ("bad-file", "WorkerOutOfMemory", 2)
    assert rows[1].error == (f"{files[1]}: the tool could not read this file safely (its worker reached its memory "
                             f"limit ({WORKER_MEMORY_LIMIT / 2**30:g} GiB)); send it to engineering.")


def test_the_progress_bar_counts_the_workers_rows(batch, capsys):
    files = batch(CRASH)
    rows = triage(files, jobs=2, progress=True)
    assert_the_other_rows_are_real(rows, files)
    bar = capsys.readouterr().err
    assert "triage:" in bar and f"/{len(files)}" in bar, bar


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_a_crashed_worker_is_a_row_and_exit_2(batch, jobs):
    files = batch(CRASH)
    result = subprocess.run([sys.executable, "-m", "toolkit", "triage", *map(str, files), "--jobs", jobs],
                            capture_output=True, text=True, env=os.environ)
    assert result.returncode == 2, result.stderr
    table = [line for line in result.stdout.splitlines()[2:] if not line.startswith(" ")]  # not a wrapped message
    assert [line.split()[0] for line in table] == [str(f) for f in files]  # the table, every file in order
    assert table[0].split()[:2] == [str(files[0]), "strict"] and "fixed" in table[3].split()
    assert f"{CRASH}.db" in table[1] and "WorkerCrashed" in table[1]
    assert table[2].split()[:3] == [str(files[2]), "not-a-database", "text"]
    assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1  # the crash
    assert result.stderr.count("note:") == 1  # bad_text.db: passed over, not an error
    assert (f"error: {files[1]}: the tool could not read this file safely (its worker stopped with signal SIGSEGV); "
            "send it to engineering.") in result.stderr.splitlines()


def chained_views(path: Path, count: int = 20_000) -> Path:
    """Views each reading the one before: listing them overflowed SQLite's stack (SIGSEGV, issue 13)."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("CREATE VIEW v0 AS SELECT x FROM t")
    conn.execute("PRAGMA writable_schema = ON")  # written straight into the schema: creating them would recurse
    conn.executemany("INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES ('view', ?, ?, 0, ?)",
                     ((f"v{i}", f"v{i}", f"CREATE VIEW v{i} AS SELECT x FROM v{i - 1}") for i in range(1, count)))
    conn.commit()
    conn.close()
    return path


def test_cli_a_file_that_crashes_sqlite_does_not_end_the_batch(sample, tmp_path):
    """The real thing, no hook: whether SQLite crashes on it or the toolkit refuses it first, it is a row."""
    files = [sample("v26_seed_failure.db"), chained_views(tmp_path / "views.db"), sample("v30_fixed.db")]
    result = subprocess.run([sys.executable, "-m", "toolkit", "triage", *map(str, files), "--json", "--jobs", "2"],
                            capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["file"], r["state"], r["exit_code"]) for r in rows] == [
        (str(files[0]), "strict", 1), (str(files[1]), "bad-file", 2), (str(files[2]), "fixed", 0)]
    assert str(files[1]) in rows[1]["error"] and "Traceback" not in result.stderr


def test_the_worker_time_limit_is_the_toolkits_own_plus_a_grace(tmp_path, monkeypatch):
    from toolkit.triage import WORKER_GRACE, worker_time_limit

    small = SAMPLES_DIR / "v30_fixed.db"
    big = tmp_path / "big.db"
    with open(big, "wb") as fh:
        fh.truncate(2 << 30)  # sparse: a large file without the disk
    monkeypatch.setenv("TOOLKIT_TIME_LIMIT", "5")
    assert worker_time_limit(small) == worker_time_limit(big) == 5 + WORKER_GRACE
    monkeypatch.delenv("TOOLKIT_TIME_LIMIT")
    from toolkit import guards

    assert worker_time_limit(small) == guards.default_time_limit(small.stat().st_size) + WORKER_GRACE
    assert worker_time_limit(big) > worker_time_limit(small)
    assert worker_time_limit(big) == guards.default_time_limit(big.stat().st_size) + WORKER_GRACE
