"""keymatch.explain_key against SQLite itself: every cell of the grid of parent declared type ×
collation × child value is inserted for real with foreign keys ON, and the toolkit's verdict
must agree with SQLite's (accepted <=> ok), and its reason must be the right one."""
from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from toolkit.keymatch import KeyVerdict, Reason, converts_alike, explain_key, leftover_base
from toolkit.schema import DatabaseInfo, read_schema

#: "INTEGER PRIMARY KEY" is the rowid (integers only, found by MustBeInt); in a WITHOUT ROWID table
#: the same words make an ordinary INTEGER column.
PARENT_TYPES = ["", "TEXT", "INTEGER", "NUMERIC", "REAL", "BLOB", "INTEGER PRIMARY KEY",
                "INTEGER PRIMARY KEY WITHOUT ROWID"]
COLLATIONS = ["BINARY", "NOCASE", "RTRIM"]
#: The parent rows (each stored as the parent column's affinity makes it; duplicates ignored).
PARENT_VALUES: list[Any] = [17, "01581", "ABC", "pad ", " lead", 2.5, b"hi", "5", "x1"]
CHILD_VALUES: list[Any] = [17, 17.0, "17", "017", " 17 ", "17.0", 17.5, 1581, "1581", "01581", "abc", "ABC",
                           "abc ", " abc", "pad", "pad ", "lead", "LEAD", 2.5, "2.5", b"hi", b"17", "hi", 5, "5",
                           "X1", None]
FAILED = "FOREIGN KEY constraint failed"


def _id(value: Any) -> str:
    return f"{type(value).__name__}:{value!r}"


def _build(path: Path, parent_type: str, collation: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    key, options = f"k {parent_type} COLLATE {collation} UNIQUE", ""
    if parent_type == "INTEGER PRIMARY KEY":
        key = "k INTEGER PRIMARY KEY"
    elif parent_type.endswith("WITHOUT ROWID"):
        key, options = f"k INTEGER COLLATE {collation} PRIMARY KEY", " WITHOUT ROWID"
    conn.execute(f"CREATE TABLE parent ({key}, note TEXT){options}")
    conn.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, ref REFERENCES parent (k))")
    for value in PARENT_VALUES:
        with contextlib.suppress(sqlite3.IntegrityError):  # an INTEGER PRIMARY KEY takes integers only
            conn.execute("INSERT OR IGNORE INTO parent (k) VALUES (?)", (value,))
    conn.close()


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[sqlite3.Connection, DatabaseInfo]]:
    folder = tmp_path_factory.mktemp("keymatch")
    out = {}
    for i, parent_type in enumerate(PARENT_TYPES):
        for collation in COLLATIONS:
            path = folder / f"grid{i}_{collation}.db"
            _build(path, parent_type, collation)
            conn = sqlite3.connect(path, isolation_level=None)
            out[parent_type, collation] = (conn, read_schema(conn, database=str(path)))
    yield out
    for conn, _ in out.values():
        conn.close()


def sqlite_accepts(conn: sqlite3.Connection, table: str, columns: list[str], values: tuple[Any, ...]) -> bool:
    """SQLite's own verdict: a real insert with foreign keys ON, rolled back."""
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    try:
        conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(values))})", values)
        return True
    except sqlite3.IntegrityError as exc:
        assert str(exc) == FAILED
        return False
    finally:
        conn.execute("ROLLBACK")


# --------------------------------------------------------------------------- the oracle
def _number(value: Any) -> float | int | None:
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", value):
        return float(value)
    return None


def _text(conn: sqlite3.Connection, value: Any) -> str:
    text: str = conn.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0]
    return text


def _compared(conn: sqlite3.Connection, parent_type: str, value: Any) -> Any:
    """The child value with the parent column's affinity applied, as SQLite itself stores it."""
    declared = "INTEGER" if parent_type.startswith("INTEGER PRIMARY KEY") else parent_type
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS oracle (v {declared})")
    conn.execute("DELETE FROM temp.oracle")
    conn.execute("INSERT INTO temp.oracle VALUES (?)", (value,))
    return conn.execute("SELECT v FROM temp.oracle").fetchone()[0]


