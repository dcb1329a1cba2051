"""The classifier on real SQLite errors, each provoked on a real connection."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit import errors, guards
from toolkit.safe_access import translate
from toolkit.sqlite_codes import Kind, full_by_the_file, is_interrupt, kind_of, kind_of_name


def _raised(conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute(sql, params).fetchall()
    return caught.value


@pytest.fixture
def conn(tmp_path: Path):
    c = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    c.execute("PRAGMA foreign_keys = ON")
    c.executescript("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(id INTEGER PRIMARY KEY, "
                    "p INTEGER REFERENCES p(id), n TEXT NOT NULL DEFAULT 'x');")
    yield c
    c.close()


def test_interrupt_by_the_progress_handler(conn):
    conn.set_progress_handler(lambda: 1, 1)
    exc = _raised(conn, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n")
    assert kind_of(exc) is Kind.INTERRUPT and is_interrupt(exc)


def test_the_deadline_checked_before_a_statement_is_an_interrupt_too():
    deadline = guards.Deadline(-1)
    with pytest.raises(sqlite3.OperationalError) as caught:
        deadline.check()
    assert kind_of(caught.value) is Kind.INTERRUPT


def test_busy_when_another_connection_holds_the_lock(tmp_path):
    path = tmp_path / "b.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t(x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        exc = _raised(other, "SELECT * FROM t")
        assert kind_of(exc) is Kind.BUSY
        assert isinstance(translate(exc, path), errors.LockedDatabaseError)
    finally:
        other.close()
        holder.execute("ROLLBACK")
        holder.close()


def test_full_at_max_page_count_is_the_files_own_limit(conn):
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    exc = _raised(conn, "INSERT INTO c(n) SELECT zeroblob(100000)")
    assert kind_of(exc) is Kind.FULL and full_by_the_file(conn)


def test_full_at_the_largest_autoincrement_rowid_is_the_files_own_limit(tmp_path):
    c = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    c.execute("CREATE TABLE log(n INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT)")
    c.execute("INSERT INTO log VALUES (9223372036854775807, 'last')")
    exc = _raised(c, "INSERT INTO log(what) VALUES ('one more')")
    assert kind_of(exc) is Kind.FULL and full_by_the_file(c)
    c.close()


def test_a_file_with_room_left_is_not_full_by_itself(conn):
    assert not full_by_the_file(conn)  # a FULL here would be the disk's: exit 75, not the file's answer


def test_notadb_on_a_junk_file(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all " * 200)
    c = sqlite3.connect(junk)
    exc = _raised(c, "SELECT * FROM sqlite_schema")
    c.close()
    assert kind_of(exc) is Kind.NOTADB
    assert isinstance(translate(exc, junk), errors.NotADatabaseError)


def test_corrupt_on_a_damaged_file(tmp_path):
    path = tmp_path / "d.db"
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("CREATE TABLE t(x)")
    c.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
              "INSERT INTO t SELECT printf('row %0200d', i) FROM n")
    c.close()
    data = bytearray(path.read_bytes())
    data[4096 + 8: 4096 + 4096] = b"\xff" * (4096 - 8)  # the second page (the table's root) overwritten
    path.write_bytes(bytes(data))
    c = sqlite3.connect(path)
    exc = _raised(c, "SELECT count(*), max(x) FROM t")
    c.close()
    assert kind_of(exc) is Kind.CORRUPT
    assert isinstance(translate(exc, path), errors.CorruptDatabaseError)


def test_foreign_key_and_other_constraints(conn):
    fk = _raised(conn, "INSERT INTO c(p) VALUES (42)")
    not_null = _raised(conn, "INSERT INTO c(n) VALUES (NULL)")
    assert kind_of(fk) is Kind.CONSTRAINT_FOREIGNKEY and kind_of_name(fk.sqlite_errorname) is Kind.CONSTRAINT_FOREIGNKEY
    assert kind_of(not_null) is Kind.CONSTRAINT and kind_of_name(not_null.sqlite_errorname) is Kind.CONSTRAINT


def test_a_trigger_raising_foreign_key_words_is_not_a_foreign_key_failure(conn):
    conn.execute("CREATE TRIGGER t BEFORE INSERT ON p BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END")
    exc = _raised(conn, "INSERT INTO p VALUES (1)")
    assert str(exc) == "FOREIGN KEY constraint failed" and kind_of(exc) is Kind.CONSTRAINT


def test_toobig_via_setlimit(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1000)
    exc = _raised(conn, "SELECT zeroblob(5000)")
    assert kind_of(exc) is Kind.TOOBIG
    assert isinstance(translate(exc, "f.db"), errors.LimitExceededError)


def test_a_limit_that_is_sqlite_error_is_told_by_its_detail(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, 2)
    exc = _raised(conn, "SELECT 1, 2, 3")
    assert kind_of(exc) is Kind.ERROR
    translated = translate(exc, "f.db")
    assert isinstance(translated, errors.LimitExceededError) and "more columns" in translated.message


def test_auth_for_a_denied_statement_and_error_for_a_denied_function(conn):
    conn.set_authorizer(lambda action, *rest: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_FUNCTION
                        else sqlite3.SQLITE_OK)
    function = _raised(conn, "SELECT abs(-1)")
    conn.set_authorizer(lambda *rest: sqlite3.SQLITE_DENY)
    statement = _raised(conn, "SELECT 1")
    conn.set_authorizer(None)
    assert kind_of(statement) is Kind.AUTH and kind_of(function) is Kind.ERROR
    assert all(isinstance(translate(e, "f.db"), errors.UnsafeContentError) for e in (statement, function))


_NOMEM = """
import sqlite3
from toolkit import errors
from toolkit.safe_access import translate
from toolkit.sqlite_codes import kind_of
conn = sqlite3.connect(":memory:")
conn.execute("PRAGMA hard_heap_limit = 4000000")
try:
    conn.execute("SELECT length(randomblob(20000000))").fetchall()
