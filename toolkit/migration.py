"""Migration 030 on a copy, derived from the file itself, and proven lossless.

`plan_030` reads the copy's own declaration of `veo3_video_upscales` and writes the SQL of
SQLite's documented procedure for changes ALTER TABLE cannot make
(https://www.sqlite.org/lang_altertable.html#otheralter):

 1. foreign keys off, outside the transaction;  2. BEGIN;
 3. create the new table from the ORIGINAL declaration, with only the foreign-key clauses
    on the three reference columns and their NOT NULLs removed;
 4. copy every row, rowids kept (as stored records where SQLite can);
 5. drop the views and triggers that name the table;
 6. drop the old table;  7. rename the new one into place;
 8. recreate every index, trigger and view verbatim;  9. restore the AUTOINCREMENT counter;
10. record version 30 the way the file records versions;  11. COMMIT;  12. foreign keys on.

`plan_rebuild` is that procedure for any table and columns (the `relax` plan's 12-step path, and
`fix --rebuild`).  `apply_030` is the relax plan with the video app's defaults (`repair.apply_relax`):
SQLite's simpler procedure where it applies (`fastpath`), this one otherwise; either way it proves
the result (`Proof`) on a copy and only then moves it to `dest`: a failure or a kill leaves no
output.  sqlite-utils' `transform()` is not used for the rebuild: it drops the table's triggers and
refuses to run when any orphan row exists anywhere in the file (tests/test_migration.py shows both).
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from collections.abc import Collection, Iterator, Sequence

from . import appmodel as app
from . import errors
from .ddl import relax_columns, tokenize
from .profile import State, simulate_insert, table_state
from .output import Started, work_bytes
from .safe_access import CHECKS, Check, check_integrity, connect, safe_connection
from .schema import MIGRATIONS_TABLE, DatabaseInfo, TableInfo, VersionSource, read_schema
from .guards import BUILTIN_FUNCTIONS, own_writes

if TYPE_CHECKING:
    from .relax import RelaxPlan, RelaxRequest
from .scripts import check_statement, functions_called, render
from .sqlite_codes import PROPAGATED, Kind, kind_of
from .sqlnames import any_of, literal, quote

MIGRATION_NAME = "030_fix_upscale_foreign_key_constraints"


@dataclass(frozen=True)
class Plan:
    """The fix for one file, as SQL statements (the script `fix --sql` prints)."""

    table: str
    new_table: str
    statements: list[str]
    #: The file the plan was made for (named when a statement is refused).
    source: str = ""
    #: The script's opening comment (default: migration 030's).
    header: str = ""

    def __post_init__(self) -> None:
        # every statement is checked before anything runs or prints it (part of it is the file's text)
        for statement in self.statements:
            check_statement(statement, self.source)

    def script(self) -> str:
        header = self.header or (f"-- Migration 030 for this file: rebuild {self.table} without foreign keys on "
                  f"{', '.join(app.REFERENCE_COLUMNS)}\n-- and with those columns nullable; "
                  "everything else as the file declares it.\n")
        return render(self.statements, header)  # each statement was checked when the plan was made


@dataclass(frozen=True)
class Proof:
    """What a repair's proof checked on the copy, each check's verdict, and what failed."""

    rows_before: int
    rows_after: int
    data_identical: bool
    rowids_kept: bool
    indexes_preserved: bool
    triggers_preserved: bool
    views_preserved: bool
    other_columns_unchanged: bool
    foreign_keys_removed: bool
    columns_nullable: bool
    other_tables_unchanged: bool
    integrity_ok: bool
    integrity_check: str
    insert_before_ok: bool
    insert_after_ok: bool
    original_unchanged: bool = False
    problems: tuple[str, ...] = ()
    #: SQLite's error for the app's insert on the fixed copy, when it still fails (not on a
    #: foreign key, or the proof fails): what remains to be done.
    insert_after_error: str | None = None
    insert_after_fails_on_foreign_key: bool = False
    #: how the change reached the copy (plan.Procedure): the first line of the proof says what it compared
    procedure: str = "12-step"

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[tuple[str, bool]]:
        """The proof as (check, passed) pairs: the one list every rendering shows.  Each pair
        passes exactly when the proof's own check did, so a proven copy shows no failed line."""
        if self.insert_after_ok:
            insert = (f"the app's insert: {'ok' if self.insert_before_ok else 'failed'} before, ok after", True)
        else:
            fk = self.insert_after_fails_on_foreign_key
            insert = (f"the app's insert fails on no foreign key after (it still fails: {self.insert_after_error}; "
                      "that is not what migration 030 changes)" if not fk
                      else f"the app's insert still fails on a foreign key: {self.insert_after_error}", not fk)
        compared = ("every page but the schema's byte-identical to the copy before the edit"
                    if self.procedure == "writable-schema" else "every row identical (compared in SQL), rowids kept")
        return [
            (f"rows {self.rows_before} -> {self.rows_after}, {compared}",
             self.rows_before == self.rows_after and self.data_identical),
            ("every index, trigger and view preserved verbatim",
             self.indexes_preserved and self.triggers_preserved and self.views_preserved),
            ("every other column and foreign key unchanged", self.other_columns_unchanged),
            ("foreign keys on the three columns removed, the columns nullable",
             self.foreign_keys_removed and self.columns_nullable),
            ("every other table has its rows; the fix's own writes fired none of the file's triggers",
             self.other_tables_unchanged),
            (f"PRAGMA {self.integrity_check} ok", self.integrity_ok),
            insert,
            ("the original is byte-identical (SHA-256, sidecars included)", self.original_unchanged),
        ]


