"""fastpath: which declaration changes SQLite's simpler procedure may make, and the procedure itself."""
import shutil
import sqlite3
import subprocess

import pytest

from toolkit import errors
from toolkit.fastpath import edit_declaration, statements, storage_change
from toolkit.scripts import render

OLD = ("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, p TEXT NOT NULL REFERENCES parent(id) "
       "ON DELETE CASCADE, q INTEGER CHECK (q > 0) COLLATE NOCASE DEFAULT 5, "
       "g INTEGER GENERATED ALWAYS AS (q * 2) VIRTUAL, u TEXT UNIQUE, CHECK (q < 100), "
       "FOREIGN KEY (u) REFERENCES other(code))")

ALLOWED = {
    "a column's REFERENCES removed": OLD.replace(" REFERENCES parent(id) ON DELETE CASCADE", ""),
    "NOT NULL removed": OLD.replace("p TEXT NOT NULL", "p TEXT"),
    "a column CHECK removed": OLD.replace(" CHECK (q > 0)", ""),
    "a table CHECK removed": OLD.replace(", CHECK (q < 100)", ""),
    "a table FOREIGN KEY removed": OLD.replace(", FOREIGN KEY (u) REFERENCES other(code)", ""),
    "a REFERENCES target changed": OLD.replace("REFERENCES parent(id)", "REFERENCES parent_new(id)"),
    "keywords in another case": OLD.replace("CREATE TABLE", "create table").replace("NOT NULL", "not null"),
}
NEEDS_REBUILD = {
    "a declared type changed": OLD.replace("p TEXT NOT NULL", "p INTEGER NOT NULL"),
    "a collation changed": OLD.replace("COLLATE NOCASE", "COLLATE BINARY"),
    "a default changed": OLD.replace("DEFAULT 5", "DEFAULT 6"),
    "a generated expression changed": OLD.replace("(q * 2)", "(q * 3)"),
    "a UNIQUE removed": OLD.replace("u TEXT UNIQUE", "u TEXT"),
    "AUTOINCREMENT removed": OLD.replace(" AUTOINCREMENT", ""),
    "a column added": OLD.replace("u TEXT UNIQUE,", "u TEXT UNIQUE, w,"),
    "columns reordered": OLD.replace("u TEXT UNIQUE, ", "").replace("p TEXT NOT NULL",
                                                                    "u TEXT UNIQUE, p TEXT NOT NULL"),
    "WITHOUT ROWID added": OLD.replace("AUTOINCREMENT", "") + " WITHOUT ROWID",
    "STRICT added": OLD + " STRICT",
    "NOT NULL added": OLD.replace("u TEXT UNIQUE", "u TEXT UNIQUE NOT NULL"),
    "a CHECK added": OLD.replace("CHECK (q < 100)", "CHECK (q < 100), CHECK (q <> 7)"),
    "a FOREIGN KEY added": OLD.replace("u TEXT UNIQUE", "u TEXT UNIQUE REFERENCES more(x)"),
}


@pytest.mark.parametrize("new", ALLOWED.values(), ids=ALLOWED.keys())
def test_changes_that_leave_every_stored_byte_take_the_fast_path(new):
    assert storage_change(OLD, new, "t") is None


@pytest.mark.parametrize("new", NEEDS_REBUILD.values(), ids=NEEDS_REBUILD.keys())
def test_any_other_change_takes_the_rebuild(new):
    reason = storage_change(OLD, new, "t")
    assert isinstance(reason, str) and reason


@pytest.mark.parametrize("new", ["CREATE TABLE t (id INTEGER PRIMARY KEY,", "CREATE TABLE t (id INTEGER) x y",
                                 "CREATE TABLE t (a); DROP TABLE parent"])
def test_a_new_declaration_sqlite_cannot_create_is_refused_before_any_file(new):
    with pytest.raises(errors.RefusedError, match="new declaration"):
        storage_change(OLD, new, "t", "customer.db")


def _file(path, sql):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(f"CREATE TABLE parent (id TEXT PRIMARY KEY); {sql};"
                       "INSERT INTO parent VALUES ('a'); INSERT INTO t (p, q, u) VALUES ('a', 3, 'x'), ('zz', 4, 'y');")
    conn.close()
    return path


def _state(path):
    conn = sqlite3.connect(path)
    try:
        return (conn.execute("SELECT sql FROM sqlite_schema WHERE name = 't'").fetchone(),
                conn.execute("SELECT * FROM t ORDER BY rowid").fetchall(),
                conn.execute("PRAGMA integrity_check").fetchall(),
                conn.execute("SELECT count(*) FROM pragma_foreign_key_list('t')").fetchone())
    finally:
        conn.close()


def test_the_procedure_run_in_python_and_by_the_sqlite3_shell_agree(tmp_path):
    shell = shutil.which("sqlite3")
    if shell is None:
        pytest.skip("the sqlite3 shell (Debian package sqlite3) is not installed")
    new = ALLOWED["a column's REFERENCES removed"]
    ours, theirs = _file(tmp_path / "ours.db", OLD), _file(tmp_path / "theirs.db", OLD)
    rows_before = _state(ours)[1]
    conn = sqlite3.connect(ours, isolation_level=None)
    (version,) = conn.execute("PRAGMA schema_version").fetchone()
    conn.execute("BEGIN")
    edit_declaration(conn, "t", new)
    conn.execute("COMMIT")
    assert conn.execute("PRAGMA schema_version").fetchone() == (version + 1,)
    conn.close()
    script = render([*statements("t", new, version), "COMMIT"])
    run = subprocess.run([shell, "-bail", str(theirs)], input=script, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert _state(ours) == _state(theirs)
    assert _state(ours) == ((new,), rows_before, [("ok",)], (1,))
