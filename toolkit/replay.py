"""The app's failing statements replayed on the work copy, and the answer per broken reference.

`replay()` runs a `Script` (statements.parse_script) on a connection to the WORK COPY as the app
would: foreign keys ON, statement by statement, immediate and deferred keys kept apart, ON DELETE /
ON UPDATE actions running.  SQLite's own verdict decides (the statement's error, then
`PRAGMA foreign_key_check`); keymatch.explain_key says why for each row.

How the app's transactions are kept while everything stays undoable: the replay holds one
transaction of its own from the first write to the end, and always rolls it back.  The app's BEGIN
becomes a savepoint inside it; the app's COMMIT is never run: what COMMIT would refuse is exactly
what `foreign_key_check` lists inside the open transaction (it sees uncommitted rows), so the
violations the script added are looked for there, and when there are none the app's savepoint is
released.  A statement run outside any BEGIN commits on its own in the app: it gets the same check
after it.  `PRAGMA defer_foreign_keys` ends at each (app) COMMIT or ROLLBACK, as in SQLite.

Limits, said plainly:
- `PRAGMA foreign_keys` is a no-op inside a transaction in SQLite: the script's own setting is
  honoured when it comes before its first write (as apps run it, on connecting).
- An immediate failure is run again with defer_foreign_keys ON in a savepoint to list the rows
  (SQLite 3.40 defers RESTRICT too then; should a build not, turning keys off is impossible
  inside the transaction, and the failure names the statement and the RESTRICT keys, no rows).
- Pre-existing violating rows are remembered one by one up to MAX_REMEMBERED (all are counted);
  beyond that, a listed row may be one that was there before (the counts stay exact).
- At COMMIT a key whose parent row was in the file before the script is a parent the script
  deleted or re-keyed; the statement that did it is named by running the script's writes again,
  except in a script that rolls back part of its work (then the sentence names no statement).
- SQLite decides COMMIT by a running count of broken deferred references, which is not always the
  rows that violate at COMMIT.  Two cases are followed: a DROP TABLE's implicit DELETE counts the
  references to the dropped rows and nothing counts them off (a table rebuilt with keys on fails
  though every row has its parent); and in a file that had violations before, the rows are
  compared after each writing statement (fixes first, then breaks, as the count never goes below
  zero), their key values too up to MAX_VALUES_REMEMBERED rows.  Within one statement the order
  of SQLite's row operations is not followed.
- A statement SQLite refuses before reading any row (a REFERENCES to a missing table, a parent
  key that is not unique) is run again, with the statements before it, with foreign keys OFF in a
  fresh transaction (also rolled back) to find the rows it would have written; ON DELETE actions
  of the statements before it do not run there.
"""
from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from . import errors
from .ddl import significant, tokenize
from .findings import non_deferrable_cycles
from .keymatch import Reason, explain_key, fmt, sql_type
from .messages import parse_error
from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo
from .sqlite_codes import PROPAGATED, Kind, kind_of
from .sqlnames import quote
from .statements import ReplayAuthorizer, Script, Statement, StatementKind, authorizer_for_replay
from .violations import Violation, emulated_violations, foreign_key_violations, rollback

#: Broken references explained at most (all are counted in `violations_total`).
MAX_EXPLAINED = 50
#: Pre-existing violating rows remembered one by one (more are counted, not remembered).
MAX_REMEMBERED = 100_000
#: Pre-existing violating rows whose key values are remembered too (a statement may give one a new key).
MAX_VALUES_REMEMBERED = 1_000
_OWN = "fk_toolkit_replay"
_APP = "fk_toolkit_app"
_PROBE = "fk_toolkit_probe"
_CONTROL = frozenset({StatementKind.BEGIN, StatementKind.COMMIT, StatementKind.ROLLBACK})


class FailsAt(StrEnum):
    """When SQLite refuses the script's foreign keys."""

    STATEMENT = "statement"
    COMMIT = "commit"


@dataclass(frozen=True)
class BrokenReference:
    """One row the script leaves violating one foreign key."""

    table: str
    #: The rowid, or the primary key values (a tuple) of a WITHOUT ROWID row.
    rowid: Any
    key: int
    columns: tuple[str, ...]
    values: tuple[Any, ...]
    storage_classes: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]
    reason: Reason
    explanation: str
    on_delete: str
    on_update: str
    deferred: bool
    #: The 1-based statement that broke it; None when found at COMMIT.
    statement: int | None
    fails_at: FailsAt

    @property
    def when(self) -> str:
        """When SQLite refuses it, as every rendering says it: "statement 2" or "COMMIT"."""
        return f"statement {self.statement}" if self.statement else "COMMIT"

    @property
    def parent(self) -> str:
        return f"{self.parent_table}({', '.join(self.parent_columns)})"

    def to_dict(self) -> dict[str, Any]:
        rowid = list(self.rowid) if isinstance(self.rowid, tuple) else self.rowid
        return {"table": self.table, "rowid": rowid, "key": self.key, "columns": list(self.columns),
                "values": list(self.values), "parent_table": self.parent_table,
                "parent_columns": list(self.parent_columns), "reason": str(self.reason),
                "explanation": self.explanation, "on_delete": self.on_delete, "on_update": self.on_update,
                "deferred": self.deferred}


@dataclass(frozen=True)
class PreExisting:
    """Rows that violated a key before the script ran (not its doing)."""

    table: str
    key: int
    count: int


@dataclass(frozen=True)
class StatementSimulation:
    attempted: bool
    ok: bool
    error: str | None
    error_code: str | None
    fails_at: FailsAt | None
    failed_statement: int | None
    violations: tuple[BrokenReference, ...]
    violations_total: int
    pre_existing: tuple[PreExisting, ...]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"attempted": self.attempted, "ok": self.ok, "error": self.error,
                "fails_at": str(self.fails_at) if self.fails_at else None,
                "failed_statement": self.failed_statement,
                "violations": [v.to_dict() for v in self.violations],
                "violations_total": self.violations_total,
                "pre_existing": [{"table": p.table, "key": p.key, "count": p.count} for p in self.pre_existing]}


# --------------------------------------------------------------------------- rows foreign_key_check lists
Row = tuple[str, Any, int]  # table, rowid (None for WITHOUT ROWID), fk id