@dataclass(frozen=True)
class MigrationResult:
    """What `fix` (migration 030 on a copy) did, proved and wrote."""

    source: str
    output: str | None
    skipped: bool
    reason: str
    state_before: State
    state_after: State | None = None
    recorded_version_before: int | None = None
    recorded_version_after: int | None = None
    sql: str = ""
    proof: Proof | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The pinned JSON shape of `fix --json`."""
        p = self.proof
        return {
            "output": self.output,
            "skipped": self.skipped,
            "reason": self.reason,
            "rows_before": p.rows_before if p else None,
            "rows_after": p.rows_after if p else None,
            "data_identical": p.data_identical if p else None,
            "indexes_preserved": p.indexes_preserved if p else None,
            "triggers_preserved": p.triggers_preserved if p else None,
            "foreign_keys_removed": p.foreign_keys_removed if p else None,
            "columns_nullable": p.columns_nullable if p else None,
            "integrity_ok": p.integrity_ok if p else None,
            "insert_before_ok": p.insert_before_ok if p else None,
            "insert_after_ok": p.insert_after_ok if p else None,
            "original_unchanged": p.original_unchanged if p else True,
            "recorded_version_after": self.recorded_version_after,
            "state_before": self.state_before,
            "state_after": self.state_after,
            "seconds": round(self.seconds, 3),
            "proof": asdict(p) if p else None,
        }


# --------------------------------------------------------------------------- planning
def _names_table(sql: str | None, table: str) -> bool:
    """Whether a view's or trigger's SQL mentions `table` as an identifier."""
    if not sql:
        return False
    try:
        return any(t.kind in ("word", "ident", "string") and t.name.lower() == table.lower() for t in tokenize(sql))
    except ValueError:
        return True  # cannot tell: treat as dependent, it is recreated verbatim either way


def _free_name(info: DatabaseInfo, base: str) -> str:
    taken = {t.name.lower() for t in info.tables} | {v.name.lower() for v in info.views}
    name, n = f"{base}_030_new", 1
    while name.lower() in taken:
        n += 1
        name = f"{base}_030_new{n}"
    return name


def upscales_table(info: DatabaseInfo) -> TableInfo:
    """The video app's table migration 030 changes, or the refusal when the file lacks it."""
    table = info.table(app.UPSCALES)
    if table is None:
        raise errors.RefusedError(
            f"{info.database} has no {app.UPSCALES} table, so migration 030 does not apply; "
            "ask the customer for the video app's database file.", info.database)
    if not table.sql:
        raise errors.RefusedError(f"{info.database}: {app.UPSCALES} has no stored declaration; "
                                  "send the file to engineering.", info.database)
    return table


