"""Schema findings without a statement, each checked against what SQLite does on real files."""
import dataclasses
import sqlite3

import pytest

from conftest import make_db

from toolkit.diagnosis import EXAMPLES, FindingCode, Severity
from toolkit.findings import (
    declaration_findings,
    non_deferrable_cycles,
    orphan_rows,
    schema_findings,
    unindexed_child_keys,
)
from toolkit.safe_access import fingerprint, safe_connection
from toolkit.schema import read_schema


def make(tmp_path, script, name="f.db"):
    path = tmp_path / name
    make_db(path, script)
    return path


def findings(path, function):
    """`function` run as the toolkit runs it: on the safe copy, the original proven unchanged."""
    before = fingerprint(path)
    with safe_connection(path) as (_, conn):
        info = read_schema(conn, database=str(path))
        result = function(info) if function is non_deferrable_cycles else function(conn, info)
    assert fingerprint(path) == before
    return result


def sqlite_inserts(path, statements, *, defer):
    """Whether SQLite accepts `statements`, one at a time in one transaction, with foreign keys on."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    try:
        if defer:
            conn.execute("PRAGMA defer_foreign_keys = ON")
        for statement in statements:
            conn.execute(statement)
        conn.execute("COMMIT")
        return True
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK")
        return False
    finally:
        conn.close()


# ---- cycles ----------------------------------------------------------------------------------
TWO = """
CREATE TABLE author (id INTEGER PRIMARY KEY, best_book INTEGER REFERENCES book(id) {a});
CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES author(id) {b});
"""
TWO_ROWS = ["INSERT INTO author VALUES (1, 10)", "INSERT INTO book VALUES (10, 1)"]
THREE = """
CREATE TABLE "a x" (id TEXT PRIMARY KEY, c TEXT NOT NULL, FOREIGN KEY (c) REFERENCES "c""z"(id) {a});
CREATE TABLE b (id TEXT PRIMARY KEY, a TEXT NOT NULL REFERENCES "a x" {b}) WITHOUT ROWID;
CREATE TABLE "c""z" (id TEXT PRIMARY KEY, b TEXT NOT NULL REFERENCES b(id) ON DELETE CASCADE {c});
CREATE TABLE outsider (id INTEGER PRIMARY KEY, a TEXT REFERENCES "a x"(id));
"""
THREE_ROWS = ["""INSERT INTO "a x" VALUES ('a', 'c')""", "INSERT INTO b VALUES ('b', 'a')",
              """INSERT INTO "c""z" VALUES ('c', 'b')"""]
DEFERRED = "DEFERRABLE INITIALLY DEFERRED"


@pytest.mark.parametrize(("script", "rows", "tables"), [
    (TWO.format(a="", b=""), TWO_ROWS, ("author", "book")),
    (TWO.format(a="DEFERRABLE", b="NOT DEFERRABLE INITIALLY DEFERRED"), TWO_ROWS, ("author", "book")),
    (THREE.format(a="", b="", c=""), THREE_ROWS, ("a x", "b", 'c"z')),
])
def test_a_cycle_of_immediate_keys_is_found_and_needs_defer_foreign_keys(tmp_path, script, rows, tables):
    path = make(tmp_path, script)
    [finding] = findings(path, non_deferrable_cycles)
    assert finding.code is FindingCode.NON_DEFERRABLE_CYCLE and finding.examples == tables
    assert "PRAGMA defer_foreign_keys = ON" in finding.message and "outsider" not in finding.message
    assert all(t in finding.message for t in tables)
    # what the finding says is what SQLite does: in any order, the first INSERT fails ...
    assert not sqlite_inserts(path, rows, defer=False)
    assert not sqlite_inserts(path, rows[::-1], defer=False)
    # ... and deferring the check to COMMIT lets the rows in
    assert sqlite_inserts(path, rows, defer=True)


@pytest.mark.parametrize(("script", "rows"), [
    (TWO.format(a=DEFERRED, b=""), TWO_ROWS),
    (TWO.format(a="", b=DEFERRED), TWO_ROWS[::-1]),
    (THREE.format(a="", b=DEFERRED, c=""), [THREE_ROWS[1], THREE_ROWS[2], THREE_ROWS[0]]),
])
def test_one_deferred_key_breaks_the_cycle(tmp_path, script, rows):
    path = make(tmp_path, script)
    assert findings(path, non_deferrable_cycles) == ()
    # the table holding the deferred key goes first, and no pragma is needed
    assert sqlite_inserts(path, rows, defer=False)


def test_a_self_reference_is_not_a_cycle_needing_deferral(tmp_path):
    path = make(tmp_path, """
        CREATE TABLE employee (id INTEGER PRIMARY KEY, manager_id INTEGER NOT NULL REFERENCES employee(id));
        CREATE TABLE node (id TEXT PRIMARY KEY, next TEXT REFERENCES node) WITHOUT ROWID;
        CREATE TABLE chain_a (id INTEGER PRIMARY KEY, b INTEGER REFERENCES chain_b(id));
        CREATE TABLE chain_b (id INTEGER PRIMARY KEY, c INTEGER REFERENCES chain_c(id));
        CREATE TABLE chain_c (id INTEGER PRIMARY KEY);
    """)
    assert findings(path, non_deferrable_cycles) == ()
    # SQLite checks an immediate key at the end of the statement: a row may reference itself,
    # and rows referencing each other go in together in one statement ...
    assert sqlite_inserts(path, ["INSERT INTO employee VALUES (1, 1)"], defer=False)
    assert sqlite_inserts(path, ["INSERT INTO node VALUES ('x', 'y'), ('y', 'x')"], defer=False)
    # ... only split over two statements do they need the pragma
    assert not sqlite_inserts(path, ["INSERT INTO employee VALUES (2, 3)", "INSERT INTO employee VALUES (3, 2)"],
                              defer=False)


def test_a_long_ring_is_one_cycle_and_its_message_stays_short(tmp_path):
    n = 1200  # deeper than Python's recursion limit (1000)
    script = "".join(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, up INTEGER REFERENCES t{(i + 1) % n}(id));"
                     for i in range(n))
    tail = "CREATE TABLE tail (id INTEGER PRIMARY KEY, t INTEGER REFERENCES t0(id));"
    path = make(tmp_path, f"BEGIN; {script} {tail} COMMIT;")
    conn = sqlite3.connect(path)  # our own file: the safe copy's checks of 1,200 tables are not the point here
    [finding] = non_deferrable_cycles(read_schema(conn, database=str(path)))
    conn.close()
    assert finding.count == n and len(finding.examples) == n and "tail" not in finding.examples
    assert f"and {n - 10} more" in finding.message and len(finding.message) < 2000


def test_a_key_whose_deferral_is_unknown_makes_no_cycle_claim(tmp_path):
    from toolkit.ddl import Deferral
    from toolkit.findings import non_deferrable_cycles as cycles

    path = make(tmp_path, TWO.format(a="", b=""))
    with safe_connection(path) as (_, conn):
        info = read_schema(conn, database=str(path))
    book = info.table("book")
    unknown = dataclasses.replace(book, foreign_keys=[dataclasses.replace(book.foreign_keys[0],
                                                                          deferrable=Deferral.UNKNOWN)])
    info = dataclasses.replace(info, tables=[info.table("author"), unknown])
    assert len(cycles(dataclasses.replace(info, tables=[info.table("author"), book]))) == 1
    assert cycles(info) == ()


def test_broken_keys_make_no_cycle(tmp_path):
    path = make(tmp_path, """
        CREATE TABLE a (id INTEGER PRIMARY KEY, b INTEGER REFERENCES b(x));
        CREATE TABLE b (id INTEGER PRIMARY KEY, x INTEGER, a INTEGER REFERENCES a(id));
    """)  # b.x is not unique: every statement on a fails with "foreign key mismatch", cycle or not
    assert findings(path, non_deferrable_cycles) == ()


# ---- unindexed child keys --------------------------------------------------------------------
PARENT = "CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE UNIQUE, a, b, UNIQUE (a, b));"


@pytest.mark.parametrize(("child", "unindexed"), [
    ("CREATE TABLE ch (x INTEGER REFERENCES p(id))", True),
    ("CREATE TABLE ch (x INTEGER REFERENCES p(id)); CREATE INDEX ix ON ch(x)", False),
    ("CREATE TABLE ch (y, x INTEGER REFERENCES p(id)); CREATE INDEX ix ON ch(y, x)", True),  # not leftmost
    ("CREATE TABLE ch (x INTEGER PRIMARY KEY REFERENCES p(id))", False),  # the rowid itself
    ("CREATE TABLE ch (x INTEGER REFERENCES p(id), y, PRIMARY KEY (x, y)) WITHOUT ROWID", False),
    ("CREATE TABLE ch (y, x INTEGER REFERENCES p(id), PRIMARY KEY (y, x)) WITHOUT ROWID", True),
    # composite: any index whose leftmost columns are the key's, in any order
    ("CREATE TABLE ch (c1, c2, z, FOREIGN KEY (c1, c2) REFERENCES p(a, b))", True),
    ("CREATE TABLE ch (c1, c2, z, FOREIGN KEY (c1, c2) REFERENCES p(a, b)); CREATE INDEX ix ON ch(c2, c1, z)",
     False),
    # an index on part of the key still spares the scan (SQLite searches it, then filters)
    ("CREATE TABLE ch (c1, c2, z, FOREIGN KEY (c1, c2) REFERENCES p(a, b)); CREATE INDEX ix ON ch(c1, z)", False),
    ("CREATE TABLE ch (c1, c2, z, FOREIGN KEY (c1, c2) REFERENCES p(a, b)); CREATE INDEX ix ON ch(z, c1)", True),
    # the lookup uses the parent's collation: a BINARY index on the child cannot serve a NOCASE key
    ("CREATE TABLE ch (x TEXT REFERENCES p(code)); CREATE INDEX ix ON ch(x)", True),
    ("CREATE TABLE ch (x TEXT REFERENCES p(code)); CREATE INDEX ix ON ch(x COLLATE NOCASE)", False),
    # ...and its affinity: an INTEGER parent value cannot search a TEXT index
    ("CREATE TABLE ch (x TEXT REFERENCES p(id)); CREATE INDEX ix ON ch(x)", True),
    ("CREATE TABLE ch (x INTEGER REFERENCES p(id)); CREATE INDEX ix ON ch(x) WHERE x IS NOT NULL", False),
])
def test_unindexed_child_keys_are_the_ones_sqlite_scans(tmp_path, child, unindexed):
    path = make(tmp_path, PARENT + child + ";")
    found = findings(path, unindexed_child_keys)
    assert bool(found) == unindexed
    if found:
        [f] = found
        assert f.code is FindingCode.UNINDEXED_CHILD_KEY and f.table == "ch"
    # SQLite's own plan for a parent DELETE, foreign keys on, lists its lookup in the child
    assert sqlite_scans_child(path) == unindexed
    if found and "CREATE INDEX" in found[0].message:  # the suggested index is valid SQL, and ends the scan
        conn = sqlite3.connect(path)
        conn.execute(found[0].message.split("; ")[-1].removesuffix(" would let SQLite look them up."))
        conn.close()
        assert not sqlite_scans_child(path) and findings(path, unindexed_child_keys) == ()


def sqlite_scans_child(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN DELETE FROM p WHERE id = 1")]
    conn.close()
    return any(d.startswith("SCAN ch") for d in plan)


TYPES = ["", "INTEGER", "TEXT", "REAL", "NUMERIC", "BLOB", "VARCHAR(10)", "DECIMAL"]


@pytest.mark.parametrize("parent_type", TYPES)
@pytest.mark.parametrize("child_type", TYPES)
def test_an_index_serves_the_key_only_where_the_affinities_allow(tmp_path, parent_type, child_type):
    """The grid of declared types: the finding agrees with SQLite's plan, and where no index can
    serve the key the message says so instead of suggesting one."""
    path = make(tmp_path, f"""
        CREATE TABLE p (id INTEGER PRIMARY KEY, k {parent_type} UNIQUE);
        CREATE TABLE ch (x {child_type} REFERENCES p(k)); CREATE INDEX ix ON ch(x);
    """)
    found = findings(path, unindexed_child_keys)
    assert bool(found) == sqlite_scans_child(path)
    assert all("no index can help" in f.message for f in found)


def test_keys_of_a_missing_parent_are_not_reported_unindexed(tmp_path):
    path = make(tmp_path, "CREATE TABLE ch (x REFERENCES gone(id));")
    assert findings(path, unindexed_child_keys) == ()


# ---- orphan rows -----------------------------------------------------------------------------
def test_orphan_rows_are_counted_per_key_with_a_few_rowids(tmp_path):
    many = EXAMPLES + 7
    path = make(tmp_path, PARENT + f"""
        INSERT INTO p (id, a, b) VALUES (1, 1, 1);
        CREATE TABLE ch (x INTEGER REFERENCES p(id), c1, c2, FOREIGN KEY (c1, c2) REFERENCES p(a, b));
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {many})
            INSERT INTO ch SELECT 100 + i, 1, 1 FROM n;
        INSERT INTO ch VALUES (1, 1, 2), (NULL, 9, NULL);  -- a NULL in a key: never checked
        CREATE TABLE wr (k TEXT PRIMARY KEY, x INTEGER REFERENCES p(id)) WITHOUT ROWID;
        INSERT INTO wr VALUES ('a', 5), ('b', 1);
    """)
    found = {(f.table, f.column): f for f in findings(path, orphan_rows)}
    assert set(found) == {("ch", "x"), ("ch", "c1, c2"), ("wr", "x")}
    assert (found["ch", "x"].count, found["ch", "x"].examples) == (many, tuple(range(1, EXAMPLES + 1)))
    assert (found["ch", "c1, c2"].count, found["ch", "c1, c2"].examples) == (1, (many + 1,))
    wr = found["wr", "x"]
    assert wr.count == 1 and wr.examples == () and "WITHOUT ROWID" in wr.message
    assert all(f.code is FindingCode.ORPHAN_ROWS and f.severity is Severity.WARNING for f in found.values())
    # SQLite's own count
    conn = sqlite3.connect(path)
    assert len(conn.execute("PRAGMA foreign_key_check").fetchall()) == many + 2
    conn.close()


def test_a_healthy_file_has_no_findings(tmp_path):
    path = make(tmp_path, PARENT + """
        CREATE TABLE ch (x INTEGER REFERENCES p(id) ON DELETE CASCADE); CREATE INDEX ix ON ch(x);
        INSERT INTO p (id) VALUES (1); INSERT INTO ch VALUES (1), (NULL);
    """)
    assert findings(path, schema_findings) == ()


def test_the_new_codes_are_appended():
    assert [c.value for c in FindingCode][-2:] == ["non-deferrable-cycle", "unindexed-child-key"]


# ---- each rule a declaration finding states, run in SQLite ----------------------------------
def attempt(path, statement, *, foreign_keys=True):
    """What SQLite answers to one statement on a scratch copy's connection: 'ok' or its message."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        conn.execute("BEGIN")
        conn.execute(statement).fetchall()
        return "ok"
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def all_findings(path):
    return findings(path, lambda conn, info: declaration_findings(info) + list(schema_findings(conn, info)))