def expected_failure(conn: sqlite3.Connection, parent_type: str, collation: str, value: Any
                     ) -> tuple[Reason, list[Any]]:
    """The reason a rejected value must get, and the parent keys it may name: type-mismatch when a
    parent key equals it as another storage class (the same text, or the same number though one is
    text), else near-miss when one equals it after trim() and lower(), else missing-row."""
    seen = _compared(conn, parent_type, value)
    parents = [r[0] for r in conn.execute("SELECT k FROM parent")]
    typed = []
    for p in parents:
        same_text = conn.execute(f"SELECT CAST(? AS TEXT) = CAST(? AS TEXT) COLLATE {collation}",
                                 (p, seen)).fetchone()[0]
        if (type(p) is not type(seen) and same_text) or (
                (isinstance(p, str) or isinstance(seen, str)) and _number(p) is not None
                and _number(p) == _number(seen)):
            typed.append(p)
    if typed:
        return Reason.TYPE_MISMATCH, typed
    near = [p for p in parents if _text(conn, p).strip(" ").lower() == _text(conn, seen).strip(" ").lower()]
    if near:
        return Reason.NEAR_MISS, near
    return Reason.MISSING_ROW, []


def _verdict(conn: sqlite3.Connection, info: DatabaseInfo, value: Any) -> KeyVerdict:
    child = info.table("child")
    assert child is not None
    return explain_key(conn, info, "child", child.foreign_keys[0], (value,))


@pytest.mark.parametrize("value", CHILD_VALUES, ids=_id)
@pytest.mark.parametrize("collation", COLLATIONS)
@pytest.mark.parametrize("parent_type", PARENT_TYPES, ids=lambda t: t or "untyped")
def test_the_verdict_is_sqlites_on_every_cell(grid, parent_type: str, collation: str, value: Any) -> None:
    conn, info = grid[parent_type, collation]
    accepted = sqlite_accepts(conn, "child", ["ref"], (value,))
    verdict = _verdict(conn, info, value)
    assert (verdict.reason is Reason.OK) == accepted, verdict
    if value is None:
        assert "never checks" in verdict.explanation and "matches" not in verdict.explanation
        return
    if accepted:
        assert "matches a row in parent" in verdict.explanation and verdict.candidate is None
        return
    reason, candidates = expected_failure(conn, parent_type, collation, value)
    assert verdict.reason is reason, verdict
    if reason is Reason.MISSING_ROW:
        assert verdict.candidate is None and "has no row in parent" in verdict.explanation
        return
    assert verdict.candidate in candidates, verdict
    # the parent's collation does not already equate the candidate with what SQLite compares
    seen = _compared(conn, parent_type, value)
    assert not conn.execute(f"SELECT ? = ? COLLATE {collation}", (verdict.candidate, seen)).fetchone()[0] \
        or type(verdict.candidate) is not type(seen)


def test_the_grid_holds_each_kind_of_answer(grid) -> None:
    """The grid is worth running: it has cells of every reason it checks."""
    reasons = {_verdict(conn, info, value).reason for conn, info in grid.values() for value in CHILD_VALUES}
    assert {Reason.OK, Reason.MISSING_ROW, Reason.NEAR_MISS, Reason.TYPE_MISMATCH} <= reasons


@pytest.mark.parametrize("parent_type, collation, value, reason", [
    ("INTEGER", "BINARY", 1581, Reason.OK),  # INTEGER and NUMERIC convert alike: nothing to warn about
    ("NUMERIC", "BINARY", "17", Reason.OK),
    ("TEXT", "BINARY", 17, Reason.OK),  # an INTEGER child finds a TEXT '17' parent
    ("TEXT", "NOCASE", "abc", Reason.OK),
    ("TEXT", "BINARY", "abc", Reason.NEAR_MISS),
    ("TEXT", "RTRIM", "pad", Reason.OK),
    ("TEXT", "RTRIM", "lead", Reason.NEAR_MISS),  # RTRIM ignores trailing spaces only
    ("TEXT", "BINARY", 1581, Reason.TYPE_MISMATCH),  # '1581' vs '01581': equal only as numbers
    ("", "BINARY", 5, Reason.TYPE_MISMATCH),  # 5 vs '5' in an untyped parent
    ("BLOB", "BINARY", "hi", Reason.TYPE_MISMATCH),  # text 'hi' vs the blob x'6869'
    ("INTEGER PRIMARY KEY", "BINARY", "17.0", Reason.OK),  # the rowid takes what becomes an integer
    ("INTEGER PRIMARY KEY", "BINARY", 17.5, Reason.MISSING_ROW),
    ("INTEGER PRIMARY KEY", "BINARY", b"17", Reason.TYPE_MISMATCH),
    ("REAL", "BINARY", "2.5", Reason.OK),
    # an INTEGER column stores the real 2.5 and finds it; the rowid holds integers only
    ("INTEGER", "BINARY", 2.5, Reason.OK),
    ("INTEGER PRIMARY KEY", "BINARY", 2.5, Reason.MISSING_ROW),
    ("INTEGER", "BINARY", "x1", Reason.OK),
    ("INTEGER PRIMARY KEY", "BINARY", "x1", Reason.MISSING_ROW),
    ("INTEGER PRIMARY KEY WITHOUT ROWID", "BINARY", 2.5, Reason.OK),  # not the rowid: holds 2.5
    ("INTEGER PRIMARY KEY WITHOUT ROWID", "NOCASE", "X1", Reason.OK),
])
def test_named_cells(grid, parent_type: str, collation: str, value: Any, reason: Reason) -> None:
    conn, info = grid[parent_type, collation]
    verdict = _verdict(conn, info, value)
    assert verdict.reason is reason, verdict
    assert sqlite_accepts(conn, "child", ["ref"], (value,)) == (reason is Reason.OK)