def plan_030(conn: sqlite3.Connection, info: DatabaseInfo) -> Plan:
    """Migration 030 by the 12-step rebuild (`fix --rebuild`): relax with the video app's defaults."""
    return plan_rebuild(conn, info, upscales_table(info), app.REFERENCE_COLUMNS, not_null=True, record=True)


def plan_rebuild(conn: sqlite3.Connection, info: DatabaseInfo, table: TableInfo, relaxed: Sequence[str], *,
                 not_null: bool, record: bool, header: str = "") -> Plan:
    """The 12-step rebuild of `table` without the foreign keys on `relaxed` (and, `not_null`, their
    NOT NULLs); `record`: also record migration 030's version the way the file records versions."""
    if not table.sql:
        raise errors.RefusedError(f"{info.database}: {table.name} has no stored declaration; "
                                  "send the file to engineering.", info.database)
    new = _free_name(info, table.name)
    create = relax_columns(table.sql, set(relaxed), new, not_null=not_null)
    columns = [c.name for c in table.columns if not c.generated]
    names = {c.name.lower() for c in table.columns}
    rowid_alias = next((a for a in ("rowid", "_rowid_", "oid") if a not in names), None)
    copy_rowid = not table.without_rowid and rowid_alias is not None
    cols_sql = ", ".join(quote(c) for c in columns)
    target = f"{rowid_alias}, {cols_sql}" if copy_rowid else cols_sql
    # Views first, then triggers (an INSTEAD OF trigger needs its view), in creation order.
    dependents = [("VIEW", v.name, v.sql) for v in info.views if _names_table(v.sql, table.name)]
    dependents += [("TRIGGER", t.name, t.sql) for t in info.triggers
                   if t.table.lower() == table.name.lower() or _names_table(t.sql, table.name)]
    statements = ["PRAGMA foreign_keys = OFF", "BEGIN", create]
    statements += _copy_rows(table, new, target, rowid=rowid_alias if copy_rowid else None)
    statements += [f"DROP {kind} {quote(name)}" for kind, name, _ in dependents]
    statements += [f"DROP TABLE {quote(table.name)}",
                   # legacy mode: the rename must not rewrite (or re-check) anything else in the schema
                   "PRAGMA legacy_alter_table = ON",
                   f"ALTER TABLE {quote(new)} RENAME TO {quote(table.name)}",
                   "PRAGMA legacy_alter_table = OFF"]
    statements += [i.sql for i in table.indexes if i.sql]
    seq = _autoincrement_seq(conn, table.name)
    if seq is not None:
        statements.append(f"UPDATE sqlite_sequence SET seq = max(seq, {int(seq)}) WHERE name = {literal(table.name)}")
    # the dependents are recreated only after the version is recorded (no trigger of theirs fires)
    dependent_names = {name.lower() for _, name, _ in dependents}
    versioning = record_version_statements(conn, info, dependent_names) if record else []
    statements += versioning
    statements += [sql for _, _, sql in dependents if sql]
    # the documented procedure's check, on the rebuilt table only (another table's broken
    # declaration must not stop this one's repair): lists, in the shell, any row the change broke
    statements += [f"PRAGMA foreign_key_check({quote(table.name)})", "COMMIT", "PRAGMA foreign_keys = ON"]
    plan = Plan(table.name, new, statements, info.database, header)  # checks each statement first
    _refuse_foreign_functions(info, [table, *([info.table(MIGRATIONS_TABLE)] if versioning else [])])
    return plan


