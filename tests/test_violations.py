"""violations: the rows SQLite's foreign_key_check lists, and the SQL stand-in used where it cannot run."""
import itertools
import sqlite3

import pytest

from toolkit.schema import read_schema
from toolkit.violations import emulated_violations, foreign_key_violations

PARENT_TYPES = ["", "TEXT", "INTEGER", "NUMERIC", "REAL", "BLOB"]
COLLATIONS = ["BINARY", "NOCASE", "RTRIM"]
CHILD_TYPES = ["", "TEXT", "INTEGER"]
VALUES = [17, 17.0, 17.5, "17", "017", "abc", "ABC", "abc ", b"17", None]


def _file(tmp_path, parent_type: str, collation: str, child_type: str) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path / "grid.db", isolation_level=None)
    conn.execute(f"CREATE TABLE p (k {parent_type} COLLATE {collation} UNIQUE)")
    conn.execute(f"CREATE TABLE c (id INTEGER PRIMARY KEY, k {child_type} REFERENCES p(k))")
    conn.executemany("INSERT INTO c (id, k) VALUES (?, ?)", list(enumerate(VALUES, 1)))
    return conn


@pytest.mark.parametrize("parent_type, collation, child_type",
                         list(itertools.product(PARENT_TYPES, COLLATIONS, CHILD_TYPES)))
def test_the_sql_stand_in_finds_exactly_the_rows_foreign_key_check_lists(tmp_path, parent_type, collation,
                                                                          child_type):
    conn = _file(tmp_path, parent_type, collation, child_type)
    table = read_schema(conn, database="grid.db").table("c")
    # each parent value alone, so every child value meets every parent value once
    for value in VALUES[:-1]:
        conn.execute("DELETE FROM p")
        conn.execute("INSERT INTO p VALUES (?)", (value,))
        truth = sorted(r for _, r, _, _ in conn.execute("PRAGMA foreign_key_check(c)"))
        assert 0 < len(truth) < len(VALUES)
        assert sorted(emulated_violations(conn, table, table.foreign_keys[0])) == truth, value


def test_a_null_key_is_never_a_violation(tmp_path):
    conn = _file(tmp_path, "INTEGER", "BINARY", "INTEGER")
    table = read_schema(conn, database="grid.db").table("c")
    found = list(emulated_violations(conn, table, table.foreign_keys[0]))
    assert VALUES.index(None) + 1 not in found and len(found) == len(VALUES) - 1


def test_foreign_key_violations_counts_per_key_and_keeps_examples(tmp_path):
    conn = _file(tmp_path, "INTEGER", "BINARY", "INTEGER")
    conn.execute("INSERT INTO p VALUES (17)")
    violations, _, _ = foreign_key_violations(conn, read_schema(conn, database="grid.db"))
    truth = conn.execute("SELECT count(*) FROM pragma_foreign_key_check('c')").fetchone()[0]
    assert [(v.table, v.count) for v in violations] == [("c", truth)] and truth > 0