def _checked_rows(conn: sqlite3.Connection, info: DatabaseInfo) -> Iterator[Row]:
    """Every (table, rowid, fk id) SQLite's foreign_key_check lists, table by table (a table whose
    check SQLite refuses, for a broken declaration, has its healthy keys checked in SQL)."""
    for table in info.tables:
        if not table.foreign_keys or not _exists_now(conn, table.name):
            continue  # a table the script dropped has no rows left to check
        try:
            for _, rowid, _, fkid in conn.execute(f"PRAGMA foreign_key_check({quote(table.name)})"):
                yield table.name, rowid, fkid
        except sqlite3.OperationalError as exc:
            if kind_of(exc) in PROPAGATED:
                raise
            yield from _emulated_rows(conn, table)


def _emulated_rows(conn: sqlite3.Connection, table: TableInfo) -> Iterator[Row]:
    """foreign_key_check's rows for the healthy keys of a table SQLite refuses to check (another of
    its keys is broken, or the script dropped its parent table), found in SQL as diagnosis does;
    every row with a key is a violation of a key whose parent table the script dropped."""
    rowids: Iterator[Any]
    for fk in table.foreign_keys:
        if not fk.parent_table_exists or not fk.parent_key_unique:
            continue
        if table.without_rowid:
            rowids = iter(_without_rowid_rows(conn, table, fk, MAX_REMEMBERED))
        elif _exists_now(conn, fk.parent_table):
            rowids = emulated_violations(conn, table, fk)
        else:
            not_null = " AND ".join(f"{quote(c)} IS NOT NULL" for c in fk.columns)
            rowids = (r for (r,) in conn.execute(f"SELECT rowid FROM {quote(table.name)} WHERE {not_null}"))
        for rowid in rowids:
            yield table.name, rowid, fk.id


def _exists_now(conn: sqlite3.Connection, table: str) -> bool:
    """Whether the table is in the file now (the script may have dropped it since the schema was read)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                        (table,)).fetchone() is not None


@dataclass
class _Baseline:
    """What violated keys before: counts per (table, key), and the rows themselves up to a bound."""

    counts: dict[tuple[str, int], int] = field(default_factory=dict)
    rows: set[Row] = field(default_factory=set)
    #: The key values of the rows, when there are few enough (see `_with_values`).
    values: dict[Row, tuple[Any, ...]] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.counts[(row[0], row[2])] = self.counts.get((row[0], row[2]), 0) + 1
        if row[1] is not None and len(self.rows) < MAX_REMEMBERED:
            self.rows.add(row)


def _baseline(conn: sqlite3.Connection, info: DatabaseInfo) -> _Baseline:
    """The violating rows now.  foreign_key_check gives a WITHOUT ROWID row no rowid: those rows are
    remembered by their primary key (a tuple), found in SQL, so that one already there is told apart
    from one the script wrote; SQLite's check still gives the counts."""
    base = _Baseline()
    unkeyed: set[tuple[str, int]] = set()
    for row in _checked_rows(conn, info):
        base.add(row)
        if row[1] is None:
            unkeyed.add((row[0], row[2]))
    for name, fkid in sorted(unkeyed):
        table, fk = _fk(info, name, fkid)
        room = MAX_REMEMBERED - len(base.rows)
        base.rows |= {(name, pk, fkid) for pk in _without_rowid_rows(conn, table, fk, room)} if room > 0 else set()
    return base


def _with_values(conn: sqlite3.Connection, info: DatabaseInfo, base: _Baseline) -> _Baseline:
    """`base` with the key values of its rows, when there are at most MAX_VALUES_REMEMBERED: a row
    that violated before and that a statement gives another key that has no parent either is a new
    violation for SQLite (it counts the new key, and cannot count the old one off)."""
    if len(base.rows) <= MAX_VALUES_REMEMBERED:
        base.values = {r: _values_of(conn, info, r) for r in base.rows}
    return base


def _changed(a: _Baseline, b: _Baseline) -> int:
    """How many violating rows of `a` are not in `b`, or are there with another key (when `a` knows
    its rows' values)."""
    gone = sum(1 for r in a.rows if r not in b.rows)
    return gone + sum(1 for r, v in a.values.items() if r in b.rows and b.values.get(r, v) != v)


def _values_of(conn: sqlite3.Connection, info: DatabaseInfo, row: Row) -> tuple[Any, ...]:
    table, fk = _fk(info, row[0], row[2])
    return _key_values(conn, table, fk, row[1])


#: A schema with at most this many tables holding keys has the rows a failing statement writes
#: recorded (TEMP triggers), so its broken references are looked for among those rows instead of
#: by checking every table again: on a large file that second check costs as much as the first.
MAX_CAPTURED_TABLES = 64
_WRITTEN = "fk_toolkit_written"