def record_version_statements(conn: sqlite3.Connection, info: DatabaseInfo, keep: Collection[str] = ()
                              ) -> list[str]:
    """The statements that record version 30 the way the file records versions.  They must not
    fire the file's triggers on its migrations table (one could change other tables): those are
    set aside around the insert (`keep`: triggers the caller recreates itself)."""
    aside = [t for t in info.triggers if t.table.lower() == MIGRATIONS_TABLE and t.sql
             and t.name.lower() not in keep]
    record = _record_version(conn, info)
    if not record:
        return []
    return [f"DROP TRIGGER {quote(t.name)}" for t in aside] + record + [t.sql for t in aside if t.sql]


def _refuse_foreign_functions(info: DatabaseInfo, written: Sequence[TableInfo | None]) -> None:
    """The plan writes rows to these tables: whatever their CHECKs, DEFAULTs, generated columns
    and indexes call runs then, in the toolkit (no application function exists there) and in
    the sqlite3 shell running `fix --sql` (where load_extension() works).  Only SQLite's own
    built-in functions may be among them."""
    tables = [t for t in written if t is not None and t.sql]
    try:
        declarations = [t.sql for t in tables if t.sql] + [i.sql for t in tables for i in t.indexes if i.sql]
        called = functions_called(declarations,
                                  [c.default for t in tables for c in t.columns if c.default is not None])
    except sqlite3.Error as exc:
        raise errors.UnsafeContentError(
            f"{info.database}: the declaration of {', '.join(t.name for t in tables)} could not be checked on a "
            f"blank database (SQLite says \"{exc}\"), so the toolkit will not write to it; send the file to "
            "engineering.", info.database) from None
    foreign = sorted(called - BUILTIN_FUNCTIONS)
    if foreign:
        raise errors.UnsafeContentError(
            f"{info.database}: {', '.join(t.name for t in tables)} call {', '.join(f + '()' for f in foreign)} in a "
            "CHECK, DEFAULT, generated column or index, which is not one of SQLite's own functions and would run "
            "when the fix writes rows there (in the sqlite3 shell too), so the toolkit will not run or print the "
            "fix; send the file to engineering.", info.database)


def _copy_rows(table: TableInfo, new: str, target: str, *, rowid: str | None) -> list[str]:
    """The statements that copy every row into the new table, rowids kept.

    `INSERT INTO new SELECT * FROM old` lets SQLite move each stored record and the key
    index's entries in order (its transfer optimization): five times faster at a million rows
    than naming the columns, which inserts the key index's entries one by one in random order.
    SQLite may decline the optimization (its conditions are its own), and then it numbers the
    rows anew; the guard notices (the first or last rowid differs) and copies them again,
    rowids named.  Generated or hidden columns rule the short form out: `*` does not fit them."""
    old, dest = quote(table.name), quote(new)
    named = f"INSERT INTO {dest} ({target}) SELECT {target} FROM {old}"
    if any(c.hidden for c in table.columns):
        return [named]
    transfer = f"INSERT INTO {dest} SELECT * FROM {old}"
    if rowid is None:  # WITHOUT ROWID: nothing can be renumbered
        return [transfer]
    # Each guard costs a few b-tree seeks, not a scan: min() and max() alone in their SELECTs,
    # and the decision in a LIMIT, which SQLite evaluates once (a WHERE would be tried per row).
    ends = " OR ".join(f"(SELECT {f}({rowid}) FROM {dest}) IS NOT (SELECT {f}({rowid}) FROM {old})"
                       for f in ("min", "max"))
    return [transfer,
            f"-- if SQLite numbered the rows anew, copy them again with their own rowids\n"
            f"DELETE FROM {dest} WHERE {rowid} IN (SELECT {rowid} FROM {dest} LIMIT (SELECT CASE WHEN {ends} "
            "THEN -1 ELSE 0 END))",
            f"{named} LIMIT (SELECT CASE WHEN EXISTS (SELECT 1 FROM {dest}) THEN 0 ELSE -1 END)"]


def _autoincrement_seq(conn: sqlite3.Connection, table: str) -> int | None:
    if not conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'").fetchone():
        return None
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return row[0] if row else None


