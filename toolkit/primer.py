"""How SQLite enforces foreign keys, shown live on small fresh databases.

Each function builds its own throwaway database, does one thing that surprises people, and returns
what SQLite itself produced: the exact error messages, the pragma values read back, the schema text.
Nothing here states an outcome; the SQLite library in use decides it, so the primer notebook
(`notebooks/00_foreign_keys_primer.ipynb`) and its tests cannot drift from the engine.
"""
from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

from .sqlnames import quote

if TYPE_CHECKING:
    import pandas as pd

PARENT, CHILD = "parent", "child"
ORPHAN_KEY = 42  # no parent row ever has this key


def connect(path: str = ":memory:") -> sqlite3.Connection:
    # autocommit, so that BEGIN is only ever ours: Python's implicit transactions would hide the
    # pragma-inside-a-transaction behaviour this primer is about. Plain sqlite3, not sqlite-utils: the
    # primer shows SQLite's own statements and pragmas, and sqlite-utils' Database() sets one of them
    # (recursive_triggers) and wraps its writes in transactions of its own.
    return sqlite3.connect(path, isolation_level=None)


@dataclass(frozen=True)
class Outcome:
    """What SQLite did with one statement: it succeeded, or the exact error it raised."""

    statement: str
    succeeded: bool
    error: str | None = None
    exception: str | None = None
    error_name: str | None = None

    @property
    def result(self) -> str:
        return "succeeded" if self.succeeded else f"{self.exception}: {self.error}"


def attempt(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> Outcome:
    """Run one statement and record SQLite's verdict instead of raising it."""
    try:
        conn.execute(sql, params)
    except sqlite3.Error as error:
        # sqlite_errorname exists from Python 3.11; older interpreters only have the message
        return Outcome(sql, False, str(error), type(error).__name__, getattr(error, "sqlite_errorname", None))
    return Outcome(sql, True)


def copy_in_memory(path: str | Path) -> sqlite3.Connection:
    """A connection (autocommit, as `connect`) to a copy in memory of the file at `path`, which is
    only opened read-only: whatever runs on the copy, even a COMMIT, never reaches the file."""
    conn = connect()
    with closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as source:
        source.backup(conn)
    return conn


def attempt_script(path: str | Path, script: str) -> Outcome:
    """Run `script` as an app would, foreign keys ON and its own BEGIN and COMMIT kept, on a copy in
    memory of the file at `path` (`copy_in_memory`), and record SQLite's verdict: the statements may
    succeed or cascade without changing the file, so a notebook can be run again."""
    with closing(copy_in_memory(path)) as conn:
        set_foreign_keys(conn, True)
        try:
            conn.executescript(script)
        except sqlite3.Error as error:
            return Outcome(script, False, str(error), type(error).__name__, getattr(error, "sqlite_errorname", None))
    return Outcome(script, True)


def foreign_keys(conn: sqlite3.Connection) -> int:
    on: int = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    return on


def set_foreign_keys(conn: sqlite3.Connection, on: bool) -> int:
    """Ask for enforcement on or off and return what SQLite actually set (it may ignore the request)."""
    conn.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    return foreign_keys(conn)


def _create_parent_and_child(conn: sqlite3.Connection) -> None:
    conn.execute(f"CREATE TABLE {quote(PARENT)}(id INTEGER PRIMARY KEY)")
    conn.execute(f"CREATE TABLE {quote(CHILD)}(id INTEGER PRIMARY KEY, "
                 f"parent_id INTEGER REFERENCES {quote(PARENT)}(id))")
    conn.execute(f"INSERT INTO {quote(PARENT)}(id) VALUES (1)")


def _insert_child(conn: sqlite3.Connection, parent_id: Any = ORPHAN_KEY) -> Outcome:
    return attempt(conn, f"INSERT INTO {quote(CHILD)}(parent_id) VALUES (?)", (parent_id,))


def _count(conn: sqlite3.Connection, table: str) -> int:
    count: int = conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0]
    return count


# 1 ─ the pragma belongs to the connection, not to the file ──────────────────────────────────────

@dataclass(frozen=True)
class ConnectionRow:
    connection: str
    foreign_keys: int
    insert: Outcome