def test_a_type_mismatch_says_what_sqlite_compares(grid) -> None:
    conn, info = grid["TEXT", "BINARY"]
    verdict = _verdict(conn, info, 1581)
    assert verdict.candidate == "01581" and verdict.storage_classes == ("integer",)
    assert "'1581' (text)" in verdict.explanation and "equal only as numbers" in verdict.explanation
    conn, info = grid["", "BINARY"]
    verdict = _verdict(conn, info, 5)
    assert verdict.candidate == "5" and "no type affinity" in verdict.explanation
    assert "equal only as text" in verdict.explanation
    assert "SQLite compares an integer with a text, which are never equal" in verdict.explanation
    assert not sqlite_accepts(conn, "child", ["ref"], (5,))  # what the sentence says, SQLite does


@pytest.mark.parametrize("collation, value, what", [
    ("BINARY", "abc", "only in letter case"),
    ("RTRIM", "lead", "only in spaces around it"),  # RTRIM ignores trailing spaces, not leading ones
    ("BINARY", "PAD", "only in spaces around it and letter case"),
    # NOCASE ignores the case: only the spaces keep 'PAD' from 'pad '
    ("NOCASE", "PAD", "only in spaces around it,"),
    ("NOCASE", "LEAD", "only in spaces around it,"),
    ("RTRIM", "LEAD ", "only in spaces around it and letter case"),
])
def test_a_near_miss_says_what_differs(grid, collation: str, value: str, what: str) -> None:
    conn, info = grid["TEXT", collation]
    verdict = _verdict(conn, info, value)
    assert verdict.reason is Reason.NEAR_MISS and what in verdict.explanation, verdict
    assert "collation does not ignore" in verdict.explanation


# --------------------------------------------------------------------------- the child's affinity
def test_the_child_column_affinity_applies_first(tmp_path: Path) -> None:
    """'017' in an INTEGER child column is stored 17, which finds the TEXT parent '17'."""
    conn = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    conn.executescript("CREATE TABLE p (k TEXT PRIMARY KEY); INSERT INTO p VALUES ('17');"
                       "CREATE TABLE c (ref INTEGER REFERENCES p (k));")
    info = read_schema(conn, database="c.db")
    fk = info.tables[0].foreign_keys[0]
    verdict = explain_key(conn, info, "c", fk, ("017",))
    assert sqlite_accepts(conn, "c", ["ref"], ("017",)) and verdict.reason is Reason.OK
    assert verdict.values == (17,) and verdict.storage_classes == ("integer",)