@dataclass
class _Capture:
    """What one statement writes, recorded by TEMP triggers: they live in the connection's temp
    schema (never in the copy's file) and are created inside the probe's savepoint, so rolling it
    back removes them.  A child table's new or re-keyed rows are recorded by rowid; a child table
    that loses rows or cannot be followed row by row (WITHOUT ROWID, or every rowid alias taken by
    a column), and the children of a parent table whose rows were deleted or re-keyed, are checked whole."""

    children: list[TableInfo]
    parents: list[str]

    @classmethod
    def install(cls, conn: sqlite3.Connection, info: DatabaseInfo, st: Statement) -> _Capture | None:
        """The capture, for an INSERT or UPDATE whose deletes all fire triggers: DROP TABLE's implicit
        DELETE, and the deletes of a REPLACE (in the statement, a trigger, or a table's conflict
        clause), fire none, so then nothing is captured and every table is checked."""
        children = [t for t in info.tables if t.foreign_keys]
        if not children or len(children) > MAX_CAPTURED_TABLES or st.kind not in (StatementKind.INSERT,
                                                                                    StatementKind.UPDATE):
            return None
        texts = [st.sql, *(t.sql or "" for t in info.triggers), *(t.sql or "" for t in info.tables)]
        try:
            if any(tok.kind == "word" and tok.text.lower() == "replace" for text in texts for tok in tokenize(text)):
                return None
        except ValueError:
            return None
        parents = sorted({fk.parent_table.lower() for t in children for fk in t.foreign_keys
                          if info.table(fk.parent_table) is not None})
        try:
            cls._create(conn, children, parents)
        except sqlite3.Error as exc:  # a parent SQLite puts no trigger on (a virtual or shadow table)
            if kind_of(exc) in PROPAGATED:
                raise
            return None  # what was created goes with the probe's savepoint; every table is checked
        return cls(children, parents)

    @staticmethod
    def _create(conn: sqlite3.Connection, children: list[TableInfo], parents: list[str]) -> None:
        conn.execute(f"CREATE TEMP TABLE {_WRITTEN} (tbl INTEGER, rid)")
        for i, t in enumerate(children):
            taken = {c.name.lower() for c in t.columns}
            alias = None if t.without_rowid else next((a for a in ("rowid", "_rowid_", "oid") if a not in taken), None)
            rid = f"NEW.{alias}" if alias else "NULL"
            # a deleted child row takes its violation with it: its table is counted again whole
            for event, row in (("INSERT", rid), ("UPDATE", rid), ("DELETE", "NULL")):
                conn.execute(f"CREATE TEMP TRIGGER fk_toolkit_w{i}_{event[0]} AFTER {event} ON main.{quote(t.name)} "
                             f"BEGIN INSERT INTO {_WRITTEN} VALUES ({i}, {row}); END")
        for j, name in enumerate(parents):
            for event in ("DELETE", "UPDATE"):
                conn.execute(f"CREATE TEMP TRIGGER fk_toolkit_p{j}_{event[0]} AFTER {event} ON main.{quote(name)} "
                             f"BEGIN INSERT INTO {_WRITTEN} VALUES ({-1 - j}, NULL); END")

    def changes(self, conn: sqlite3.Connection) -> tuple[dict[str, set[Any]], set[str]]:
        """The rowids written per child table, and the tables to check whole."""
        rows: dict[str, set[Any]] = {}
        whole: set[str] = set()
        touched_parents: set[str] = set()
        for tbl, rid in conn.execute(f"SELECT DISTINCT tbl, rid FROM temp.{_WRITTEN}"):
            if tbl < 0:
                touched_parents.add(self.parents[-1 - tbl])
            elif rid is None:
                whole.add(self.children[tbl].name)
            else:
                rows.setdefault(self.children[tbl].name, set()).add(rid)
        whole |= {t.name for t in self.children
                  if any(fk.parent_table.lower() in touched_parents for fk in t.foreign_keys)}
        return rows, whole


def _captured_rows(conn: sqlite3.Connection, info: DatabaseInfo, base: _Baseline,
                   written: dict[str, set[Any]], whole: set[str]) -> _Baseline:
    """What `_baseline` would list now, when only the `written` rows and the `whole` tables can
    have changed: every other table's violations are the baseline's.  A table whose baseline rows
    were not all remembered, or whose keys SQLite cannot check, is checked whole."""
    now = _Baseline()
    remembered: dict[tuple[str, int], int] = {}
    for r in base.rows:
        remembered[(r[0], r[2])] = remembered.get((r[0], r[2]), 0) + 1
    for table in info.tables:
        if not table.foreign_keys:
            continue
        written_rows = written.get(table.name, set())
        kept = [(k, n) for k, n in base.counts.items() if k[0] == table.name]
        exact = all(remembered.get(k, 0) == n for k, n in kept)
        if table.name in whole or not exact or (written_rows and any(
                not fk.parent_table_exists or not fk.parent_key_unique for fk in table.foreign_keys)):
            for row in _checked_rows(conn, dataclasses.replace(info, tables=[table])):
                now.add(row)
            continue
        old = {r for r in base.rows if r[0] == table.name}
        for fk in table.foreign_keys:
            if not written_rows:
                continue
            violating = set(emulated_violations(conn, table, fk, only=written_rows))
            old = {r for r in old if r[2] != fk.id or r[1] not in written_rows or r[1] in violating}
            old |= {(table.name, rowid, fk.id) for rowid in violating}
        for row in old:
            now.add(row)
    return now


def _new_rows(conn: sqlite3.Connection, info: DatabaseInfo, base: _Baseline, now: _Baseline | None = None, *,
              deferred_only: bool = False) -> tuple[list[Row], int]:
    """The violating rows that were not there in `base`, or held another key there (MAX_EXPLAINED at
    most), and how many there are.  SQLite's count of broken references never goes below zero: an
    old violation the script fixes does not make up for a new one, so every new row counts.
    `now`: the violating rows now, when the caller found them another way (see `_Capture`).
    `deferred_only`: only DEFERRABLE INITIALLY DEFERRED keys count (at a COMMIT without
    defer_foreign_keys, SQLite judged every immediate key at its statement's end already)."""
    now = _baseline(conn, info) if now is None else now

    def counted(table: str, fkid: int) -> bool:
        return not deferred_only or _fk(info, table, fkid)[1].deferred

    listed = [r for r in now.rows if counted(r[0], r[2]) and (
        r not in base.rows or (r in base.values and _values_of(conn, info, r) != base.values[r]))]
    total = max(sum(max(0, n - base.counts.get(k, 0)) for k, n in now.counts.items() if counted(*k)), len(listed))
    listed.sort(key=lambda r: (r[0], r[2], str(r[1])))
    return listed[:MAX_EXPLAINED], total


# --------------------------------------------------------------------------- one row explained
def _fk(info: DatabaseInfo, table: str, fkid: int) -> tuple[TableInfo, ForeignKeyInfo]:
    t = info.table(table)
    assert t is not None  # the row came from this schema's own check
    return t, next(fk for fk in t.foreign_keys if fk.id == fkid)


def _key_values(conn: sqlite3.Connection, table: TableInfo, fk: ForeignKeyInfo, rowid: Any) -> tuple[Any, ...]:
    """The key of the row with this rowid, or of the WITHOUT ROWID row with this primary key (a tuple)."""
    cols = ", ".join(quote(c) for c in fk.columns)
    keyed = isinstance(rowid, tuple)
    where = " AND ".join(f"{quote(c)} = ?" for c in table.primary_key) if keyed else "rowid = ?"
    row = conn.execute(f"SELECT {cols} FROM {quote(table.name)} WHERE {where}", rowid if keyed else (rowid,)
                       ).fetchone()
    return tuple(row) if row else tuple(None for _ in fk.columns)