def _record_version(conn: sqlite3.Connection, info: DatabaseInfo) -> list[str]:
    source = info.version_source
    if source == VersionSource.MIGRATIONS or (source is None and info.table(MIGRATIONS_TABLE)):
        mig = info.table(MIGRATIONS_TABLE)
        cols = {c.name.lower(): c for c in mig.columns} if mig else {}
        if mig is None or "version" not in cols:
            return []
        values = {"version": "30", "name": literal(MIGRATION_NAME),
                  "applied_at": "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"}
        names = [n for n in values if n in cols]
        return [f"INSERT OR IGNORE INTO {quote(mig.name)} ({', '.join(quote(cols[n].name) for n in names)}) "
                f"VALUES ({', '.join(values[n] for n in names)})"]
    if source == VersionSource.USER_VERSION and (info.recorded_version or 0) < 30:
        return ["PRAGMA user_version = 30"]
    return []


def inject_disk_limit(conn: sqlite3.Connection) -> None:
    """Fault injection for tests (TOOLKIT_FAULT_EXTRA_PAGES=N): let the copy grow by only N
    pages, so the rebuild meets SQLITE_FULL as it would on a full disk."""
    extra = os.environ.get("TOOLKIT_FAULT_EXTRA_PAGES")
    if extra:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + int(extra)}")


def execute_plan(conn: sqlite3.Connection, plan: Plan) -> None:
    """Run the plan; the file's triggers may fire none of their writes meanwhile (the
    authorizer refuses the statement instead, so nothing the plan does not say can happen)."""
    with own_writes(conn):
        for statement in plan.statements:
            conn.execute(statement)


# --------------------------------------------------------------------------- proof
def _objects(conn: sqlite3.Connection, schema: str, kind: str, table: str | None = None) -> set[tuple[str, str]]:
    sql = f"SELECT name, sql FROM {schema}.sqlite_schema WHERE type = ? AND sql IS NOT NULL"
    params: tuple[str, ...] = (kind,)
    if table is not None:
        sql += " AND tbl_name = ?"
        params += (table,)
    return set(conn.execute(sql, params).fetchall())


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[tuple[Any, ...]]:
    columns: list[tuple[Any, ...]] = conn.execute(f"SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM "
                        f"{schema}.pragma_table_xinfo(?) ORDER BY cid", (table,)).fetchall()
    return columns


def rows_differing(conn: sqlite3.Connection, table: TableInfo, before: str = "before", after: str = "main", *,
                   copied: bool = False) -> int:
    """Rows of `before`.table with no identical row (same key, every column the same value,
    type and bytes) in `after`.table: a join, in SQL, costing no Python memory.  (Splitting it
    over two connections was measured slower: they contend for the same pages.)

    `IS NOT ... COLLATE BINARY` tells every storage class and every byte apart, except an
    INTEGER from the REAL of the same value; `typeof()` tells those apart, at a function call
    per value (it tripled the cost).  `copied`: `after` was filled by copying `before` into
    columns declared alike (the proof checks that separately).  A copy changes an INTEGER into
    a REAL or back only through INTEGER, REAL or NUMERIC affinity, so only those columns need
    `typeof()` then."""
    key = ["rowid"] if not table.without_rowid else table.primary_key
    join = " AND ".join(f"a.{quote(k)} = b.{quote(k)}" for k in key)
    differs = []
    for c in table.columns:
        name = quote(c.name)
        differs.append(f"a.{name} IS NOT b.{name} COLLATE BINARY")
        if not copied or c.affinity in ("INTEGER", "REAL", "NUMERIC"):
            differs.append(f"typeof(a.{name}) <> typeof(b.{name})")
    missing = f"a.{quote(key[0])} IS NULL"
    sql = (f"SELECT count(*) FROM {before}.{quote(table.name)} AS b LEFT JOIN {after}.{quote(table.name)} AS a "
           f"ON {join} WHERE {any_of([missing, *differs])}")
    count: int = conn.execute(sql).fetchone()[0]
    return count


def _violations(conn: sqlite3.Connection, schema: str, table: str) -> int | str:
    try:
        return len(conn.execute(f"PRAGMA {schema}.foreign_key_check({quote(table)})").fetchall())
    except sqlite3.OperationalError as exc:  # a broken declaration: the same error on both sides is no change
        if kind_of(exc) in PROPAGATED:  # a stopped statement or a failing disk is no answer about the file
            raise
        return str(exc)