@dataclass(frozen=True)
class PerConnectionPragma:
    default_foreign_keys: int  # read on a connection that never set the pragma
    connections: tuple[ConnectionRow, ...]
    orphans_in_file: int  # child rows without a parent, counted afterwards by a third connection

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"connection": r.connection, "foreign_keys": r.foreign_keys,
                              "insert result": r.insert.result} for r in self.connections])


def per_connection_pragma() -> PerConnectionPragma:
    """Two connections to one file: the one that enabled foreign keys rejects an orphan, the other stores it."""
    with tempfile.TemporaryDirectory(prefix="fk-primer-") as folder:
        path = os.path.join(folder, "shared.db")
        with closing(connect(path)) as setup:
            default = foreign_keys(setup)
            _create_parent_and_child(setup)
        # nothing about enforcement is stored in the file: each connection decides for itself
        with closing(connect(path)) as strict, closing(connect(path)) as lax:
            rows = (ConnectionRow("A: ran PRAGMA foreign_keys = ON", set_foreign_keys(strict, True),
                                  _insert_child(strict)),
                    ConnectionRow("B: left at its default", foreign_keys(lax), _insert_child(lax)))
        with closing(connect(path)) as reader:
            orphans = reader.execute(
                f"SELECT count(*) FROM {quote(CHILD)} WHERE parent_id NOT IN (SELECT id FROM {quote(PARENT)})"
            ).fetchone()[0]
    return PerConnectionPragma(default, rows, orphans)


# 2 ─ the pragma is a silent no-op inside a transaction ──────────────────────────────────────────

@dataclass(frozen=True)
class PragmaStep:
    where: str
    requested: str
    read_back: int
    insert: Outcome


@dataclass(frozen=True)
class PragmaInTransaction:
    steps: tuple[PragmaStep, ...]

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"where": s.where, "requested": s.requested, "foreign_keys read back": s.read_back,
                              "orphan insert": s.insert.result} for s in self.steps])


def pragma_ignored_in_transaction() -> PragmaInTransaction:
    """`PRAGMA foreign_keys = OFF` after BEGIN changes nothing and says nothing; before BEGIN it works."""
    with closing(connect()) as conn:
        _create_parent_and_child(conn)
        set_foreign_keys(conn, True)
        conn.execute("BEGIN")
        inside = PragmaStep("inside BEGIN ... ROLLBACK", "OFF", set_foreign_keys(conn, False), _insert_child(conn))
        conn.execute("ROLLBACK")
        outside = PragmaStep("outside a transaction", "OFF", set_foreign_keys(conn, False), _insert_child(conn))
    return PragmaInTransaction((inside, outside))


# 3 ─ affinity decides whether a child value matches its parent key ─────────────────────────────

@dataclass(frozen=True)
class AffinityRow:
    parent_declared_type: str
    parent_value_typeof: str
    child_value: Any
    child_stored_typeof: str
    insert: Outcome


@dataclass(frozen=True)
class AffinityInKeyComparison:
    rows: tuple[AffinityRow, ...]
    comparisons: tuple[tuple[str, Any], ...]  # (SQL, what SQLite answered) on the untyped parent

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"parent declared type": r.parent_declared_type or "(none)",
                              "parent value typeof": r.parent_value_typeof, "child value": repr(r.child_value),
                              "child stores it as": r.child_stored_typeof, "insert result": r.insert.result}
                             for r in self.rows])

    def comparisons_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.comparisons, columns=["SQL", "SQLite says"])


def _stored_typeof(conn: sqlite3.Connection, value: Any) -> str:
    # the rejected row never lands, so store it once with enforcement off to see what affinity made of it
    set_foreign_keys(conn, False)
    stored = conn.execute(f"INSERT INTO {quote(CHILD)}(pid) VALUES (?) RETURNING typeof(pid)", (value,)).fetchall()
    conn.execute(f"DELETE FROM {quote(CHILD)} WHERE rowid = last_insert_rowid()")
    set_foreign_keys(conn, True)
    kind: str = stored[0][0]
    return kind


