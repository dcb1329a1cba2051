"""A small version of `make bench`, only to prove the harness works (figures are not judged here)."""
import json
import shutil
import sqlite3
import subprocess
import sys

import pytest

from toolkit import appmodel as app
from toolkit.bench import REPLAY, REPLAY_BASELINE, failing_insert, replay_by_hand
from toolkit.largefile import large_database


def test_small_bench_writes_the_tables_and_the_verdict(tmp_path):
    out = tmp_path / "BENCH.md"
    result = subprocess.run([sys.executable, "-m", "toolkit", "bench", "--rows", "1500,3000", "--repeat", "1",
                             "--triage-files", "2", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    text = out.read_text()
    for needle in ("## Commands side by side", "baseline: sqlite3 .backup + fix --sql script",
                   "sqlite-utils transform", "## Targets", "## Batch triage", "## Verdict",
                   "Time per row, 1,500 → 3,000 rows",
                   "what `fix` adds to the baseline", "python start-up and the fix's imports",
                   "python alone (no imports)",
                   "## A failing statement replayed", f"| 3,000 | {REPLAY} |", f"| 3,000 | {REPLAY_BASELINE} |"):
        assert needle in text, needle
    assert "| 3,000 | fix |" in text and "peak RSS" in text
    assert "| sqlite-utils | ? |" not in text  # the version is read from the installed package
    # the replay's ratio at each size, with Python's start-up floor beside it below 100,000 rows
    section = text.split("## A failing statement replayed")[1].split("\n\n")[2].splitlines()
    assert [line.split(" | ")[0] for line in section[2:]] == ["| 1,500", "| 3,000"]
    for line in section[2:]:
        _, _, tool, by_hand, ratio, floor, _ = (c.strip() for c in line.split("|"))
        assert float(tool) > 0 and float(by_hand) > 0 and float(ratio) > 0 and float(floor) > 0
    assert "- 3,000 rows: diagnose --sql / the shell by hand = " in text and "not judged below 100,000" in text


@pytest.fixture
def small_app(tmp_path):
    return large_database(tmp_path / "app.db", 1500)


def test_the_benchmarked_insert_is_the_apps_and_breaks_a_reference(small_app):
    statement = failing_insert(small_app)
    assert statement.startswith(f'INSERT INTO "{app.UPSCALES}"') and "?" not in statement
    result = subprocess.run([sys.executable, "-m", "toolkit", "diagnose", str(small_app), "--sql", statement, "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-2000:]
    sim = json.loads(result.stdout)["statement_simulation"]
    assert sim["fails_at"] == "statement" and sim["violations_total"] == 1
    assert [(v["columns"], v["reason"]) for v in sim["violations"]] == [(["project_id"], "missing-row")]


@pytest.mark.skipif(not shutil.which("sqlite3"), reason="the baseline needs the sqlite3 shell")
def test_the_baseline_checks_the_whole_file_after_the_failed_insert_and_leaves_the_original(small_app, tmp_path):
    # an orphan already in the file: only a foreign_key_check that runs after the failed INSERT lists it
    conn = sqlite3.connect(small_app)
    conn.execute(f"DELETE FROM {app.PROFILES} WHERE rowid = 1")
    conn.commit()
    conn.close()
    before = small_app.read_bytes()
    copy, script = tmp_path / "copy.db", tmp_path / "replay.sql"
    cmd = replay_by_hand(small_app, copy, script, failing_insert(small_app), shutil.which("sqlite3"))
    assert cmd[-1].endswith("> /dev/null 2>&1")
    shown = subprocess.run([*cmd[:-1], cmd[-1].removesuffix(" > /dev/null 2>&1")], capture_output=True, text=True)
    assert "FOREIGN KEY constraint failed" in shown.stderr
    assert f"{app.UPSCALES}|" in shown.stdout  # the check's rows: the pre-existing orphans
    assert small_app.read_bytes() == before and copy.exists()
    with sqlite3.connect(copy) as check:  # rolled back: the copy holds no new upscale
        assert check.execute(f"SELECT count(*) FROM {app.UPSCALES} WHERE status = 'pending'").fetchone() == (0,)