def prove(conn: sqlite3.Connection, before_info: DatabaseInfo, *, values: dict[str, Any] | None, full_check: bool,
          integrity: Future[list[str]] | None = None, insert_before_ok: bool = False, table: str = app.UPSCALES,
          relaxed: Sequence[str] = app.REFERENCE_COLUMNS, not_null: bool = True) -> Proof:
    """Compare the rebuilt file (main) with its copy from before the rebuild (attached as `before`);
    `integrity`: the file's integrity check already running elsewhere (see integrity_messages);
    `insert_before_ok`: whether the app's insert succeeded on the file before the fix; `table`,
    `relaxed`, `not_null`: what the rebuild relaxed (migration 030's by default)."""
    name = table
    before_table = before_info.table(name)
    assert before_table is not None  # the fix ran, so the file had the table
    after_info = read_schema(conn, database="after", count_rows=False)
    after_table = after_info.table(name)
    problems: list[str] = []
    rows_before = conn.execute(f"SELECT count(*) FROM before.{quote(name)}").fetchone()[0]
    rows_after = conn.execute(f"SELECT count(*) FROM main.{quote(name)}").fetchone()[0]
    differing = rows_differing(conn, before_table, copied=True) if after_table else rows_before
    data_identical = rows_before == rows_after and differing == 0
    indexes_ok = _objects(conn, "before", "index", name) == _objects(conn, "main", "index", name)
    triggers_ok = _objects(conn, "before", "trigger") == _objects(conn, "main", "trigger")
    views_ok = _objects(conn, "before", "view") == _objects(conn, "main", "view")
    refs = {c.lower() for c in relaxed}
    fks_removed = after_table is not None and not (
        {c.lower() for fk in after_table.foreign_keys for c in fk.columns} & refs)
    nullable = after_table is not None and (not still_not_null(after_table, refs) if not_null else True)

    def strip(cols: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [c[:3] + ((0,) if not_null and c[1].lower() in refs else (c[3],)) + c[4:] for c in cols]

    others_same = strip(_columns(conn, "before", name)) == strip(_columns(conn, "main", name))
    other_fks_same = ([(fk.columns, fk.parent_table, fk.parent_columns, fk.on_delete, fk.on_update)
                       for fk in before_table.foreign_keys if not {c.lower() for c in fk.columns} & refs]
                      == [(fk.columns, fk.parent_table, fk.parent_columns, fk.on_delete, fk.on_update)
                          for fk in (after_table.foreign_keys if after_table else [])
                          if not {c.lower() for c in fk.columns} & refs])
    tables_same = True
    for t in before_info.tables:
        if t.name in (name, MIGRATIONS_TABLE):
            continue
        after_count = conn.execute(f"SELECT count(*) FROM main.{quote(t.name)}").fetchone()[0]
        if after_count != t.row_count:
            tables_same = False
            problems.append(f"{t.name} has {after_count} rows after, {t.row_count} before")
    children = [t.name for t in before_info.tables
                if any(fk.parent_table.lower() == name.lower() for fk in t.foreign_keys)]
    children_same = all(_violations(conn, "before", t) == _violations(conn, "main", t) for t in children)
    pragma = integrity_pragma(full_check)
    messages = integrity.result() if integrity else [str(r[0]) for r in conn.execute(f"PRAGMA main.{pragma}(5)")]
    insert_after = simulate_insert(app.VIDEO_APP, conn, after_info, values) if values else None
    checks = {
        f"{rows_before} rows before but {rows_after} after": rows_before == rows_after,
        f"{differing} rows differ between before and after": differing == 0,
        "an index of the table changed or went missing": indexes_ok,
        "a trigger changed or went missing": triggers_ok,
        "a view changed or went missing": views_ok,
        "a foreign key on a reference column is still declared": fks_removed,
        "a reference column is still NOT NULL": nullable,
        "another column's declaration changed": others_same and other_fks_same,
        f"a table referencing {name} has new foreign-key violations": children_same,
        f"PRAGMA {pragma} reports: {'; '.join(messages)}": messages == ["ok"],
        f"the app's insert still fails on a foreign key after the fix: {insert_after.error if insert_after else ''}":
            insert_after is None or not insert_after.fails_on_foreign_key,
    }
    problems += [text for text, ok in checks.items() if not ok]
    return Proof(
        rows_before=rows_before, rows_after=rows_after, data_identical=data_identical,
        rowids_kept=differing == 0 and not before_table.without_rowid, indexes_preserved=indexes_ok,
        triggers_preserved=triggers_ok, views_preserved=views_ok,
        other_columns_unchanged=others_same and other_fks_same,
        foreign_keys_removed=fks_removed, columns_nullable=nullable, other_tables_unchanged=tables_same,
        integrity_ok=messages == ["ok"], integrity_check=pragma,
        insert_before_ok=insert_before_ok, insert_after_ok=insert_after.ok if insert_after else True,
        problems=tuple(problems),
        insert_after_error=insert_after.error if insert_after else None,
        insert_after_fails_on_foreign_key=insert_after is not None and insert_after.fails_on_foreign_key)


def still_not_null(table: TableInfo, relaxed: Collection[str]) -> list[str]:
    """The relaxed columns still NOT NULL, besides those SQLite makes NOT NULL whatever the
    declaration says (a WITHOUT ROWID table's primary key)."""
    wanted = {c.lower() for c in relaxed}
    return [c.name for c in table.columns
            if c.notnull and c.name.lower() in wanted and not (c.pk and table.without_rowid)]


# --------------------------------------------------------------------------- apply
def relax_030(*, rebuild: bool = False) -> RelaxRequest:
    """Migration 030 as the relax plan: the video app's table and reference columns, NOT NULL
    dropped too, version 30 recorded."""
    from .relax import RelaxRequest

    return RelaxRequest(app.UPSCALES, tuple(app.REFERENCE_COLUMNS), not_null=True, rebuild=rebuild,
                        record_version=True)


def plan_for(src: str | Path, *, rebuild: bool = False) -> tuple[RelaxPlan | None, str, DatabaseInfo]:
    """The fix for `src` (None when it is already relaxed), planned on a safe copy."""
    from .relax import plan_relax

    with safe_connection(src) as (work, conn):
        info = read_schema(conn, database=str(src), wal_frames=work.wal_frames, journal_mode=work.journal_mode)
        state = table_state(app.VIDEO_APP, info.table(app.UPSCALES))
        upscales_table(info)  # raises the refusal when the file has no such table
        return (None if state == State.FIXED else plan_relax(conn, info, relax_030(rebuild=rebuild))), state, info


def apply_030(src: str | Path, dest: str | Path, *, force: bool = False, full_check: bool = False,
              rebuild: bool = False, started: Started | None = None) -> MigrationResult:
    """Apply migration 030 to a copy of `src`, prove it, and write it to `dest`: the relax plan
    with the video app's defaults (`repair.apply_relax`), by SQLite's simpler procedure unless
    `rebuild` (or the declaration) asks for the 12-step rebuild.

    The original is only read (and proven unchanged).  On any failure `dest` does not exist
    (or, with `force`, still holds what it held): the work happens in a hidden folder beside
    `dest` and the proven file is moved into place in one atomic rename (`started`: that folder
    and the copy, begun by the caller)."""
    from .repair import apply_relax

    began = time.perf_counter()
    outcome = apply_relax(src, dest, relax_030(rebuild=rebuild), force=force, full_check=full_check, app_insert=True,
                          started=started)
    info = outcome.info
    if outcome.plan is None or outcome.proof is None:
        if info.table(app.UPSCALES) is None:
            upscales_table(info)  # raises the refusal
        return _skipped(Path(src), info, began)
    state = table_state(app.VIDEO_APP, info.table(app.UPSCALES))
    how = ("edited the declaration of" if outcome.plan.plan.procedure.value == "writable-schema" else "rebuilt")
    reason = f"{how} {app.UPSCALES} without foreign keys on its reference columns; proof passed"
    return MigrationResult(str(src), outcome.output, False, reason, state, state_after=State.FIXED,
                           recorded_version_before=info.recorded_version,
                           recorded_version_after=outcome.recorded_version_after,
                           sql=outcome.plan.script(), proof=outcome.proof, seconds=time.perf_counter() - began)


def tune_work_copy(conn: sqlite3.Connection) -> None:
    """The work copy is disposable until proven, so it needs no rollback journal (a failure
    discards it), no fsync per statement (one fsync before the move), no zeroing of freed
    pages (Debian builds SQLite with secure_delete on), and a 16 MB cache for the index
    builds (more bought no speed in `make bench`, and costs peak memory)."""
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "secure_delete = OFF", "cache_size = -16384"):
        conn.execute(f"PRAGMA {pragma}").fetchall()