def _affinity_case(conn: sqlite3.Connection, declared: str, parent_value: Any) -> list[AffinityRow]:
    conn.execute(f"CREATE TABLE {quote(PARENT)}(id {declared} PRIMARY KEY)")
    conn.execute(f"INSERT INTO {quote(PARENT)}(id) VALUES (?)", (parent_value,))
    conn.execute(f"CREATE TABLE {quote(CHILD)}(pid TEXT REFERENCES {quote(PARENT)}(id))")
    set_foreign_keys(conn, True)
    parent_typeof = conn.execute(f"SELECT typeof(id) FROM {quote(PARENT)}").fetchone()[0]
    return [AffinityRow(declared, parent_typeof, value, _stored_typeof(conn, value),
                        attempt(conn, f"INSERT INTO {quote(CHILD)}(pid) VALUES (?)", (value,)))
            for value in ("5", 5)]


def _looks_equal(conn: sqlite3.Connection) -> tuple[tuple[str, Any], ...]:
    # the child's '5' is stored (enforcement off) only so the join below has something to miss
    set_foreign_keys(conn, False)
    conn.execute(f"INSERT INTO {quote(CHILD)}(pid) VALUES ('5')")
    p, c = quote(PARENT), quote(CHILD)
    queries = ("SELECT '5' = 5",
               "SELECT CAST('5' AS INTEGER) = 5",
               f"SELECT (SELECT id FROM {p}) || ' and ' || (SELECT pid FROM {c})",
               f"SELECT (SELECT quote(id) FROM {p}) || ' and ' || (SELECT quote(pid) FROM {c})",
               f"SELECT count(*) FROM {c} JOIN {p} ON {c}.pid = {p}.id")
    return tuple((sql, conn.execute(sql).fetchone()[0]) for sql in queries)


def affinity_in_key_comparison() -> AffinityInKeyComparison:
    """A parent key with no declared type keeps integer 5, which a TEXT child column's '5' never matches."""
    with closing(connect()) as untyped, closing(connect()) as typed:
        rows = _affinity_case(untyped, "", 5) + _affinity_case(typed, "TEXT", "5")
        comparisons = _looks_equal(untyped)
    return AffinityInKeyComparison(tuple(rows), comparisons)


# 4 ─ RENAME rewrites the children's REFERENCES ──────────────────────────────────────────────────

@dataclass(frozen=True)
class RenameVariant:
    foreign_keys: int
    legacy_alter_table: int
    child_sql_after: str
    references_after: str  # the target table PRAGMA foreign_key_list reports after the rename
    insert_after_rebuild: Outcome


@dataclass(frozen=True)
class RenameRewritesReferences:
    child_sql_before: str
    variants: tuple[RenameVariant, ...]

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"foreign_keys": v.foreign_keys, "legacy_alter_table": v.legacy_alter_table,
                              "child REFERENCES after rename": v.references_after,
                              "child sql after rename": v.child_sql_after,
                              "insert after rebuild": v.insert_after_rebuild.result} for v in self.variants])


def _child_sql(conn: sqlite3.Connection) -> str:
    sql: str = conn.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (CHILD,)).fetchone()[0]
    return sql


def _rename_variant(fk: bool, legacy: bool) -> tuple[str, RenameVariant]:
    old = f"{PARENT}_old"
    with closing(connect()) as conn:
        _create_parent_and_child(conn)
        before = _child_sql(conn)
        conn.execute(f"PRAGMA legacy_alter_table = {'ON' if legacy else 'OFF'}")
        fk_read = set_foreign_keys(conn, fk)
        legacy_read = conn.execute("PRAGMA legacy_alter_table").fetchone()[0]
        conn.execute(f"ALTER TABLE {quote(PARENT)} RENAME TO {quote(old)}")
        after = _child_sql(conn)
        target = conn.execute(f"PRAGMA foreign_key_list({quote(CHILD)})").fetchone()[2]
        # the usual rebuild that follows such a rename: new parent, copy rows, drop the old one
        conn.execute(f"CREATE TABLE {quote(PARENT)}(id INTEGER PRIMARY KEY)")
        conn.execute(f"INSERT INTO {quote(PARENT)} SELECT * FROM {quote(old)}")
        set_foreign_keys(conn, False)  # with enforcement on, DROP TABLE would check the children first
        conn.execute(f"DROP TABLE {quote(old)}")
        set_foreign_keys(conn, True)
        insert = _insert_child(conn, 1)  # parent row 1 exists in the new parent table
    return before, RenameVariant(fk_read, legacy_read, after, target, insert)