def message_of(path, code):
    return next(f.message for f in all_findings(path) if f.code == code)


def test_a_missing_parent_table_refuses_every_write_of_the_child_null_keys_too(tmp_path):
    path = make(tmp_path, "CREATE TABLE child (id INTEGER PRIMARY KEY, pid REFERENCES gone(id), note TEXT);")
    message = message_of(path, FindingCode.DANGLING_REFERENCE)
    assert "every INSERT into child, every DELETE from it and every UPDATE of pid" in message
    assert "NULL keys too" in message and "PRAGMA foreign_key_check passes over it in silence" in message
    for statement in ("INSERT INTO child VALUES (1, NULL, 'x')", "INSERT INTO child VALUES (2, 5, 'x')",
                      "DELETE FROM child", "UPDATE child SET pid = NULL"):
        assert attempt(path, statement) == "no such table: main.gone", statement
    assert attempt(path, "UPDATE child SET note = 'y'") == "ok"
    assert attempt(path, "PRAGMA foreign_key_check") == "ok"


MISMATCH = ("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, pname REFERENCES parent(name), note TEXT);"
            "INSERT INTO parent VALUES (1, 'a');")


def test_a_parent_key_that_is_not_unique_fails_the_writes_touching_the_key(tmp_path):
    path = make(tmp_path, MISMATCH)
    message = message_of(path, FindingCode.PARENT_KEY_NOT_UNIQUE)
    assert "on every write that touches the key" in message and "PRAGMA foreign_key_check" in message
    assert "a UNIQUE index on those parent columns, with their own collation, ends it" in message
    mismatch = 'foreign key mismatch - "child" referencing "parent"'
    for statement in ("INSERT INTO child VALUES (1, NULL, 'x')", "INSERT INTO child VALUES (2, 'a', 'x')",
                      "DELETE FROM child", "UPDATE child SET pname = 'a'", "DELETE FROM parent",
                      "UPDATE parent SET name = 'b'", "PRAGMA foreign_key_check"):
        assert attempt(path, statement) == mismatch, statement
    for statement in ("UPDATE child SET note = 'y'", "INSERT INTO parent VALUES (2, 'b')", "UPDATE parent SET id = 7"):
        assert attempt(path, statement) == "ok", statement
    other_collation = make(tmp_path, MISMATCH + "CREATE UNIQUE INDEX u ON parent(name COLLATE NOCASE);", "n.db")
    assert attempt(other_collation, "INSERT INTO child VALUES (2, 'a', 'x')") == mismatch
    own_collation = make(tmp_path, MISMATCH + "CREATE UNIQUE INDEX u ON parent(name);", "u.db")
    assert attempt(own_collation, "INSERT INTO child VALUES (2, 'a', 'x')") == "ok"
    assert FindingCode.PARENT_KEY_NOT_UNIQUE not in {f.code for f in all_findings(own_collation)}