except MemoryError as exc:  # the sqlite3 module raises SQLITE_NOMEM as MemoryError
    print(kind_of(exc), isinstance(translate(exc, "f.db"), errors.LimitExceededError))
"""


def test_nomem_from_the_heap_limit():
    # in a fresh process: the heap limit is process-wide, and a test process already holds more
    result = subprocess.run([sys.executable, "-c", _NOMEM], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["nomem", "True"], result.stderr


def test_python_errors_without_a_code():
    assert kind_of(MemoryError()) is Kind.NOMEM
    assert kind_of(ValueError("not sqlite")) is Kind.OTHER
    assert kind_of(sqlite3.ProgrammingError("no code")) is Kind.OTHER


def test_extended_names_map_to_their_primary_kind():
    assert kind_of_name("SQLITE_IOERR_WRITE") is Kind.IOERR
    assert kind_of_name("SQLITE_BUSY_SNAPSHOT") is Kind.BUSY
    assert kind_of_name("SQLITE_LOCKED_SHAREDCACHE") is Kind.BUSY
    assert kind_of_name("SQLITE_FULL") is Kind.FULL
    assert kind_of_name(None) is Kind.OTHER and kind_of_name("NOT_A_CODE") is Kind.OTHER


def test_a_full_copy_is_the_machines_failure_naming_the_folder(conn, tmp_path):
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    exc = _raised(conn, "INSERT INTO c(n) SELECT zeroblob(100000)")
    work = tmp_path / "fk-toolkit-copy-1-abc"
    failure = translate(exc, tmp_path / "customer.db", work)
    assert isinstance(failure, errors.EnvironmentFailureError) and failure.exit_code == 75
    assert failure.message.startswith(f"The disk holding {tmp_path} is full")  # the work folder's home, not it