def integrity_pragma(full_check: bool) -> str:
    pragma = CHECKS[Check.chosen(full_check)]
    assert pragma is not None  # only the "none" level has no pragma
    return pragma


def integrity_messages(path: Path, full_check: bool) -> list[str]:
    """The integrity check of `path` on a connection of its own, so that it runs on the second
    core beside the rebuild or the row comparison (SQLite releases the GIL)."""
    conn = connect(path)
    try:
        return [str(r[0]) for r in conn.execute(f"PRAGMA {integrity_pragma(full_check)}(5)")]
    finally:
        conn.close()


def check_copy_integrity(path: Path, src: Path, full_check: bool) -> None:
    conn = connect(path)
    try:
        check_integrity(conn, src, Check.chosen(full_check))
    finally:
        conn.close()


class Pending(Protocol):
    """A check running (or to be run) elsewhere: a Future, or a job started when first asked for."""

    def result(self) -> Any: ...


@contextlib.contextmanager
def damage_first(input_check: Pending) -> Iterator[None]:
    """A damaged input explains any failure that follows it: report the damage, not the symptom."""
    try:
        yield
    except (sqlite3.Error, errors.ToolkitError):
        input_check.result()  # raises CorruptDatabaseError when the input is damaged
        raise


def execute_for(conn: sqlite3.Connection, plan: Plan, src: Path, dest: Path) -> None:
    try:
        execute_plan(conn, plan)
    except sqlite3.DatabaseError as exc:
        if kind_of(exc) is Kind.INTERRUPT:
            raise
        raise execution_failure(exc, src, dest) from None