@pytest.mark.parametrize("parent_type, child_type, parent_value, child_value, said, accepted", [
    ("TEXT", "INTEGER", "5", 5, "integer 5 becomes '5' and finds '5', but not '05'", True),
    ("TEXT", "INTEGER", "05", 5, "integer 5 becomes '5' and finds '5', but not '05'", False),
    ("INTEGER", "TEXT", 5, "5", "text '5' becomes 5 and finds 5", True),
    ("", "INTEGER", "5", 5, "compares child values as stored: integer 5 does not find text '5'", False),
])
def test_an_affinity_mismatch_says_what_sqlite_converts(tmp_path, parent_type, child_type, parent_value, child_value,
                                                        said, accepted):
    path = make(tmp_path, f"CREATE TABLE p (k {parent_type} PRIMARY KEY);"
                          f"CREATE TABLE c (k {child_type} REFERENCES p(k));")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO p VALUES (?)", (parent_value,))
    conn.close()
    assert said in message_of(path, FindingCode.TYPE_AFFINITY_MISMATCH)
    assert (attempt(path, f"INSERT INTO c VALUES ({child_value!r})") == "ok") is accepted


def test_orphan_rows_fail_only_when_a_write_sets_their_key(tmp_path):
    path = make(tmp_path, "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                          "CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent(id), note TEXT);"
                          "INSERT INTO child VALUES (1, 9, 'n');")
    message = message_of(path, FindingCode.ORPHAN_ROWS)
    assert "an UPDATE of any other column passes" in message and "PRAGMA integrity_check says ok" in message
    assert attempt(path, "PRAGMA integrity_check") == "ok"
    assert attempt(path, "UPDATE child SET note = 'y'") == "ok"
    assert attempt(path, "UPDATE child SET pid = pid") == "FOREIGN KEY constraint failed"
    assert attempt(path, "SELECT * FROM pragma_foreign_key_check") == "ok"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == [("child", 1, "parent", 0)]
    conn.close()