def rename_rewrites_references() -> RenameRewritesReferences:
    """ALTER TABLE ... RENAME points children at the new name; drop that table and every insert fails."""
    results = [_rename_variant(fk, legacy) for fk in (False, True) for legacy in (False, True)]
    return RenameRewritesReferences(results[0][0], tuple(v for _, v in results))


# 5 ─ an error about the schema vs an error about the data ───────────────────────────────────────

@dataclass(frozen=True)
class MismatchCase:
    case: str
    parent_sql: str
    insert: Outcome


@dataclass(frozen=True)
class MismatchVsConstraintFailed:
    cases: tuple[MismatchCase, ...]

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"case": c.case, "parent declaration": c.parent_sql, "exception": c.insert.exception or "",
                              "sqlite_errorname": c.insert.error_name or "",
                              "message": c.insert.error if not c.insert.succeeded else "succeeded"}
                             for c in self.cases])


def _mismatch_db(conn: sqlite3.Connection) -> str:
    # CREATE TABLE ... AS SELECT keeps names and values but drops PRIMARY KEY and UNIQUE
    conn.execute("CREATE TABLE p AS SELECT 1 AS id")
    conn.execute("CREATE TABLE c(pid REFERENCES p(id))")
    sql: str = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'p'").fetchone()[0]
    return sql


def _mismatch_case(fk: bool) -> MismatchCase:
    with closing(connect()) as conn:
        parent_sql = _mismatch_db(conn)
        set_foreign_keys(conn, fk)
        # value 1 does exist in p: the failure is about the declaration, not the data
        return MismatchCase(f"parent key not unique, foreign_keys {'ON' if fk else 'OFF'}", parent_sql,
                            attempt(conn, "INSERT INTO c(pid) VALUES (1)"))


def _missing_row_case() -> MismatchCase:
    with closing(connect()) as conn:
        _create_parent_and_child(conn)
        set_foreign_keys(conn, True)
        parent_sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (PARENT,)).fetchone()[0]
        return MismatchCase("parent row missing, foreign_keys ON", parent_sql, _insert_child(conn))


def mismatch_vs_constraint_failed() -> MismatchVsConstraintFailed:
    """A parent key that is not PRIMARY KEY/UNIQUE breaks every insert; a missing parent row breaks one."""
    return MismatchVsConstraintFailed((_mismatch_case(True), _missing_row_case(), _mismatch_case(False)))


# 6 ─ foreign_key_check finds what enforcement let through ──────────────────────────────────────

@dataclass(frozen=True)
class ForeignKeyCheck:
    rows_written_with_fk_off: int
    foreign_keys_after_enabling: int
    rows_still_there: int
    violations: tuple[tuple[str, int, str, int], ...]  # PRAGMA foreign_key_check: table, rowid, parent, fkid

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(list(self.violations), columns=["table", "rowid", "parent", "fkid"])


def foreign_key_check_finds_orphans() -> ForeignKeyCheck:
    """Enabling foreign keys never re-checks existing rows; PRAGMA foreign_key_check does."""
    with closing(connect()) as conn:
        _create_parent_and_child(conn)
        set_foreign_keys(conn, False)
        written = [_insert_child(conn, key) for key in (1, ORPHAN_KEY, ORPHAN_KEY + 1)]
        enabled = set_foreign_keys(conn, True)
        violations = tuple(tuple(r) for r in conn.execute("PRAGMA foreign_key_check"))
        return ForeignKeyCheck(sum(o.succeeded for o in written), enabled, _count(conn, CHILD), violations)


PRIMER: tuple[tuple[str, Callable[[], Any]], ...] = (
    ("PRAGMA foreign_keys is per connection, and OFF by default", per_connection_pragma),
    ("PRAGMA foreign_keys is ignored inside a transaction", pragma_ignored_in_transaction),
    ("Type affinity decides whether a child value matches its parent", affinity_in_key_comparison),
    ("RENAME rewrites the children's REFERENCES", rename_rewrites_references),
    ("'foreign key mismatch' is not 'FOREIGN KEY constraint failed'", mismatch_vs_constraint_failed),
    ("PRAGMA foreign_key_check finds rows written while enforcement was off", foreign_key_check_finds_orphans),
)