def _without_rowid_rows(conn: sqlite3.Connection, table: TableInfo, fk: ForeignKeyInfo, limit: int
                        ) -> list[tuple[Any, ...]]:
    """The primary keys of WITHOUT ROWID rows with no parent (foreign_key_check gives no rowid
    there), `limit` at most, found in SQL."""
    pk = table.primary_key
    not_null = " AND ".join(f"c.{quote(c)} IS NOT NULL" for c in fk.columns)
    # `+c.col` has no affinity: the comparison applies the parent column's affinity and collation to
    # the child value, as SQLite's key check does (`p.col = c.col` would make a TEXT parent's '01581'
    # a number to meet an INTEGER child's 1581)
    match = " AND ".join(f"p.{quote(pc)} = +c.{quote(cc)}"
                         for cc, pc in zip(fk.columns, fk.parent_columns, strict=True))
    picked = ", ".join(f"c.{quote(c)}" for c in pk)
    orphan = (f" AND NOT EXISTS (SELECT 1 FROM {quote(fk.parent_table)} AS p WHERE {match})"
              if _exists_now(conn, fk.parent_table) else "")  # else the script dropped the parent table
    sql = f"SELECT {picked} FROM {quote(table.name)} AS c WHERE {not_null}{orphan} LIMIT ?"
    return [tuple(r) for r in conn.execute(sql, (limit,))]


@dataclass(frozen=True)
class _Found:
    """A violating row read inside the transaction: where, which key, its key values."""

    table: TableInfo
    fk: ForeignKeyInfo
    rowid: Any
    values: tuple[Any, ...]


def _read(conn: sqlite3.Connection, info: DatabaseInfo, rows: list[Row]) -> list[_Found]:
    found: list[_Found] = []
    for table_name, rowid, fkid in rows[:MAX_EXPLAINED]:
        table, fk = _fk(info, table_name, fkid)
        found.append(_Found(table, fk, rowid, _key_values(conn, table, fk, rowid)))
    return found


def _broken(conn: sqlite3.Connection, info: DatabaseInfo, f: _Found, statement: int | None, fails_at: FailsAt,
            reason: Reason | None = None, explanation: str = "") -> BrokenReference:
    verdict = explain_key(conn, info, f.table.name, f.fk, f.values)
    return BrokenReference(
        f.table.name, f.rowid, f.fk.id, tuple(f.fk.columns), verdict.values,
        tuple(sql_type(v) for v in verdict.values), f.fk.parent_table, tuple(f.fk.parent_columns),
        reason or verdict.reason, explanation or verdict.explanation, f.fk.on_delete, f.fk.on_update,
        f.fk.deferred, statement, fails_at)


# --------------------------------------------------------------------------- the replay
class _Failure(Exception):
    """The replay stops here: the simulation's answer is ready."""

    def __init__(self, simulation: StatementSimulation) -> None:
        super().__init__(simulation.summary)
        self.simulation = simulation


