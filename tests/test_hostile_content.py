"""Hostile content: every identifier quoted, every value bound, every HTML value escaped,
no customer trigger or view ever runs anything outside the rolled-back copy."""
import json
import sqlite3
import subprocess
import sys

from customer_files import HOSTILE_VALUE, hostile_file
from toolkit.diagnosis import diagnose
from toolkit.migration import apply_030
from toolkit.report import write_report
from toolkit.safe_access import fingerprint
from toolkit.schema import inspect
from toolkit.widgets import DataPager, TriageApp


def test_hostile_file_through_the_api(tmp_path):
    path = hostile_file(tmp_path / "hostile ✓ 'file'.db")
    before = fingerprint(path)
    info = inspect(path)
    assert info.table("Robert'); DROP TABLE profiles;--").row_count == 5
    d = diagnose(path)
    ref = d.insert_simulation.references[2]
    assert ref.value == HOSTILE_VALUE and ref.reason == "missing-row"
    assert d.insert_simulation.failing == ["project_id"]
    out = tmp_path / "fixed.db"
    result = apply_030(path, out)
    assert result.proof.ok and result.proof.data_identical and result.proof.triggers_preserved
    conn = sqlite3.connect(out)
    assert conn.execute('SELECT length("big text"), length("big blob") FROM veo3_video_upscales WHERE rowid = 2'
                        ).fetchone() == (5_000_000, 3_000_000)
    assert conn.execute("SELECT count(*) FROM upscale_log").fetchone() == (0,)  # nothing ran for real
    conn.close()
    assert fingerprint(path) == before


def test_hostile_file_through_the_cli(tmp_path):
    path = hostile_file(tmp_path / "hostile.db")
    before = fingerprint(path)
    for args in (["inspect", path, "--json"], ["diagnose", path, "--json"],
                 ["fix", path, "--out", tmp_path / "f.db", "--json"], ["triage", path, "--json"]):
        result = subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True)
        assert result.returncode in (0, 1), result.stderr
        json.loads(result.stdout)
    assert fingerprint(path) == before


def test_reports_and_widgets_escape_every_value(tmp_path):
    path = hostile_file(tmp_path / "hostile.db")
    html = write_report(path, tmp_path / "r.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>col</b>" not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    app = TriageApp(path, picker=False)
    shown = app.answer.value + app.findings.value + app.schema.value + app.data.rows.value
    assert "<script>alert" not in shown and "<img src=x" not in shown and "&lt;script&gt;" in shown
    pager = DataPager(path)
    assert "<b>col</b>" not in pager.rows.value and "&lt;b&gt;col&lt;/b&gt;" in pager.rows.value


def test_customer_functions_cannot_run(tmp_path):
    """An update would fire the trigger that loads an extension: the toolkit's connections
    refuse the function outright (the authorizer lets views and triggers call only SQLite's
    built-ins), and a view calling it cannot be read either."""
    import pytest

    from toolkit.safe_access import open_copy

    path = hostile_file(tmp_path / "hostile.db")
    with open_copy(path) as work:
        c = work.connect()
        with pytest.raises(sqlite3.OperationalError, match="unsafe use|not authorized"):
            c.execute("UPDATE veo3_video_upscales SET status = status WHERE rowid = 1")
        with pytest.raises(sqlite3.OperationalError, match="unsafe use|not authorized"):
            c.execute("SELECT * FROM calls_functions").fetchall()
        assert "function load_extension()" in c.authorizer.denied
        assert c.execute("PRAGMA recursive_triggers").fetchone() == (0,)
        c.close()