# --------------------------------------------------------------------------- composite keys
@pytest.fixture(params=COLLATIONS)
def composite(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[sqlite3.Connection, DatabaseInfo, str]:
    conn = sqlite3.connect(tmp_path / "composite.db", isolation_level=None)
    conn.executescript(f"""
        CREATE TABLE "order lines" ("order" INTEGER, line TEXT COLLATE {request.param}, PRIMARY KEY ("order", line));
        INSERT INTO "order lines" VALUES (1, 'a'), (2, 'b'), (3, 'C');
        CREATE TABLE notes (id INTEGER PRIMARY KEY, o, l,
                            FOREIGN KEY (o, l) REFERENCES "order lines" ("order", line));
    """)
    yield conn, read_schema(conn, database="composite.db"), request.param
    conn.close()


COMPOSITE_CASES = [  # values, then the reason under BINARY, NOCASE, RTRIM, then the columns matching alone
    ((1, "a"), ("ok", "ok", "ok"), ()),
    (("1", "a"), ("ok", "ok", "ok"), ()),  # INTEGER affinity of "order" applies to '1'
    ((1, None), ("ok", "ok", "ok"), ()),  # a NULL column: never checked
    ((None, "zz"), ("ok", "ok", "ok"), ()),
    ((1, "b"), ("composite-partial",) * 3, ("o", "l")),
    ((1, "zz"), ("composite-partial",) * 3, ("o",)),
    ((9, "zz"), ("missing-row",) * 3, ()),
    ((3, "c"), ("near-miss", "ok", "near-miss"), ()),
    ((2, "b "), ("near-miss", "near-miss", "ok"), ()),
    ((2, b"b"), ("type-mismatch",) * 3, ()),
]


@pytest.mark.parametrize("values, reasons, partial", COMPOSITE_CASES, ids=[repr(c[0]) for c in COMPOSITE_CASES])
def test_composite_keys(composite, values: tuple[Any, ...], reasons: tuple[str, ...],
                        partial: tuple[str, ...]) -> None:
    conn, info, collation = composite
    notes = info.table("notes")
    assert notes is not None
    verdict = explain_key(conn, info, "notes", notes.foreign_keys[0], values)
    accepted = sqlite_accepts(conn, "notes", ["o", "l"], values)
    assert (verdict.reason is Reason.OK) == accepted, verdict
    assert verdict.reason == reasons[COLLATIONS.index(collation)], verdict
    if verdict.reason is Reason.COMPOSITE_PARTIAL:
        assert verdict.partial == partial and all(c in verdict.explanation for c in partial)
    if None in values:
        assert "never checks" in verdict.explanation and "matches" not in verdict.explanation


# --------------------------------------------------------------------------- the declaration
def _declared(tmp_path: Path, script: str) -> tuple[sqlite3.Connection, DatabaseInfo]:
    conn = sqlite3.connect(tmp_path / "d.db", isolation_level=None)
    conn.executescript(script)
    return conn, read_schema(conn, database="d.db")


def _child_verdict(conn: sqlite3.Connection, info: DatabaseInfo, value: Any) -> KeyVerdict:
    child = info.table("child")
    assert child is not None
    return explain_key(conn, info, "child", child.foreign_keys[0], (value,))


def test_a_missing_parent_table(tmp_path: Path) -> None:
    conn, info = _declared(tmp_path, "CREATE TABLE child (ref REFERENCES gone (id));")
    verdict = _child_verdict(conn, info, 1)
    assert verdict.reason is Reason.PARENT_TABLE_MISSING and "no such table" in verdict.explanation
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        conn.execute("INSERT INTO child VALUES (1)")
    # SQLite refuses the statement before it reads a value: a NULL key fails too
    assert _child_verdict(conn, info, None).reason is Reason.PARENT_TABLE_MISSING
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        conn.execute("INSERT INTO child VALUES (NULL)")


def test_a_parent_table_dropped_since_the_schema_was_read(tmp_path: Path) -> None:
    conn, info = _declared(tmp_path, "CREATE TABLE parent (id INTEGER PRIMARY KEY); INSERT INTO parent VALUES (1); "
                                     "CREATE TABLE child (ref REFERENCES parent (id));")
    assert _child_verdict(conn, info, 1).ok
    conn.execute("DROP TABLE parent")  # a replayed script's DROP: the schema read before still has it
    verdict = _child_verdict(conn, info, 1)
    assert verdict.reason is Reason.PARENT_TABLE_MISSING and "does not exist" in verdict.explanation


@pytest.mark.parametrize("parent", [
    "CREATE TABLE parent (id TEXT)",  # no key at all
    "CREATE TABLE parent (id TEXT COLLATE NOCASE, UNIQUE (id COLLATE BINARY))",  # unique under another collation
])
def test_a_parent_key_sqlite_cannot_use(tmp_path: Path, parent: str) -> None:
    conn, info = _declared(tmp_path, f"{parent}; INSERT INTO parent VALUES ('a');"
                                     "CREATE TABLE child (ref REFERENCES parent (id));")
    verdict = _child_verdict(conn, info, "a")
    assert verdict.reason is Reason.PARENT_KEY_NOT_UNIQUE and "foreign key mismatch" in verdict.explanation
    conn.execute("PRAGMA foreign_keys = ON")
    for value in ("a", None):  # refused when compiled: a NULL key too
        assert _child_verdict(conn, info, value).reason is Reason.PARENT_KEY_NOT_UNIQUE
        with pytest.raises(sqlite3.OperationalError, match="foreign key mismatch"):
            conn.execute("INSERT INTO child VALUES (?)", (value,))


def test_a_stale_leftover_parent(tmp_path: Path) -> None:
    conn, info = _declared(tmp_path, """
        CREATE TABLE profiles_old (id TEXT PRIMARY KEY); INSERT INTO profiles_old VALUES ('u1');
        CREATE TABLE profiles (id TEXT PRIMARY KEY); INSERT INTO profiles VALUES ('u1'), ('u2');
        CREATE TABLE child (ref REFERENCES profiles_old (id));""")
    assert leftover_base("profiles_old", {"profiles"}) == "profiles"
    verdict = _child_verdict(conn, info, "u2")
    assert verdict.reason is Reason.STALE_PARENT_TABLE and "the live profiles has the row" in verdict.explanation
    assert not sqlite_accepts(conn, "child", ["ref"], ("u2",))
    assert _child_verdict(conn, info, "u1").reason is Reason.OK
    assert _child_verdict(conn, info, "u3").reason is Reason.MISSING_ROW


def test_a_self_reference_finds_its_own_row_once_written(tmp_path: Path) -> None:
    conn, info = _declared(tmp_path, "CREATE TABLE child (id INTEGER PRIMARY KEY, boss REFERENCES child (id));")
    assert sqlite_accepts(conn, "child", ["id", "boss"], (5, 5))  # a row may be its own parent
    assert _child_verdict(conn, info, 5).reason is Reason.MISSING_ROW  # not written yet
    conn.execute("INSERT INTO child VALUES (5, 5)")
    assert _child_verdict(conn, info, 5).reason is Reason.OK


def test_identifiers_with_quotes_and_values_are_bound(tmp_path: Path) -> None:
    conn, info = _declared(tmp_path, """
        CREATE TABLE "par""ent" ("k ey" TEXT PRIMARY KEY); INSERT INTO "par""ent" VALUES ('O''Brien');
        CREATE TABLE "child" ("r""ef" REFERENCES "par""ent" ("k ey"));""")
    assert _child_verdict(conn, info, "O'Brien").reason is Reason.OK
    verdict = _child_verdict(conn, info, "o'brien ")
    assert verdict.reason is Reason.NEAR_MISS and verdict.candidate == "O'Brien"


def test_the_number_of_values_must_match_the_key(grid) -> None:
    conn, info = grid["TEXT", "BINARY"]
    child = info.table("child")
    assert child is not None
    with pytest.raises(ValueError, match="1 key values expected, 2 given"):
        explain_key(conn, info, "child", child.foreign_keys[0], (1, 2))


def test_integer_and_numeric_convert_alike(tmp_path: Path) -> None:
    """No warning for a pairing SQLite converts identically: every value an INTEGER child column
    stores finds the NUMERIC parent that holds the same input, and the other way round."""
    assert converts_alike("INTEGER", "NUMERIC") and converts_alike("NUMERIC", "INTEGER")
    assert not converts_alike("TEXT", "INTEGER") and not converts_alike("BLOB", "TEXT")
    conn, info = _declared(tmp_path, "CREATE TABLE p1 (k NUMERIC PRIMARY KEY); CREATE TABLE p2 (k INTEGER UNIQUE);"
                                     "CREATE TABLE c1 (r INTEGER REFERENCES p1 (k));"
                                     "CREATE TABLE c2 (r NUMERIC REFERENCES p2 (k));")
    inputs = [17, "17", "017", 17.0, "17.0", 2.5, "2.5", "1e3", " 9 ", "abc", b"x", 9223372036854775807]
    for parent, child in (("p1", "c1"), ("p2", "c2")):
        for value in inputs:
            conn.execute(f"INSERT OR IGNORE INTO {parent} VALUES (?)", (value,))
        table = info.table(child)
        assert table is not None
        for value in inputs:
            assert sqlite_accepts(conn, child, ["r"], (value,)), (child, value)
            assert explain_key(conn, info, child, table.foreign_keys[0], (value,)).reason is Reason.OK