@dataclass
class _Run:
    conn: sqlite3.Connection
    info: DatabaseInfo
    script: Script
    source: str
    auth: ReplayAuthorizer
    base: _Baseline
    pre: tuple[PreExisting, ...]
    app_open: bool = False
    own_open: bool = False
    #: defer_foreign_keys was turned on since the last (app) COMMIT.
    deferring: bool = False
    #: The app's open savepoints, outermost first; `by_savepoint`: its transaction began with one
    #: (no BEGIN), so releasing the outermost commits it.
    savepoints: list[str] = field(default_factory=list)
    by_savepoint: bool = False
    #: References SQLite counted as broken when a DROP TABLE of the transaction deleted their
    #: parent rows: the count stays until COMMIT, whatever table takes the name afterwards.
    dropped: list[_Found] = field(default_factory=list)
    dropped_by: Statement | None = None
    #: SQLite's count of broken deferred references in the open transaction, followed statement by
    #: statement when the file had violations before (see `track`), and the rows after the last one.
    counter: int = 0
    last: _Baseline | None = None

    # ---- helpers
    def sim(self, ok: bool, summary: str, *, error: str | None = None, code: str | None = None,
            fails_at: FailsAt | None = None, failed: int | None = None,
            violations: tuple[BrokenReference, ...] = (), total: int = 0) -> StatementSimulation:
        return StatementSimulation(True, ok, error, code, fails_at, failed, violations, total, self.pre, summary)

    def begin_own(self) -> None:
        if not self.own_open:
            self.conn.execute("BEGIN")
            self.conn.execute(f"SAVEPOINT {_OWN}")
            self.own_open = True

    # ---- the app's transaction control, kept inside the replay's own transaction
    def control(self, st: Statement) -> None:
        if st.kind is StatementKind.BEGIN:
            self.begin_own()
            self.conn.execute(f"SAVEPOINT {_APP}")
            self.app_open = True
        elif st.kind is StatementKind.COMMIT:
            self.commit(st)
        elif self.app_open:  # ROLLBACK
            self.conn.execute(f"ROLLBACK TO {_APP}")
            self.end_app()

    def end_app(self, st: Statement | None = None) -> None:
        if self.by_savepoint and st is not None and st.kind is StatementKind.RELEASE:
            self.conn.execute(st.sql)
        else:
            self.conn.execute(f"RELEASE {_APP}")
        self.conn.execute("PRAGMA defer_foreign_keys = OFF")
        self.app_open = self.deferring = self.by_savepoint = False
        self.savepoints.clear()
        self.dropped.clear()
        self.counter, self.last = 0, None

    def savepoint(self, st: Statement) -> None:
        """The app's SAVEPOINT, RELEASE and ROLLBACK TO, run inside the replay's transaction; the
        RELEASE of an outermost savepoint that began the transaction is its COMMIT."""
        self.begin_own()
        name = _savepoint_name(st)
        if st.kind is StatementKind.SAVEPOINT:
            if not self.app_open:
                self.app_open = self.by_savepoint = True
            self.conn.execute(st.sql)
            self.savepoints.append(name)
            return
        if name not in self.savepoints:
            self.conn.execute(st.sql)  # SQLite's own error: no such savepoint
            return
        at = len(self.savepoints) - 1 - self.savepoints[::-1].index(name)
        if st.kind is StatementKind.RELEASE and at == 0 and self.by_savepoint:
            self.commit(st)
            return
        self.conn.execute(st.sql)
        del self.savepoints[at + (st.kind is StatementKind.ROLLBACK_TO):]

    def pending_possible(self) -> bool:
        """Whether COMMIT can find a key unsatisfied: keys are on (the script may have turned them
        off before its first write), and some key is deferred or defer_foreign_keys was on; else
        every key was checked at its statement's end, and the check of the whole file is skipped."""
        if not self.conn.execute("PRAGMA foreign_keys").fetchone()[0]:
            return False
        return self.deferring or any(fk.deferred for t in self.info.tables for fk in t.foreign_keys)

    def commit(self, st: Statement | None) -> None:
        """What the app's COMMIT (or a statement's own autocommit) would refuse, or its release."""
        if self.own_open and self.pending_possible():
            rows, total = _new_rows(self.conn, self.info, self.base, deferred_only=not self.deferring)
            if self.base.counts and self.last is not None and self.counter == 0:
                total = 0  # SQLite's count: what the script fixed made up for what it broke (see track)
            if total:
                found = _read(self.conn, self.info, rows)
                broken = self.removed_parents(st, tuple(_broken(self.conn, self.info, f, None, FailsAt.COMMIT)
                                                        for f in found))
                where = _when_committed(st)
                raise _Failure(self.sim(False, _commit_summary(broken, total, where),
                                        error="FOREIGN KEY constraint failed", code="SQLITE_CONSTRAINT_FOREIGNKEY",
                                        fails_at=FailsAt.COMMIT, failed=st.number if st else None,
                                        violations=broken, total=total))
            if self.dropped:
                raise _Failure(self.counted_at_drop(st))
        if self.app_open:
            self.end_app(st)
        elif self.own_open:
            self.conn.execute("PRAGMA defer_foreign_keys = OFF")
            self.deferring = False
            self.dropped.clear()
            self.counter, self.last = 0, None

    def track(self) -> None:
        """Follow SQLite's count of broken deferred references after a statement, in a file that had
        violations before: the count is not the rows that violate at COMMIT.  Each reference the
        statement fixed counts one off while the count is above zero (an old violation fixed first
        counts nothing off), then each one it broke counts one on (fkey.c: OP_FkIfZero before each
        decrement).  Rows are compared statement by statement, fixes first."""
        if not (self.base.counts and self.own_open and self.pending_possible()):
            return
        before = self.last or self.base
        now = _with_values(self.conn, self.info, _baseline(self.conn, self.info))
        fixed, broke = _changed(before, now), _changed(now, before)
        self.counter = max(0, self.counter - fixed) + broke
        self.last = now

    def counted_at_drop(self, st: Statement | None) -> StatementSimulation:
        """COMMIT fails though every row has its parent now: a DROP TABLE of the transaction (a table
        rebuild run with foreign keys on) deleted parent rows that deferred keys reference, and SQLite
        counts those references as broken until COMMIT, even once another table takes the name."""
        drop = self.dropped_by
        assert drop is not None  # set with `dropped`
        broken = tuple(_broken(self.conn, self.info, f, None, FailsAt.COMMIT, Reason.PARENT_DELETED,
                               _counted_sentence(drop, f)) for f in self.dropped[:MAX_EXPLAINED])
        summary = (f"The script fails {_when_committed(st)} with FOREIGN KEY constraint failed, though every row "
                   f"has its parent by then: statement {drop.number} ({drop.beginning}) deleted rows that deferred "
                   f"keys reference ({_counted(broken, len(self.dropped))}), and SQLite keeps counting those "
                   "references as broken until COMMIT, whatever table takes the name afterwards. Rebuild a table "
                   "with PRAGMA foreign_keys = OFF before BEGIN (then PRAGMA foreign_key_check before COMMIT), as "
                   "SQLite's ALTER TABLE documentation says.")
        return self.sim(False, summary, error="FOREIGN KEY constraint failed", code="SQLITE_CONSTRAINT_FOREIGNKEY",
                        fails_at=FailsAt.COMMIT, failed=st.number if st else None, violations=broken,
                        total=len(self.dropped))

    def before_drop(self, st: Statement) -> None:
        """Remember the references a DROP TABLE's implicit DELETE will leave counted as broken:
        child rows of deferred NO ACTION / RESTRICT keys whose parent row the table holds (CASCADE
        and SET NULL run instead)."""
        tokens = significant(tokenize(st.sql))
        if len(tokens) < 3 or tokens[1].name.lower() != "table" or not self.conn.execute("PRAGMA foreign_keys"
                                                                                          ).fetchone()[0]:
            return
        dropped = tokens[-1].name.lower()
        found = [f for t in self.info.tables for fk in t.foreign_keys
                 if fk.parent_table.lower() == dropped and (fk.deferred or self.deferring)
                 and fk.on_delete.upper() in ("NO ACTION", "RESTRICT") and _exists_now(self.conn, t.name)
                 for f in _children_of(self.conn, t, fk)]
        if found:
            self.dropped += found
            self.dropped_by = st

    # ---- one statement
    def run(self, st: Statement) -> None:
        if st.kind in _CONTROL:
            self.control(st)
            return
        if st.kind is not StatementKind.PRAGMA:
            self.begin_own()
        self.auth.reset()
        try:
            if st.kind in _SAVEPOINTS:
                self.savepoint(st)
                return
            if st.kind is StatementKind.DROP:
                self.before_drop(st)
            self.conn.execute(st.sql, st.params).fetchall()
        except sqlite3.Error as exc:
            self.failed(st, exc)
        if st.writes:
            self.track()
        if st.pragma == "defer_foreign_keys" and self.conn.execute("PRAGMA defer_foreign_keys").fetchone()[0]:
            self.deferring = True
        if not self.app_open and st.writes:
            self.commit(st)

    def failed(self, st: Statement, exc: sqlite3.Error) -> None:
        refused = self.auth.refusal(st, self.source)
        if refused is not None:
            raise refused from None
        kind = kind_of(exc)
        if kind in PROPAGATED:
            raise exc
        code = getattr(exc, "sqlite_errorname", None)
        if kind is Kind.CONSTRAINT_FOREIGNKEY:
            raise _Failure(self.immediate(st, str(exc), code) or self.sim(
                False, _restrict_summary(st, self.info), error=str(exc), code=code, fails_at=FailsAt.STATEMENT,
                failed=st.number))
        if code == _RESTRICT_CODE and _restrict_possible(self.info, st):
            # SQLite runs RESTRICT as a trigger program: its failure has a trigger's code, as a
            # RAISE(ABORT) has.  Deferred, a RESTRICT key waits for COMMIT and a RAISE still fails.
            answer = self.immediate(st, str(exc), code)
            if answer is not None:
                raise _Failure(answer)
        declared = _broken_declarations(self.info) if kind is Kind.ERROR else []
        answer = self.declaration(st, str(exc), code, declared) if declared else None
        if answer is not None:
            raise _Failure(answer)
        raise _Failure(self.sim(False, _other_summary(st, str(exc), code, self.info), error=str(exc), code=code,
                                failed=st.number))

    def immediate(self, st: Statement, error: str, code: str | None) -> StatementSimulation | None:
        """Statement N broke an immediate key: run it again deferred, in a savepoint, to name the rows
        (None when it fails deferred too)."""
        conn = self.conn
        # rows left pending by earlier statements of the transaction are not this statement's doing
        seen = _with_values(conn, self.info, _baseline(conn, self.info)) if self.pending_possible() else self.base
        conn.execute(f"SAVEPOINT {_PROBE}")
        try:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            capture = _Capture.install(conn, self.info, st) if seen is self.base else None
            try:
                conn.execute(st.sql, st.params).fetchall()
            except sqlite3.Error as exc:
                if kind_of(exc) in PROPAGATED:
                    raise
                return None
            now = _captured_rows(conn, self.info, seen, *capture.changes(conn)) if capture else None
            rows, total = _new_rows(conn, self.info, seen, now)
            found = _read(conn, self.info, rows)
            after = [_broken(conn, self.info, f, st.number, FailsAt.STATEMENT) for f in found]
        finally:
            conn.execute(f"ROLLBACK TO {_PROBE}")
            conn.execute(f"RELEASE {_PROBE}")
            conn.execute("PRAGMA defer_foreign_keys = OFF")
        broken = tuple(self.parent_side(st, b) for b in after)
        return self.sim(False, _immediate_summary(st, broken, total, self.info), error=error, code=code,
                        fails_at=FailsAt.STATEMENT, failed=st.number, violations=broken, total=total)

    def parent_side(self, st: Statement, b: BrokenReference) -> BrokenReference:
        """A child whose parent the statement removed or re-keyed (its key existed before it)."""
        if st.kind not in (StatementKind.DELETE, StatementKind.UPDATE, StatementKind.REPLACE, StatementKind.DROP):
            return b
        if not self.parent_found(b):
            return b
        return _parent_gone(b, st)

    def parent_found(self, b: BrokenReference) -> bool:
        table, fk = _fk(self.info, b.table, b.key)
        return explain_key(self.conn, self.info, table.name, fk, b.values).ok

    def removed_parents(self, st: Statement | None, broken: tuple[BrokenReference, ...]
                        ) -> tuple[BrokenReference, ...]:
        """At COMMIT, a parent missing now that was there before the script is one the script deleted
        or re-keyed: which statement did it is found by running the script's writes again from its
        start, deferred, until the key is gone.  The answer is final once COMMIT fails, so the
        replay's state may go: everything is rolled back after it anyway."""
        if not any(b.reason is Reason.MISSING_ROW for b in broken):
            return broken
        self.conn.execute(f"ROLLBACK TO {_OWN}")
        gone = {i for i, b in enumerate(broken) if b.reason is Reason.MISSING_ROW and self.parent_found(b)}
        upto = st.number if st is not None else len(self.script.statements)
        culprits = self.culprits(self.script.statements[:upto], {i: broken[i] for i in gone})
        return tuple(_parent_gone(b, culprits.get(i)) if i in gone else b for i, b in enumerate(broken))

    def culprits(self, statements: tuple[Statement, ...], keys: dict[int, BrokenReference]) -> dict[int, Statement]:
        """The first statement after which each key has no parent (none are named when the script
        rolls back part of its work: running its writes again in order would not be what it did)."""
        if not keys or any(s.kind in (StatementKind.ROLLBACK, StatementKind.ROLLBACK_TO) for s in statements):
            return {}
        self.conn.execute("PRAGMA defer_foreign_keys = ON")
        found: dict[int, Statement] = {}
        for s in statements:
            if s.kind in _NOT_REPLAYED_AGAIN:
                continue
            try:
                self.conn.execute(s.sql, s.params).fetchall()
            except sqlite3.Error as exc:
                if kind_of(exc) in PROPAGATED:
                    raise
                break
            found |= {i: s for i, b in keys.items() if i not in found and not self.parent_found(b)}
            if len(found) == len(keys):
                break
        return found

    def declaration(self, st: Statement, error: str, code: str | None,
                    declared: list[tuple[TableInfo, ForeignKeyInfo]]) -> StatementSimulation | None:
        """A statement SQLite refused before any row for a broken declaration of a table it writes (as
        child, or as the parent of a non-unique key): the rows it would write, found with keys OFF.
        None when the statement fails with keys off too, or writes no such table."""
        ran = _run_without_keys(self.conn, self.auth, self.script, st, declared)
        if ran is None:
            return None
        written, found = ran
        declared = [(t, fk) for t, fk in declared if t.name.lower() in written
                    or (fk.parent_table_exists and fk.parent_table.lower() in written)]
        if not declared:
            return None
        broken = tuple(_broken(self.conn, self.info, f, st.number, FailsAt.STATEMENT) for f in found)
        names = "; ".join(f"{t.name}({', '.join(fk.columns)}) REFERENCES {fk.parent_table}"
                          f"({', '.join(fk.parent_columns)})" for t, fk in declared)
        summary = (f"Statement {st.number} is refused by SQLite before it writes any row ({error}): the "
                   f"declaration {names} is broken, so SQLite refuses every write it checks until it is fixed.")
        return self.sim(False, summary, error=error, code=code, fails_at=FailsAt.STATEMENT, failed=st.number,
                        violations=broken, total=len(broken))


