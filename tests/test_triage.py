"""Batch triage: one row per file, bad files as rows, the same answers on 1 core, N cores or Dask."""
import csv
import json
import subprocess
import sys

import pytest

from conftest import SCENARIOS
from toolkit import errors
from toolkit.samples import SAMPLES_DIR
from toolkit.triage import triage, write_csv


def comparable(rows):
    return [(r.file, r.state, r.needs_030, r.failing, r.reason, r.top_finding, r.error) for r in rows]


def test_every_sample_is_a_row_and_bad_files_are_rows_not_crashes():
    rows = triage([SAMPLES_DIR])
    by_name = {r.file.rsplit("/", 1)[-1]: r for r in rows}
    for s in SCENARIOS:
        row = by_name[s.filename]
        if s.error:
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
    mixed = cli(SAMPLES_DIR / "v26_seed_failure.db", SAMPLES_DIR / "bad_text.db")
    assert mixed.returncode == 2 and len(json.loads(mixed.stdout)) == 2
    assert mixed.stderr.count("error:") == 1 and "Traceback" not in mixed.stderr


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
