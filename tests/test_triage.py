"""Batch triage: one row per file, bad files as rows, the same answers on 1 core, N cores or Dask."""
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import SCENARIOS, make_db
from toolkit import errors
from toolkit.samples import SAMPLES_DIR
from toolkit.safe_access import fingerprint
from toolkit.triage import WORKER_MEMORY_LIMIT, TriageRow, triage, write_csv


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


# ---- any file: the full path, the top finding and its sentence, and files that are no database ----------
MUSIC_STORE = """
CREATE TABLE "artist" (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE "album" (id INTEGER PRIMARY KEY, "artist id" INTEGER NOT NULL REFERENCES "artist"(id), title TEXT);
CREATE INDEX album_artist ON "album"("artist id");
INSERT INTO "artist" VALUES (1, 'AC/DC'), (2, 'Accept');
INSERT INTO "album" VALUES (1, 1, 'For Those About To Rock'), (2, 2, 'Balls to the Wall');
"""
#: The same store after a rename left invoice_line referencing a table that no longer exists.
DANGLING = MUSIC_STORE + """
CREATE TABLE "track" (id INTEGER PRIMARY KEY, "album id" INTEGER REFERENCES "album"(id), name TEXT);
CREATE INDEX track_album ON "track"("album id");
CREATE TABLE invoice_line (id INTEGER PRIMARY KEY, track_id INTEGER REFERENCES "tracks"(id), price REAL);
CREATE INDEX invoice_line_track ON invoice_line(track_id);
INSERT INTO "track" VALUES (1, 1, 'Put The Finger On You');
"""


def other_app(path: Path, schema: str) -> Path:
    make_db(path, schema)
    return path


@pytest.fixture
def inbox(tmp_path):
    """A customer's folder as it arrives: databases of another app, one healthy, one with a dangling
    reference, the video app's fixed file, and what else people send: an image, an archive, an empty
    file and a note."""
    from badinputs import CORPUS

    folder = tmp_path / "inbox from customer 4711"
    folder.mkdir()
    other_app(folder / "store.db", MUSIC_STORE)
    other_app(folder / "store-renamed.db", DANGLING)
    shutil.copyfile(SAMPLES_DIR / "v30_fixed.db", folder / "video.db")
    CORPUS["png image"][0](folder / "screenshot.png")
    with zipfile.ZipFile(folder / "logs.zip", "w") as archive:
        archive.writestr("app.log", "FOREIGN KEY constraint failed\n")
    (folder / "empty.db").write_bytes(b"")
    (folder / "README.txt").write_text("The app says FOREIGN KEY constraint failed when I save.\n")
    return folder


#: file name -> (state, reason, exit code) of the rows for files that are no database
PASSED_OVER = {"README.txt": ("not-a-database", "text", 5), "empty.db": ("not-a-database", "empty", 5),
               "logs.zip": ("not-a-database", "zip", 5), "screenshot.png": ("not-a-database", "png", 5)}


def test_any_files_row_has_its_full_path_and_top_finding_and_non_databases_are_rows(inbox):
    from toolkit.diagnosis import diagnose

    before = {p: fingerprint(p) for p in inbox.iterdir()}
    rows = {Path(r.file).name: r for r in triage([inbox], jobs=2)}
    assert sorted(rows) == sorted(p.name for p in inbox.iterdir())
    for name, row in rows.items():
        assert row.file == str((inbox / name).resolve())
    for name, (state, reason, code) in PASSED_OVER.items():
        row = rows[name]
        assert (row.state, row.reason, row.exit_code, row.top_finding, row.top_message) == (state, reason, code, "", "")
        assert row.error.startswith(f"{row.file} is ") and row.answer == ""
    assert "(it looks like a PNG image)" in rows["screenshot.png"].error
    assert "(it looks like a ZIP archive)" in rows["logs.zip"].error
    assert "(it looks like a text file)" in rows["README.txt"].error
    assert "is empty (0 bytes)" in rows["empty.db"].error

    dangling = rows["store-renamed.db"]
    assert dangling.top_finding == "dangling-reference" and dangling.exit_code == 1 and dangling.error == ""
    found = [f.message for f in diagnose(inbox / "store-renamed.db").findings if f.code == "dangling-reference"]
    assert dangling.top_message == found[0] and "invoice_line(track_id) REFERENCES tracks" in found[0]

    # another app's healthy file: nothing to rank, and healthy is exit 0 (not "not the video app's")
    healthy = rows["store.db"]
    assert (healthy.top_finding, healthy.top_message, healthy.error, healthy.exit_code) == ("", "", "", 0)
    assert healthy.answer == diagnose(inbox / "store.db").answer and "store.db is healthy" in healthy.answer
    assert (rows["video.db"].state, rows["video.db"].top_finding, rows["video.db"].exit_code) == ("fixed", "", 0)
    assert {p: fingerprint(p) for p in inbox.iterdir()} == before  # nothing was written, not even a -shm


def run_triage(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "toolkit", "triage", *map(str, args), "--jobs", "2"],
                          capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)})


ROOT = Path(__file__).resolve().parent.parent