_RESTRICT_CODE = "SQLITE_CONSTRAINT_TRIGGER"


def _children_of(conn: sqlite3.Connection, table: TableInfo, fk: ForeignKeyInfo) -> list[_Found]:
    """The rows of `table` whose key `fk` finds its parent row now (MAX_EXPLAINED at most)."""
    if not _exists_now(conn, fk.parent_table):
        return []
    where = " AND ".join(f"p.{quote(pc)} = +c.{quote(cc)}" for cc, pc in zip(fk.columns, fk.parent_columns,
                                                                            strict=True))
    ident = [quote(c) for c in table.primary_key] if table.without_rowid else ["rowid"]
    picked = ", ".join(f"c.{c}" for c in [*ident, *(quote(c) for c in fk.columns)])
    sql = (f"SELECT {picked} FROM {quote(table.name)} AS c WHERE EXISTS (SELECT 1 FROM {quote(fk.parent_table)} "
           f"AS p WHERE {where}) LIMIT {MAX_EXPLAINED}")
    n = len(ident)
    return [_Found(table, fk, tuple(r[:n]) if table.without_rowid else r[0], tuple(r[n:])) for r in conn.execute(sql)]


def _counted_sentence(drop: Statement, f: _Found) -> str:
    values = ", ".join(fmt(v) for v in f.values)
    return (f"Statement {drop.number} ({drop.beginning}) deleted the {f.fk.parent_table} row with "
            f"({', '.join(f.fk.parent_columns)}) = ({values}), which this {f.table.name} row references: SQLite "
            "counted the reference as broken then, and a table that takes the name later does not undo the count.")