def execution_failure(exc: sqlite3.Error, src: Path, dest: Path) -> errors.ToolkitError | sqlite3.Error:
    """What a repair's failing statement on the copy beside --out means (an interrupt stays itself)."""
    text = str(exc)
    kind = kind_of(exc)
    if kind is Kind.INTERRUPT:
        return exc
    # the repair writes only the toolkit's copy beside --out: no room there is that disk's
    if kind in (Kind.FULL, Kind.IOERR):
        problem = errors.EnvironmentProblem.FULL if kind is Kind.FULL else errors.EnvironmentProblem.IO
        return errors.environment_failure(dest.parent, problem, need=work_bytes(src), detail=text)
    return errors.RefusedError(
        f"The repair could not be applied to a copy of {src}: SQLite said \"{text}\"; nothing was "
        "written, so send the file to engineering.", src)


def _skipped(src: Path, info: DatabaseInfo, started: float) -> MigrationResult:
    """The result for a table migration 030 has already relaxed: nothing written."""
    reason = (f"{app.UPSCALES} already has no foreign keys on {', '.join(app.REFERENCE_COLUMNS)} and they are "
              "nullable, so migration 030 has nothing to do; no copy was written.")
    return MigrationResult(str(src), None, True, reason, State.FIXED, state_after=State.FIXED,
                           recorded_version_before=info.recorded_version, recorded_version_after=info.recorded_version,
                           seconds=time.perf_counter() - started)