def test_cli_json_and_csv_name_every_file_by_full_path_and_non_databases_do_not_fail_the_run(inbox, tmp_path):
    healthy = [inbox / "video.db", *(inbox / name for name in PASSED_OVER)]
    result = run_triage(*(p.relative_to(tmp_path) for p in healthy), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # no database with a problem: nothing else counts
    assert [(r["file"], r["state"], r["exit_code"]) for r in json.loads(result.stdout)] == [
        (str(healthy[0]), "fixed", 0), *((str(p), *PASSED_OVER[p.name][::2]) for p in healthy[1:])]
    notes = result.stderr.splitlines()
    assert len(notes) == len(PASSED_OVER) and all(line.startswith(f"note: {inbox}/") for line in notes)

    out = tmp_path / "triage.csv"
    result = run_triage(inbox, "--csv", out, "--json")
    assert result.returncode == 1, result.stderr  # store-renamed.db has a problem; the others do not fail it
    assert "error:" not in result.stderr and "Traceback" not in result.stderr
    rows = {Path(r["file"]).name: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert list(next(csv.reader(out.open(encoding="utf-8")))) == TriageRow.columns()
    assert rows["store-renamed.db"]["file"] == str(inbox / "store-renamed.db")
    assert rows["store-renamed.db"]["top_finding"] == "dangling-reference"
    assert rows["store-renamed.db"]["top_message"] == json.loads(result.stdout)[
        [Path(r["file"]).name for r in json.loads(result.stdout)].index("store-renamed.db")]["top_message"]
    assert (rows["screenshot.png"]["state"], rows["screenshot.png"]["exit_code"]) == ("not-a-database", "5")


def test_cli_table_shows_the_whole_path_and_wraps_only_the_sentence(inbox, tmp_path):
    deep = tmp_path / ("a folder whose name alone is longer than a terminal line is wide" * 2) / "customer"
    deep.mkdir(parents=True)
    shutil.copyfile(inbox / "store-renamed.db", deep / "store-renamed.db")
    (deep / "photo.png").write_bytes((inbox / "screenshot.png").read_bytes())
    result = run_triage(deep)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header[:2] == ["file", "state"] and header[-4:] == ["top", "finding", "top", "message"]
    rows = [line for line in lines[2:] if not line.startswith(" ")]
    assert [line.split("  ")[0] for line in rows] == [str(deep / "photo.png"), str(deep / "store-renamed.db")]
    assert "not-a-database" in rows[0] and "dangling-reference" in rows[1]
    sentence = " ".join(line.strip().split("  ")[-1].strip() for line in lines[lines.index(rows[1]):])
    assert "invoice_line(track_id) REFERENCES tracks, which does not exist" in sentence
    assert all(len(line.split("dangling-reference")[-1].strip()) <= 60 for line in lines[lines.index(rows[1]):])


def test_a_sidecar_beside_its_database_is_not_a_file_of_its_own_but_a_lone_one_is(tmp_path):
    shutil.copyfile(SAMPLES_DIR / "wal_pending.db", tmp_path / "app.db")
    shutil.copyfile(SAMPLES_DIR / "wal_pending.db-wal", tmp_path / "app.db-wal")
    shutil.copyfile(SAMPLES_DIR / "wal_pending.db-wal", tmp_path / "gone.db-wal")  # its database was not sent
    rows = triage([tmp_path])
    assert [(Path(r.file).name, r.state, r.reason) for r in rows] == [
        ("app.db", "strict", "missing-row"), ("gone.db-wal", "not-a-database", "wal-sidecar")]
    assert "write-ahead log (-wal), not the database itself" in rows[1].error


def test_a_row_names_a_linked_file_by_the_path_it_resolves_to(inbox, tmp_path):
    link = tmp_path / "link.db"
    link.symlink_to(inbox / "video.db")
    (row,) = triage([link])
    assert row.file == str((inbox / "video.db").resolve()) and row.state == "fixed"


def finding(code, severity):
    from toolkit.diagnosis import Finding

    return Finding(code, severity, f"{code} sentence")


def test_the_top_finding_is_the_most_severe_then_the_most_telling():
    from toolkit.triage import top_finding

    assert top_finding([]) is None
    found = [finding("no-upscales-table", "error"), finding("unindexed-child-key", "info"),
             finding("orphan-rows", "warning"), finding("leftover-migration-table", "warning"),
             finding("dangling-reference", "warning")]
    assert top_finding(found).code == "dangling-reference"  # "which app" ranks after what is wrong
    assert top_finding([*found, finding("integrity-error", "error")]).code == "integrity-error"
    assert top_finding([finding("no-upscales-table", "error"), finding("wal-not-checkpointed", "info")]).code == (
        "wal-not-checkpointed")
    assert top_finding([finding("no-upscales-table", "error")]).message == "no-upscales-table sentence"
    first, second = finding("orphan-rows", "warning"), finding("orphan-rows", "warning")
    assert top_finding([first, second]) is first  # among equals, the first reported


def test_the_ranking_names_only_real_finding_codes():
    from toolkit.diagnosis import FindingCode
    from toolkit.triage import FINDING_ORDER, PROFILE_FINDINGS

    listed = [*FINDING_ORDER, *PROFILE_FINDINGS]
    assert len(set(listed)) == len(listed) and set(listed) <= set(FindingCode)


def test_every_finding_code_has_a_rank():
    from toolkit.findings import FindingCode
    from toolkit.triage import FINDING_ORDER, PROFILE_FINDINGS

    assert sorted(FINDING_ORDER + PROFILE_FINDINGS) == sorted(FindingCode)
    assert len(set(FINDING_ORDER)) == len(FINDING_ORDER)