def _parent_gone(b: BrokenReference, st: Statement | None) -> BrokenReference:
    """`b` as a reference whose parent row statement `st` deleted or re-keyed (None: a statement
    of the script that cannot be named did)."""
    changed = st is not None and st.kind is StatementKind.UPDATE
    reason = Reason.PARENT_KEY_CHANGED if changed else Reason.PARENT_DELETED
    action = f"ON UPDATE {b.on_update}" if changed else f"ON DELETE {b.on_delete}"
    row = f"the {b.parent_table} row with ({', '.join(b.parent_columns)}) = ({', '.join(fmt(v) for v in b.values)})"
    if st is None:
        text = (f"The script deleted {row}, or changed its key, which this {b.table} row still references "
                f"({action}).")
    else:
        text = (f"Statement {st.number} {'changed the key of' if changed else 'deleted'} {row}, which this "
                f"{b.table} row still references ({action}).")
    return dataclasses.replace(b, reason=reason, explanation=text)
_SAVEPOINTS = frozenset({StatementKind.SAVEPOINT, StatementKind.RELEASE, StatementKind.ROLLBACK_TO})


def _savepoint_name(st: Statement) -> str:
    """The savepoint a SAVEPOINT, RELEASE [SAVEPOINT] or ROLLBACK [TRANSACTION] TO [SAVEPOINT] names
    (its last word; SQLite compares them without case)."""
    tokens = significant(tokenize(st.sql))
    return tokens[-1].name.lower() if tokens else ""


def _when_committed(st: Statement | None) -> str:
    if st is None or st.kind is StatementKind.COMMIT:
        return "at COMMIT"
    if st.kind is StatementKind.RELEASE:
        return f"at statement {st.number}, the RELEASE that commits its transaction"
    return f"when statement {st.number} commits on its own"


def _restrict_possible(info: DatabaseInfo, st: Statement) -> bool:
    """Whether the statement can hit a RESTRICT key: a DELETE (or REPLACE) and ON DELETE RESTRICT,
    an UPDATE and ON UPDATE RESTRICT."""
    deleting = st.kind in (StatementKind.DELETE, StatementKind.REPLACE, StatementKind.INSERT)
    updating = st.kind is StatementKind.UPDATE
    return any((deleting and fk.on_delete.upper() == "RESTRICT") or (updating and fk.on_update.upper() == "RESTRICT")
               for t in info.tables for fk in t.foreign_keys)


def _broken_declarations(info: DatabaseInfo) -> list[tuple[TableInfo, ForeignKeyInfo]]:
    return [(t, fk) for t in info.tables for fk in t.foreign_keys
            if not fk.parent_table_exists or not fk.parent_key_unique]


class _Writes:
    """An authorizer that records the tables a statement writes (its triggers' too) and passes
    every action on to the replay's own."""

    def __init__(self, inner: ReplayAuthorizer) -> None:
        self.inner = inner
        self.tables: set[str] = set()

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE) and arg1:
            self.tables.add(arg1.lower())
        return self.inner(action, arg1, arg2, db, source)


_NOT_REPLAYED_AGAIN = frozenset({*_CONTROL, StatementKind.PRAGMA, StatementKind.ROLLBACK_TO, StatementKind.SAVEPOINT,
                                 StatementKind.RELEASE})


def _run_without_keys(conn: sqlite3.Connection, auth: ReplayAuthorizer, script: Script, st: Statement,
                      declared: list[tuple[TableInfo, ForeignKeyInfo]]) -> tuple[set[str], list[_Found]] | None:
    """Statement `st` run with keys OFF, after the statements before it, in a fresh transaction
    that is rolled back: the tables it writes, and the rows it writes into a table with a broken
    declaration.  None when it fails with keys off too (then the declaration is not the cause)."""
    rollback(conn)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN")
    writes = _Writes(auth)
    try:
        for earlier in script.statements[:st.number - 1]:
            if earlier.kind not in _NOT_REPLAYED_AGAIN:
                conn.execute(earlier.sql, earlier.params).fetchall()
        tables = {t.name: t for t, _ in declared if not t.without_rowid}
        highest = {n: conn.execute(f"SELECT max(rowid) FROM {quote(n)}").fetchone()[0] or 0 for n in tables}
        conn.set_authorizer(writes)
        conn.execute(st.sql, st.params).fetchall()
        conn.set_authorizer(auth)
        found: list[_Found] = []
        for t, fk in declared:
            if t.name not in tables or t.name.lower() not in writes.tables:
                continue
            cols = ", ".join(quote(c) for c in fk.columns)
            for rowid, *vals in conn.execute(f"SELECT rowid, {cols} FROM {quote(t.name)} WHERE rowid > ? "
                                             f"ORDER BY rowid LIMIT {MAX_EXPLAINED}", (highest[t.name],)):
                found.append(_Found(t, fk, rowid, tuple(vals)))
        return writes.tables, found[:MAX_EXPLAINED]
    except sqlite3.Error as exc:
        if kind_of(exc) in PROPAGATED:
            raise
        return None
    finally:
        conn.set_authorizer(auth)
        rollback(conn)


# --------------------------------------------------------------------------- sentences
def _counted(broken: tuple[BrokenReference, ...], total: int) -> str:
    # one row can break several of its keys: rows are counted once each
    per: dict[str, set[Any]] = {}
    for b in broken:
        per.setdefault(b.table, set()).add(b.rowid)
    more = " among those explained" if total > len(broken) else ""
    shown = ", ".join(f"{len(rows)} row{'s' if len(rows) != 1 else ''} of {t}" for t, rows in per.items()) + more
    return f"{total} reference{'s' if total != 1 else ''} broken ({shown})" if shown else f"{total} broken"


def _commit_summary(broken: tuple[BrokenReference, ...], total: int, where: str) -> str:
    return (f"The script fails {where} with FOREIGN KEY constraint failed: deferred keys leave "
            f"{_counted(broken, total)}.")


def _immediate_summary(st: Statement, broken: tuple[BrokenReference, ...], total: int, info: DatabaseInfo) -> str:
    sentence = (f"Statement {st.number} ({st.beginning}) fails with FOREIGN KEY constraint failed: "
                f"{_counted(broken, total)}.")
    if st.kind in (StatementKind.INSERT, StatementKind.REPLACE):
        in_cycles = {name for finding in non_deferrable_cycles(info) for name in finding.examples}
        if any(b.parent_table in in_cycles and b.table in in_cycles for b in broken):
            sentence += (" Its tables reference each other through keys that are not deferrable: run "
                         "PRAGMA defer_foreign_keys = ON inside the transaction (after BEGIN).")
    return sentence


def _restrict_summary(st: Statement, info: DatabaseInfo) -> str:
    keys = [f"{t.name}({', '.join(fk.columns)})" for t in info.tables for fk in t.foreign_keys
            if "RESTRICT" in (fk.on_delete.upper(), fk.on_update.upper())]
    return (f"Statement {st.number} ({st.beginning}) fails with FOREIGN KEY constraint failed on a key "
            f"declared RESTRICT, which SQLite checks at once even when keys are deferred: children still "
            f"reference the rows it changes ({', '.join(keys) or 'no RESTRICT key found'}).")


def _other_summary(st: Statement, error: str, code: str | None, info: DatabaseInfo) -> str:
    keys = _set_null_keys(info, st, error) if code == "SQLITE_CONSTRAINT_NOTNULL" else []
    if not keys:
        return (f"Statement {st.number} ({st.beginning}) fails with {error} ({code or 'no code'}), which is not a "
                "foreign-key problem.")
    action = "UPDATE" if st.kind is StatementKind.UPDATE else "DELETE"
    return (f"Statement {st.number} ({st.beginning}) fails with {error} ({code}): the key {'; '.join(keys)} is "
            f"declared ON {action} SET NULL, and SQLite cannot set a NOT NULL column to NULL in the rows that "
            f"reference the rows the statement {'re-keys' if action == 'UPDATE' else 'deletes'}: declare the column "
            f"nullable, or the key ON {action} CASCADE or RESTRICT.")


def _set_null_keys(info: DatabaseInfo, st: Statement, error: str) -> list[str]:
    """The keys whose SET NULL action the statement ran on the NOT NULL column the error names."""
    if st.kind not in (StatementKind.DELETE, StatementKind.UPDATE, StatementKind.REPLACE, StatementKind.DROP):
        return []
    named = {c.lower() for c in parse_error(error).columns}
    updating = st.kind is StatementKind.UPDATE
    return [f"{t.name}({', '.join(fk.columns)}) REFERENCES {fk.parent_table}({', '.join(fk.parent_columns)})"
            for t in info.tables for fk in t.foreign_keys
            if (fk.on_update if updating else fk.on_delete).upper() == "SET NULL"
            and any(f"{t.name}.{c}".lower() in named for c in fk.columns)]


# --------------------------------------------------------------------------- entry point
def replay(conn: sqlite3.Connection, info: DatabaseInfo, script: Script, source: str, *,
           before: list[Violation] | None = None) -> StatementSimulation:
    """Replay `script` on `conn` (a guarded connection to the WORK COPY, never the original) and
    say which references it breaks, and when.  Everything is rolled back and `foreign_keys`
    restored, whatever happens; a refused statement raises errors.RefusedStatementError (exit 2).
    `before`: the file's violations as `foreign_key_violations` listed them on this connection, when
    the caller has them already (one pass over a large file, not two)."""
    if conn.in_transaction:
        raise errors.ToolkitError("replay needs a connection outside any transaction")
    violations = foreign_key_violations(conn, info)[0] if before is None else before
    pre = tuple(PreExisting(v.table, v.fk.id, v.count) for v in violations)
    (keys_were,) = conn.execute("PRAGMA foreign_keys").fetchone()
    inner = getattr(conn, "authorizer", None)
    auth = authorizer_for_replay(inner)
    # a healthy file (the usual case) needs no second pass to remember its violating rows
    base = _with_values(conn, info, _baseline(conn, info)) if violations else _Baseline()
    run = _Run(conn, info, script, source, auth, base, pre)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.set_authorizer(auth)
    try:
        for st in script.statements:
            run.run(st)
        summary = f"SQLite accepts the {len(script.statements)} statement(s) with foreign keys on."
        if run.app_open:
            summary += " The script ends inside its transaction, so no COMMIT checked its deferred keys."
        return run.sim(True, summary)
    except _Failure as failure:
        return failure.simulation
    finally:
        conn.set_authorizer(inner)
        _restore(conn, bool(keys_were))


def _restore(conn: sqlite3.Connection, keys_were: bool) -> None:
    """Roll everything back and put foreign_keys back, also after the deadline stopped the replay:
    sqlite3.Connection's own execute, as a guarded connection's refuses to start once it has passed
    (a ROLLBACK and a PRAGMA take far fewer steps than the progress handler's interval)."""
    if conn.in_transaction:
        sqlite3.Connection.execute(conn, "ROLLBACK")
    sqlite3.Connection.execute(conn, f"PRAGMA foreign_keys = {'ON' if keys_were else 'OFF'}")
