"""Repair plans for one foreign key of any table: `repoint`, `unique-parent`, `orphans`, `retype`.

Each builder reads a copy (`conn`, `info`) and returns a `RepairPlan`: the statements the sqlite3
shell runs for `repair PLAN DB --sql`, and the rows they will change, listed before anything runs.
A plan that cannot be made safely is refused in one sentence (`errors.RefusedError`).
`apply_rows_plan` runs a plan on a copy, proves it with `prove_rows` (exactly the listed rows
changed, as listed; every other row of the touched tables identical; the key's violations as
predicted) and only then moves the copy into place.  Nothing reads a broken declaration the plan
does not touch, and the proof reads only the tables the plan touches: a broken key elsewhere in the
file cannot make a repair refuse.
"""
from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import errors, fastpath
from .ddl import TABLE_CONSTRAINTS, Token, column_segments, parse_create_table, significant, tokenize
from .findings import FindingCode, parent_collations
from .guards import own_writes
from .keymatch import leftover_base, parent_key_usable, parent_row_exists, sql_type, stored_as
from .plan import OrphanAction, PlanKind, Procedure, RepairPlan, TouchedRow
from .safe_access import connect, copy_database, sqlite_errors, verify_unchanged
from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo, parent_key_is_unique, read_schema
from .scripts import check_statement, render
from .sqlnames import any_of, literal, quote

#: The plans this module builds (relax is the declaration-only plan built elsewhere).
ROW_PLANS = (PlanKind.REPOINT, PlanKind.UNIQUE_PARENT, PlanKind.ORPHANS, PlanKind.RETYPE)
#: Duplicate keys named when unique-parent refuses.
DUPLICATES_SHOWN = 10
#: Rows named in a summary (all are listed in the plan).
ROWS_SHOWN = 5
#: Rows per UPDATE in a retype script (one statement per row would make a script of millions of lines).
CHUNK = 500


def _refuse(info: DatabaseInfo, sentence: str) -> errors.RefusedError:
    return errors.RefusedError(f"{info.database}: {sentence}", info.database)


# --------------------------------------------------------------------------- choosing the key
def _table(info: DatabaseInfo, name: str) -> TableInfo:
    table = info.table(name)
    if table is None:
        have = ", ".join(t.name for t in info.tables[:20])
        raise _refuse(info, f"--table {name}: the file has no such table (its tables: {have}).")
    return table


def _key_text(table: str, fk: ForeignKeyInfo) -> str:
    # a REFERENCES naming no columns, to a table that is gone, has no parent columns to show
    parent = f"{fk.parent_table}({', '.join(fk.parent_columns)})" if fk.parent_columns else fk.parent_table
    return f"{table}({', '.join(fk.columns)}) -> {parent}"


def choose_key(info: DatabaseInfo, table: str | None, columns: Iterable[str] | None,
               wanted: Callable[[TableInfo, ForeignKeyInfo], bool], what: str) -> tuple[TableInfo, ForeignKeyInfo]:
    """The one key a plan is about: the key of `table` on `columns`, else the only key (of `table`, or
    of the file) for which `wanted` holds; `what` says in words what `wanted` looks for."""
    tables = [_table(info, table)] if table else info.tables
    cols = [c.lower() for c in columns] if columns else None
    if cols is not None:
        named = [(t, fk) for t in tables for fk in t.foreign_keys if [c.lower() for c in fk.columns] == cols]
        if not named:
            where = tables[0].name if table else "any table"
            raise _refuse(info, f"{where} has no foreign key on ({', '.join(columns or ())}).")
        found = [(t, fk) for t, fk in named if wanted(t, fk)]
        if not found:
            raise _refuse(info, f"{_key_text(named[0][0].name, named[0][1])} is not a key that {what}, so this "
                                "plan does not apply to it.")
    else:
        found = [(t, fk) for t in tables for fk in t.foreign_keys if wanted(t, fk)]
        if not found:
            where = f"{tables[0].name} has" if table else "the file has"
            raise _refuse(info, f"{where} no foreign key that {what}, so this plan has nothing to do.")
    if len(found) > 1:
        keys = "; ".join(_key_text(t.name, fk) for t, fk in found[:10])
        raise _refuse(info, f"{len(found)} keys qualify ({keys}): choose one with --table and --columns.")
    return found[0]


def rowid_name(table: TableInfo) -> str | None:
    """A name for the rowid the table's own columns do not take (None: WITHOUT ROWID, or all taken)."""
    if table.without_rowid:
        return None
    names = {c.name.lower() for c in table.columns}
    return next((a for a in ("rowid", "_rowid_", "oid") if a not in names), None)


def row_key(info: DatabaseInfo, table: TableInfo) -> list[str]:
    """The columns that name one row: the rowid, or a WITHOUT ROWID table's primary key."""
    if table.without_rowid:
        return table.primary_key
    name = rowid_name(table)
    if name is None:
        raise _refuse(info, f"{table.name} has columns named rowid, _rowid_ and oid, so its rows cannot be named "
                            "one by one; send the file to engineering.")
    return [name]


def _alias(table: TableInfo) -> str:
    return "toolkit_parent" if table.name.lower() != "toolkit_parent" else "toolkit_parent_2"


def orphan_condition(table: TableInfo, fk: ForeignKeyInfo) -> str:
    """SQL true for the rows of `table` violating `fk`, by SQLite's rule: no NULL in the key, and no
    parent row equal under the parent's affinity and collation (`+` strips the child's affinity, the
    parent, on the left, supplies the collation)."""
    child, alias = quote(table.name), quote(_alias(table))
    not_null = " AND ".join(f"{child}.{quote(c)} IS NOT NULL" for c in fk.columns)
    match = " AND ".join(f"{alias}.{quote(pc)} = +{child}.{quote(cc)}"
                         for cc, pc in zip(fk.columns, fk.parent_columns, strict=True))
    return f"{not_null} AND NOT EXISTS (SELECT 1 FROM {quote(fk.parent_table)} AS {alias} WHERE {match})"


def _works(info: DatabaseInfo, fk: ForeignKeyInfo) -> bool:
    parent = info.table(fk.parent_table)
    return (parent is not None and fk.parent_key_unique and len(fk.parent_columns) == len(fk.columns)
            and parent_key_usable(parent, fk) is not False)


def orphan_rows(conn: sqlite3.Connection, info: DatabaseInfo, table: TableInfo, fk: ForeignKeyInfo
                ) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Each violating row: its row key and its key's values."""
    key = row_key(info, table)
    cols = ", ".join(f"{quote(table.name)}.{quote(c)}" for c in [*key, *fk.columns])
    sql = f"SELECT {cols} FROM {quote(table.name)} WHERE {orphan_condition(table, fk)} ORDER BY 1"
    return [(tuple(r[:len(key)]), tuple(r[len(key):])) for r in conn.execute(sql)]


def count_violations(conn: sqlite3.Connection, table: TableInfo, fk: ForeignKeyInfo, schema: str = "main") -> int:
    count: int = conn.execute(f"SELECT count(*) FROM {schema}.{quote(table.name)} "
                              f"WHERE {orphan_condition(table, fk)}").fetchone()[0]
    return count


def _shown_key(key: tuple[Any, ...]) -> str:
    return literal(key[0]) if len(key) == 1 else f"({', '.join(literal(v) for v in key)})"


def _some(items: list[str], total: int) -> str:
    return ", ".join(items[:ROWS_SHOWN]) + (f" and {total - ROWS_SHOWN} more" if total > ROWS_SHOWN else "")


def _checked(info: DatabaseInfo, statements: list[str]) -> tuple[str, ...]:
    # part of each statement is the file's text (names, a declaration): checked before it runs or prints
    return tuple(check_statement(s, info.database) for s in statements)


# --------------------------------------------------------------------------- repoint
def _stale_or_missing(info: DatabaseInfo, fk: ForeignKeyInfo) -> bool:
    base = leftover_base(fk.parent_table, info.table_names)
    return not fk.parent_table_exists or (base is not None and base != fk.parent_table.lower())


def _constraint_target(defn: list[Token], wanted_cols: list[str], parent: str) -> list[Token]:
    """The parent-table tokens of a table-level `FOREIGN KEY (cols) REFERENCES parent` on `wanted_cols`."""
    found = []
    for i, tok in enumerate(defn):
        if tok.upper != "FOREIGN" or i + 2 >= len(defn) or defn[i + 2].text != "(":
            continue
        close = next(k for k in range(i + 3, len(defn)) if defn[k].text == ")")
        cols = [t.name.lower() for t in defn[i + 3:close] if t.text != ","]
        ref = close + 1
        if (cols == wanted_cols and ref + 1 < len(defn) and defn[ref].upper == "REFERENCES"
                and defn[ref + 1].name.lower() == parent):
            found.append(defn[ref + 1])
    return found


def _column_target(defn: list[Token], parent: str) -> list[Token]:
    """The parent-table tokens of a column's `REFERENCES parent` clauses."""
    found = []
    for seg in column_segments(defn):
        at = seg.first + 2 if defn[seg.first].upper == "CONSTRAINT" else seg.first
        if seg.kind == "REFERENCES" and defn[at + 1].name.lower() == parent:
            found.append(defn[at + 1])
    return found


def retarget(sql: str, fk: ForeignKeyInfo, live: str) -> str:
    """The CREATE TABLE `sql` with the REFERENCES target of `fk` made `live`; every other byte kept."""
    wanted_cols, parent = [c.lower() for c in fk.columns], fk.parent_table.lower()
    targets: list[Token] = []
    for defn in parse_create_table(sql).definitions:
        if defn[0].upper in TABLE_CONSTRAINTS and defn[0].kind == "word":
            targets += _constraint_target(defn, wanted_cols, parent)
        elif [defn[0].name.lower()] == wanted_cols:
            targets += _column_target(defn, parent)
    if not targets:
        raise ValueError("the REFERENCES clause was not found in the declaration")
    for tok in sorted(targets, key=lambda t: t.start, reverse=True):
        sql = sql[:tok.start] + quote(live) + sql[tok.end:]
    return sql


def writable_schema_statements(table: str, new_sql: str, schema_version: int) -> list[str]:
    """SQLite's documented procedure for a change that moves no stored byte (lang_altertable.html,
    "Making Other Kinds Of Table Schema Changes"): one transaction, schema_version + 1, then a check."""
    return [*fastpath.statements(table, new_sql, schema_version), "COMMIT", "PRAGMA integrity_check"]


def _parses_alone(info: DatabaseInfo, sql: str) -> None:
    """The new declaration, created on a blank in-memory database first: a declaration SQLite cannot
    read must never reach the copy's schema (there it would make the whole file unreadable)."""
    blank = sqlite3.connect(":memory:")
    try:
        blank.execute(sql)
    except sqlite3.Error as exc:
        raise _refuse(info, f"the new declaration does not parse (SQLite: {exc}); nothing was changed, so send "
                            "the file to engineering.") from None
    finally:
        blank.close()


def plan_repoint(conn: sqlite3.Connection, info: DatabaseInfo, *, table: str | None = None,
                 columns: Iterable[str] | None = None, to: str | None = None) -> RepairPlan:
    """A REFERENCES clause naming a dropped table or a leftover (`*_old`) made to name the live table."""
    child, fk = choose_key(info, table, columns, lambda t, k: _stale_or_missing(info, k),
                           "names a dropped table or a leftover of a rebuild")
    live_name = to or leftover_base(fk.parent_table, info.table_names)
    if not live_name:
        raise _refuse(info, f"{_key_text(child.name, fk)} names a table that is gone and no live table can be "
                            "inferred from its name: give it with --to LIVE.")
    live = info.table(live_name)
    if live is None:
        raise _refuse(info, f"--to {live_name}: the file has no such table.")
    parent_columns = fk.parent_columns or live.primary_key
    missing = [c for c in parent_columns if live.column(c) is None]
    if not parent_columns or missing or len(parent_columns) != len(fk.columns):
        names = ", ".join(missing or fk.parent_columns) or "of a primary key"
        raise _refuse(info, f"{live.name} has no column(s) {names} to match {_key_text(child.name, fk)}, so the "
                            "reference cannot name it.")
    if not parent_key_is_unique(conn, live.name, list(parent_columns), live.indexes):
        raise _refuse(info, f"{live.name}({', '.join(parent_columns)}) is neither a PRIMARY KEY nor UNIQUE, so a "
                            "reference to it would fail with 'foreign key mismatch': repair unique-parent first.")
    if not child.sql:
        raise _refuse(info, f"{child.name} has no stored declaration; send the file to engineering.")
    try:
        new_sql = retarget(child.sql, fk, live.name)
    except (ValueError, IndexError, StopIteration) as exc:
        raise _refuse(info, f"the declaration of {child.name} could not be parsed safely ({exc}); nothing was "
                            "changed, so send the file to engineering.") from None
    _parses_alone(info, new_sql)
    new_fk = dataclasses.replace(fk, parent_table=live.name, parent_columns=list(parent_columns),
                                 parent_table_exists=True, parent_key_unique=True)
    total = conn.execute(f"SELECT count(*) FROM {quote(child.name)} WHERE "
                         + " AND ".join(f"{quote(c)} IS NOT NULL" for c in fk.columns)).fetchone()[0]
    remaining = count_violations(conn, child, new_fk)
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    still = f"; {remaining} still match none (repair orphans next)" if remaining else ""
    summary = (f"{_key_text(child.name, fk)} will name {live.name}, which has the key: {total - remaining} of the "
               f"{total} child row(s) with a key then match{still}.")
    return RepairPlan(PlanKind.REPOINT, child.name, Procedure.WRITABLE_SCHEMA,
                      _checked(info, writable_schema_statements(child.name, new_sql, version)), summary,
                      new_declaration=new_sql, source=info.database, columns=tuple(fk.columns),
                      parent_table=live.name, remaining=remaining)


# --------------------------------------------------------------------------- unique-parent
def _lost_unique(info: DatabaseInfo, fk: ForeignKeyInfo) -> bool:
    parent = info.table(fk.parent_table)
    return parent is not None and (not fk.parent_key_unique or parent_key_usable(parent, fk) is False)


def free_name(conn: sqlite3.Connection, base: str) -> str:
    taken = {str(r[0]).lower() for r in conn.execute("SELECT name FROM sqlite_schema")}
    name, n = base, 1
    while name.lower() in taken or name.lower().startswith("sqlite_"):
        n += 1
        name = f"{base}_{n}"
    return name


def plan_unique_parent(conn: sqlite3.Connection, info: DatabaseInfo, *, table: str | None = None,
                       columns: Iterable[str] | None = None) -> RepairPlan:
    """A parent key that lost its PRIMARY KEY / UNIQUE gets a unique index, refused when keys repeat."""
    child, fk = choose_key(info, table, columns, lambda t, k: _lost_unique(info, k),
                           "references a parent key that is neither a PRIMARY KEY nor UNIQUE")
    parent = info.table(fk.parent_table)
    assert parent is not None  # _lost_unique holds only for an existing parent
    if not fk.parent_columns or len(fk.parent_columns) != len(fk.columns):
        raise _refuse(info, f"{_key_text(child.name, fk)} names no parent columns and {parent.name} has no "
                            "primary key, so there is no key to make unique: give the REFERENCES its columns.")
    pcols = ", ".join(quote(c) for c in fk.parent_columns)
    not_null = " AND ".join(f"{quote(c)} IS NOT NULL" for c in fk.parent_columns)
    # GROUP BY compares with each column's own collation, as the unique index will (NULLs never clash)
    dupes = (f"SELECT {pcols}, count(*) FROM {quote(parent.name)} WHERE {not_null} GROUP BY {pcols} "
             "HAVING count(*) > 1")
    (count,) = conn.execute(f"SELECT count(*) FROM ({dupes})").fetchone()
    if count:
        shown = [f"{_shown_key(tuple(r[:-1]))} ({r[-1]} rows)"
                 for r in conn.execute(f"{dupes} LIMIT {DUPLICATES_SHOWN}")]
        raise _refuse(info, f"{parent.name}({', '.join(fk.parent_columns)}) holds {count} duplicate key(s), so no "
                            f"unique index can be made: {_some(shown, count)}; decide with the customer which "
                            "rows to keep.")
    index = free_name(conn, f"{parent.name}_{'_'.join(fk.parent_columns)}_unique")
    # No COLLATE: an index column takes the table column's own collation, the one SQLite requires
    # of a parent key (foreignkeys.html, 3) for the index to count.
    create = f"CREATE UNIQUE INDEX {quote(index)} ON {quote(parent.name)} ({pcols})"
    fixed = dataclasses.replace(fk, parent_key_unique=True)
    remaining = count_violations(conn, child, fixed)
    still = f"; {remaining} row(s) of {child.name} then still match none (repair orphans next)" if remaining else ""
    summary = (f"{parent.name}({', '.join(fk.parent_columns)}) gets the unique index {index} (no key repeats), so "
               f"{_key_text(child.name, fk)} works again{still}.")
    return RepairPlan(PlanKind.UNIQUE_PARENT, parent.name, Procedure.STATEMENTS,
                      _checked(info, ["BEGIN", create, "COMMIT"]), summary, source=info.database,
                      columns=tuple(fk.columns), parent_table=parent.name, remaining=remaining)


# --------------------------------------------------------------------------- orphans
def _event(sql: str | None) -> str:
    """The write a trigger fires on (INSERT, UPDATE or DELETE), '' when its text cannot be read."""
    try:
        words = [t.upper for t in significant(tokenize(sql or ""))]
    except ValueError:
        return ""
    return next((w for w in words if w in ("INSERT", "UPDATE", "DELETE")), "")


def refuse_triggers(info: DatabaseInfo, table: str, event: str) -> None:
    """A trigger of the file on the rows the plan writes would write more than the plan lists (in the
    sqlite3 shell running --sql too): refused, naming it."""
    firing = [t.name for t in info.triggers
              if t.table.lower() == table.lower() and _event(t.sql) in (event, "")]
    if firing:
        raise _refuse(info, f"the trigger(s) {', '.join(firing)} on {table} would fire on the plan's {event} and "
                            "could change rows the plan does not list, so the toolkit will not run it; decide with "
                            "the customer, or repair that table by hand.")


def _not_null(table: TableInfo, column: str) -> bool:
    col = table.column(column)
    # a primary key column: NULL there is refused (WITHOUT ROWID) or renumbers the row (a rowid alias)
    return col is None or col.notnull or col.pk > 0


def _placeholder_blockers(parent: TableInfo, fk: ForeignKeyInfo) -> list[str]:
    """Parent columns a row with just the key cannot fill: NOT NULL without a DEFAULT (a rowid
    alias fills itself, a generated column computes itself)."""
    keys = {c.lower() for c in fk.parent_columns}
    alias = (not parent.without_rowid and len(parent.primary_key) == 1
             and (parent.column(parent.primary_key[0]) or parent.columns[0]).type.upper() == "INTEGER")
    blocked = []
    for col in parent.columns:
        if col.name.lower() in keys or col.generated or col.default is not None:
            continue
        if alias and col.name == parent.primary_key[0]:
            continue
        if col.notnull or (col.pk and parent.without_rowid):
            blocked.append(col.name)
    return blocked


def _orphan_statements(info: DatabaseInfo, child: TableInfo, fk: ForeignKeyInfo, action: OrphanAction,
                       conn: sqlite3.Connection) -> list[str]:
    where = orphan_condition(child, fk)
    if action is OrphanAction.DELETE:
        body = f"DELETE FROM {quote(child.name)} WHERE {where}"
    elif action is OrphanAction.SET_NULL:
        sets = ", ".join(f"{quote(c)} = NULL" for c in fk.columns)
        body = f"UPDATE {quote(child.name)} SET {sets} WHERE {where}"
    else:
        parent = info.table(fk.parent_table)
        assert parent is not None  # the key works
        colls = parent_collations(conn, parent, fk)
        group = ", ".join(f"{quote(child.name)}.{quote(c)} COLLATE {quote(coll)}"
                          for c, coll in zip(fk.columns, colls, strict=True))
        picked = ", ".join(f"{quote(child.name)}.{quote(c)}" for c in fk.columns)
        body = (f"INSERT INTO {quote(parent.name)} ({', '.join(quote(c) for c in fk.parent_columns)}) "
                f"SELECT {picked} FROM {quote(child.name)} WHERE {where} GROUP BY {group}")
    # keys off: the plan's own writes must set off no ON DELETE/UPDATE action of another key
    return ["PRAGMA foreign_keys = OFF", "BEGIN", body, "COMMIT", "PRAGMA foreign_keys = ON"]


def _refuse_dependents(conn: sqlite3.Connection, info: DatabaseInfo, child: TableInfo, fk: ForeignKeyInfo) -> None:
    """Deleting the rows must not leave other rows referencing them (rows of another key, or of this
    table through another of its keys)."""
    where = orphan_condition(child, fk)
    for other in info.tables:
        for ofk in other.foreign_keys:
            if ofk.parent_table.lower() != child.name.lower() or not _works(info, ofk):
                continue
            alias = quote("toolkit_child" if other.name.lower() != "toolkit_child" else "toolkit_child_2")
            match = " AND ".join(f"{quote(child.name)}.{quote(pc)} = +{alias}.{quote(cc)}"
                                 for cc, pc in zip(ofk.columns, ofk.parent_columns, strict=True))
            (n,) = conn.execute(f"SELECT count(*) FROM {quote(other.name)} AS {alias} WHERE EXISTS "
                                f"(SELECT 1 FROM {quote(child.name)} WHERE {where} AND {match})").fetchone()
            if n:
                raise _refuse(info, f"deleting the orphan rows of {_key_text(child.name, fk)} would leave {n} row(s) "
                                    f"of {other.name} referencing them through ({', '.join(ofk.columns)}); repair "
                                    "those first, or use --action set-null.")


def _refuse_new_orphans(conn: sqlite3.Connection, info: DatabaseInfo, parent: TableInfo, fk: ForeignKeyInfo,
                        keys: list[tuple[Any, ...]]) -> None:
    """A placeholder row must not itself violate one of the parent's own keys (PlaylistTrack(9, 9)
    needs Playlist 9): refused, naming the first such key."""
    position = {c.lower(): i for i, c in enumerate(fk.parent_columns)}
    for pfk in parent.foreign_keys:
        if not _works(info, pfk) or not all(c.lower() in position for c in pfk.columns):
            continue
        for values in keys:
            mapped = tuple(values[position[c.lower()]] for c in pfk.columns)
            if None not in mapped and not parent_row_exists(conn, pfk.parent_table, pfk.parent_columns, mapped):
                raise _refuse(info, f"a placeholder row {_shown_key(values)} in {parent.name} would itself violate "
                                    f"{_key_text(parent.name, pfk)}, so placeholders cannot repair these rows: "
                                    "use --action delete or set-null.")


def plan_orphans(conn: sqlite3.Connection, info: DatabaseInfo, *, table: str | None = None,
                 columns: Iterable[str] | None = None, action: OrphanAction | None = None) -> RepairPlan:
    """The rows violating a working key: listed (no action), deleted, their key set to NULL, or given
    placeholder parents (a parent row with just the key)."""
    child, fk = _violated_key(conn, info, table, columns)
    rows = orphan_rows(conn, info, child, fk)
    if not rows:
        raise _refuse(info, f"no row violates {_key_text(child.name, fk)}, so there is nothing to repair.")
    parent = info.table(fk.parent_table)
    assert parent is not None
    cols = ", ".join(fk.columns)
    if action is OrphanAction.SET_NULL:
        blocked = [c for c in fk.columns if _not_null(child, c)]
        if blocked:
            raise _refuse(info, f"{child.name}.{blocked[0]} is NOT NULL (or part of the primary key), so the key "
                                "cannot be set to NULL: use --action delete or placeholder.")
    if action is OrphanAction.PLACEHOLDER:
        blocked = _placeholder_blockers(parent, fk)
        if blocked:
            raise _refuse(info, f"{parent.name}'s column(s) {', '.join(blocked)} are NOT NULL without a DEFAULT, so "
                                "a placeholder row with just the key cannot be inserted: use --action delete or "
                                "set-null.")
        refuse_triggers(info, parent.name, "INSERT")
        _refuse_new_orphans(conn, info, parent, fk, [values for _, values in rows])
    elif action is not None:
        refuse_triggers(info, child.name, "DELETE" if action is OrphanAction.DELETE else "UPDATE")
    if action is OrphanAction.DELETE:
        _refuse_dependents(conn, info, child, fk)
    touched = _orphans_touched(child, parent, fk, rows, action)
    keys = [_shown_key(values) for _, values in rows]
    what = {None: "would be touched; choose --action delete, set-null or placeholder",
            OrphanAction.DELETE: "will be deleted",
            OrphanAction.SET_NULL: f"will have {cols} set to NULL",
            OrphanAction.PLACEHOLDER: f"will get {len(touched)} placeholder row(s) in {parent.name}"}[action]
    summary = (f"{len(rows)} row(s) of {child.name} violate {_key_text(child.name, fk)} ({cols} "
               f"{_some(keys, len(keys))}) and {what}.")
    statements = _orphan_statements(info, child, fk, action, conn) if action else []
    return RepairPlan(PlanKind.ORPHANS, child.name, Procedure.STATEMENTS, _checked(info, statements), summary,
                      touched=touched, source=info.database, columns=tuple(fk.columns), parent_table=parent.name,
                      action=action, remaining=len(rows) if action is None else 0)


def _violated_key(conn: sqlite3.Connection, info: DatabaseInfo, table: str | None, columns: Iterable[str] | None
                  ) -> tuple[TableInfo, ForeignKeyInfo]:
    """The key a row plan is about: the one named, if SQLite can check it, else the only one rows violate."""
    if columns is not None:
        return choose_key(info, table, columns, lambda t, k: _works(info, k),
                          "SQLite can check (repair repoint or unique-parent first)")
    return choose_key(info, table, None, lambda t, k: _works(info, k) and count_violations(conn, t, k) > 0,
                      "rows violate")


def _orphans_touched(child: TableInfo, parent: TableInfo, fk: ForeignKeyInfo,
                     rows: list[tuple[tuple[Any, ...], tuple[Any, ...]]], action: OrphanAction | None
                     ) -> tuple[TouchedRow, ...]:
    if action is OrphanAction.PLACEHOLDER:
        seen: dict[tuple[Any, ...], None] = {}
        for _, values in rows:
            seen.setdefault(values)
        return tuple(TouchedRow(parent.name, values, "insert placeholder") for values in seen)
    change = {None: "violates", OrphanAction.DELETE: "delete",
              OrphanAction.SET_NULL: "set " + ", ".join(f"{c} = NULL" for c in fk.columns)}[action]
    return tuple(TouchedRow(child.name, key, change) for key, _ in rows)


# --------------------------------------------------------------------------- retype
#: The storage classes a value may be converted to, and SQLite's CAST for each.
CASTS = {"integer": "INTEGER", "real": "REAL", "text": "TEXT"}


def _conversions(conn: sqlite3.Connection, value: Any) -> list[tuple[str, Any]]:
    """The exact conversions of `value` to another storage class: CAST there and back gives the same
    value, of the same class, byte for byte ('5' -> 5 yes; '05' -> 5 no)."""
    found = []
    for klass, cast in CASTS.items():
        if klass == sql_type(value):
            continue
        back = CASTS.get(sql_type(value), "BLOB")
        new, again = conn.execute(f"SELECT CAST(?1 AS {cast}), CAST(CAST(?1 AS {cast}) AS {back})",
                                  (value,)).fetchone()
        if sql_type(new) == klass and sql_type(again) == sql_type(value) and again == value:
            found.append((klass, new))
    return found


_Combo = list[tuple[str | None, Any]]


def _matching(conn: sqlite3.Connection, parent: TableInfo, fk: ForeignKeyInfo, options: list[_Combo]
              ) -> _Combo | None:
    """The first choice of one conversion per key column (at least one converted) that finds a parent row."""
    combos: list[_Combo] = [[]]
    for choice in options:
        combos = [c + [o] for c in combos for o in choice]
    return next((combo for combo in combos if any(k for k, _ in combo)
                 and parent_row_exists(conn, parent.name, fk.parent_columns, tuple(v for _, v in combo))), None)


def _retyped(conn: sqlite3.Connection, child: TableInfo, parent: TableInfo, fk: ForeignKeyInfo,
             values: tuple[Any, ...]) -> tuple[tuple[str | None, ...], str] | str:
    """Per key column, the class to convert to (None: leave it), so that the key then finds its parent,
    and the change in words; else why not.  The child column must store the new class as it is (a
    TEXT column would turn 5 back into '5')."""
    kept: list[_Combo] = []
    every: list[_Combo] = []
    affinities = []
    for col, value in zip(fk.columns, values, strict=True):
        column = child.column(col)
        aff = column.affinity if column else "BLOB"
        affinities.append(aff)
        exact = _conversions(conn, value)
        every.append([(None, value), *exact])
        kept.append([(None, value), *((k, v) for k, v in exact if sql_type(stored_as(conn, v, aff)) == k)])
    combo = _matching(conn, parent, fk, kept)
    if combo is not None:
        change = ", ".join(f"{c} {literal(old)} -> {literal(new)}"
                           for c, old, (k, new) in zip(fk.columns, values, combo, strict=True) if k)
        return tuple(k for k, _ in combo), change
    blocked = _matching(conn, parent, fk, every)
    if blocked is not None:
        col, aff, (_, new) = next((c, a, o) for c, a, o in zip(fk.columns, affinities, blocked, strict=True) if o[0])
        return (f"{_shown_key(values)}: the parent holds {literal(new)}, but {col}'s {aff} affinity would store it as "
                f"{literal(stored_as(conn, new, aff))} again (correct the parent's key instead)")
    return f"{_shown_key(values)}: no exact conversion finds a parent"


def _retype_statements(child: TableInfo, fk: ForeignKeyInfo, key: list[str],
                       groups: dict[tuple[str | None, ...], list[tuple[Any, ...]]]) -> list[str]:
    statements = ["PRAGMA foreign_keys = OFF", "BEGIN"]
    target = quote(key[0]) if len(key) == 1 else f"({', '.join(quote(k) for k in key)})"
    for classes, keys in groups.items():
        sets = ", ".join(f"{quote(c)} = CAST({quote(c)} AS {CASTS[k]})"
                         for c, k in zip(fk.columns, classes, strict=True) if k)
        for i in range(0, len(keys), CHUNK):
            listed = ", ".join(_shown_key(k) for k in keys[i:i + CHUNK])
            statements.append(f"UPDATE {quote(child.name)} SET {sets} WHERE {target} IN ({listed})"
                              if len(key) == 1 else
                              f"UPDATE {quote(child.name)} SET {sets} WHERE {target} IN (VALUES {listed})")
    return statements + ["COMMIT", "PRAGMA foreign_keys = ON"]


def plan_retype(conn: sqlite3.Connection, info: DatabaseInfo, *, table: str | None = None,
                columns: Iterable[str] | None = None) -> RepairPlan:
    """Child keys that match a parent key only as another storage class ('5' and 5) converted to the
    parent's class, row by row, only where the conversion is exact; the others are listed as skipped."""
    child, fk = _violated_key(conn, info, table, columns)
    parent = info.table(fk.parent_table)
    assert parent is not None
    key = row_key(info, child)
    touched, skipped = [], []
    groups: dict[tuple[str | None, ...], list[tuple[Any, ...]]] = {}
    for rk, values in orphan_rows(conn, info, child, fk):
        found = _retyped(conn, child, parent, fk, values)
        if isinstance(found, str):
            skipped.append(TouchedRow(child.name, rk, found))
            continue
        classes, change = found
        groups.setdefault(classes, []).append(rk)
        touched.append(TouchedRow(child.name, rk, change))
    if not touched:
        raise _refuse(info, f"none of the {len(skipped)} row(s) violating {_key_text(child.name, fk)} can be "
                            f"converted to match a parent key ({skipped[0].change}), so retype has nothing to do.")
    refuse_triggers(info, child.name, "UPDATE")
    left = f"; {len(skipped)} skipped (no exact conversion): {_some([r.change for r in skipped], len(skipped))}"
    summary = (f"{len(touched)} row(s) of {child.name} will have their key converted to {parent.name}'s storage "
               f"class ({_some([r.change for r in touched], len(touched))}){left if skipped else ''}.")
    return RepairPlan(PlanKind.RETYPE, child.name, Procedure.STATEMENTS,
                      _checked(info, _retype_statements(child, fk, key, groups)), summary, touched=tuple(touched),
                      source=info.database, columns=tuple(fk.columns), parent_table=parent.name,
                      remaining=len(skipped), skipped=tuple(skipped))


# --------------------------------------------------------------------------- building by name
@dataclass(frozen=True)
class RowOptions:
    """The command line's plan options, as the builders take them."""

    table: str | None = None
    columns: tuple[str, ...] | None = None
    to: str | None = None
    action: OrphanAction | None = None


def build_plan(kind: PlanKind, conn: sqlite3.Connection, info: DatabaseInfo, options: RowOptions) -> RepairPlan:
    if kind is PlanKind.REPOINT:
        return plan_repoint(conn, info, table=options.table, columns=options.columns, to=options.to)
    if kind is PlanKind.UNIQUE_PARENT:
        return plan_unique_parent(conn, info, table=options.table, columns=options.columns)
    if kind is PlanKind.ORPHANS:
        return plan_orphans(conn, info, table=options.table, columns=options.columns, action=options.action)
    if kind is PlanKind.RETYPE:
        return plan_retype(conn, info, table=options.table, columns=options.columns)
    raise errors.RefusedError(f"{kind} is not a row plan.")


def script(plan: RepairPlan) -> str:
    """The plan as a script for the sqlite3 shell (each statement was checked when the plan was made)."""
    header = _comment(f"repair {plan.kind} for {plan.source}: {plan.summary}")
    lines = "".join(_comment(f"  {r.table} {_shown_key(r.key)}: {r.change}") for r in plan.touched[:1000])
    more = _comment(f"  and {len(plan.touched) - 1000} more") if len(plan.touched) > 1000 else ""
    return render(list(plan.statements), header + lines + more)


def _comment(text: str) -> str:
    """One comment line of the script.  Its text comes from the file (names, key values): a line break
    there would end the comment, and the next line could be a dot-command the sqlite3 shell runs."""
    return "-- " + re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", " ", text) + "\n"


# --------------------------------------------------------------------------- the proof
@dataclass(frozen=True)
class RowProof:
    """What `prove_rows` checked on the repaired copy against the copy taken before, as (check, passed)."""

    checks: tuple[tuple[str, bool], ...]
    original_unchanged: bool = False

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(text for text, ok in self.checks if not ok)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[tuple[str, bool]]:
        return [*self.checks, ("the original is byte-identical (SHA-256, sidecars included)", self.original_unchanged)]


@dataclass(frozen=True)
class _Changes:
    deleted: set[tuple[Any, ...]]
    changed: set[tuple[Any, ...]]
    added: int


def row_changes(conn: sqlite3.Connection, info: DatabaseInfo, table: TableInfo) -> _Changes:
    """The rows of `table` deleted, changed (any column's value, type or bytes) and added between the
    attached `before` copy and `main`, found by joins in SQL on the rowid (or primary key)."""
    key = row_key(info, table)
    join = " AND ".join(f"a.{quote(k)} = b.{quote(k)}" for k in key)
    keys = ", ".join(f"b.{quote(k)}" for k in key)
    name = quote(table.name)
    differs = any_of([f"(a.{quote(c.name)} IS NOT b.{quote(c.name)} COLLATE BINARY OR "
                      f"typeof(a.{quote(c.name)}) <> typeof(b.{quote(c.name)}))" for c in table.columns])
    deleted = {tuple(r) for r in conn.execute(
        f"SELECT {keys} FROM before.{name} AS b WHERE NOT EXISTS (SELECT 1 FROM main.{name} AS a WHERE {join})")}
    changed = {tuple(r) for r in conn.execute(
        f"SELECT {keys} FROM before.{name} AS b JOIN main.{name} AS a ON {join} WHERE {differs}")}
    (added,) = conn.execute(f"SELECT count(*) FROM main.{name} AS b WHERE NOT EXISTS "
                            f"(SELECT 1 FROM before.{name} AS a WHERE {join})").fetchone()
    return _Changes(deleted, changed, added)


def _only_key_changed(conn: sqlite3.Connection, info: DatabaseInfo, table: TableInfo, columns: tuple[str, ...],
                      how: Callable[[str], str]) -> int:
    """Rows that differ in a column outside the key, or whose key did not change as `how` says."""
    key = row_key(info, table)
    join = " AND ".join(f"a.{quote(k)} = b.{quote(k)}" for k in key)
    keyed = {c.lower() for c in columns}
    terms = [f"a.{quote(c.name)} IS NOT b.{quote(c.name)} COLLATE BINARY OR typeof(a.{quote(c.name)}) <> "
             f"typeof(b.{quote(c.name)})" for c in table.columns if c.name.lower() not in keyed]
    key_differs = any_of([f"(a.{quote(c)} IS NOT b.{quote(c)} COLLATE BINARY OR typeof(a.{quote(c)}) <> "
                          f"typeof(b.{quote(c)}))" for c in columns])
    # a row whose key changed must have changed as `how` says, in every key column
    terms.append(f"({key_differs}) AND NOT ({' AND '.join(how(quote(c)) for c in columns)})")
    name = quote(table.name)
    (n,) = conn.execute(f"SELECT count(*) FROM before.{name} AS b JOIN main.{name} AS a ON {join} "
                        f"WHERE {any_of([f'({t})' for t in terms])}").fetchone()
    return int(n)


def _schema_rows(conn: sqlite3.Connection, schema: str) -> set[tuple[Any, ...]]:
    return set(conn.execute(f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_schema"))


def _schema_check(conn: sqlite3.Connection, plan: RepairPlan) -> tuple[str, bool]:
    before, after = _schema_rows(conn, "before"), _schema_rows(conn, "main")
    gone, new = before - after, after - before
    if plan.kind is PlanKind.REPOINT:
        ok = ({r[1] for r in gone} == {plan.table} and len(new) == 1
              and next(iter(new))[3] == plan.new_declaration)
        return f"only {plan.table}'s declaration changed, to the planned one", ok
    if plan.kind is PlanKind.UNIQUE_PARENT:
        create = next(s for s in plan.statements if s.startswith("CREATE UNIQUE INDEX"))
        ok = not gone and len(new) == 1 and next(iter(new))[0] == "index" and next(iter(new))[3] == create
        return "only the planned unique index was added; every other table, index, trigger and view verbatim", ok
    return "every table, index, trigger and view declared as before", not gone and not new


def _written(plan: RepairPlan) -> str | None:
    """The table whose rows the plan writes (None: it writes no row)."""
    if plan.kind is PlanKind.RETYPE or (plan.kind is PlanKind.ORPHANS and plan.action is not None):
        return plan.parent_table if plan.action is OrphanAction.PLACEHOLDER else plan.table
    return None


def _rows_check(conn: sqlite3.Connection, info: DatabaseInfo, plan: RepairPlan) -> list[tuple[str, bool]]:
    """Per table the plan touches: exactly the listed rows changed, as listed; the rest identical."""
    checks = []
    names = {n.lower(): n for n in (plan.table, plan.parent_table) if n}
    listed = {r.key for r in plan.touched if r.table == plan.table}
    for table in (info.table(n) for n in names.values()):
        if table is None:
            continue
        ch = row_changes(conn, info, table)
        if table.name != _written(plan):
            ok = not ch.deleted and not ch.changed and not ch.added
            checks.append((f"every row of {table.name} identical (compared in SQL)", ok))
        elif plan.action is OrphanAction.DELETE:
            ok = ch.deleted == listed and not ch.changed and not ch.added
            checks.append((f"exactly the {len(listed)} listed row(s) of {table.name} deleted, every other row "
                           "identical", ok))
        elif plan.action is OrphanAction.PLACEHOLDER:
            ok = (not ch.deleted and not ch.changed and ch.added == len(plan.touched)
                  and _added_keys(conn, info, table, plan) == _listed_keys(conn, info, table, plan))
            checks.append((f"exactly the {len(plan.touched)} listed placeholder row(s) added to {table.name}, every "
                           "other row identical", ok))
        else:
            how = ((lambda c: f"a.{c} IS NULL") if plan.action is OrphanAction.SET_NULL
                   else (lambda c: f"CAST(a.{c} AS TEXT) IS CAST(b.{c} AS TEXT) COLLATE BINARY"))
            ok = (ch.changed == listed and not ch.deleted and not ch.added
                  and _only_key_changed(conn, info, table, plan.columns, how) == 0)
            checks.append((f"exactly the {len(listed)} listed row(s) of {table.name} changed, only in "
                           f"{', '.join(plan.columns)} and as listed; every other row identical", ok))
    return checks


def _parent_key_columns(info: DatabaseInfo, plan: RepairPlan) -> list[str]:
    key = _plan_key(info, plan)
    return list(key[1].parent_columns) if key else []


def _added_keys(conn: sqlite3.Connection, info: DatabaseInfo, table: TableInfo, plan: RepairPlan
                ) -> set[tuple[Any, ...]]:
    """The parent keys of the rows in `main` that `before` does not have, as stored."""
    key = row_key(info, table)
    join = " AND ".join(f"a.{quote(k)} = b.{quote(k)}" for k in key)
    cols = ", ".join(f"b.{quote(c)}" for c in _parent_key_columns(info, plan))
    return {tuple(r) for r in conn.execute(f"SELECT {cols} FROM main.{quote(table.name)} AS b WHERE NOT EXISTS "
                                           f"(SELECT 1 FROM before.{quote(table.name)} AS a WHERE {join})")}


def _listed_keys(conn: sqlite3.Connection, info: DatabaseInfo, table: TableInfo, plan: RepairPlan
                 ) -> set[tuple[Any, ...]]:
    """The listed placeholder keys as the parent's columns store them (their affinity applied)."""
    columns = [table.column(c) for c in _parent_key_columns(info, plan)]
    return {tuple(stored_as(conn, v, c.affinity if c else "BLOB") for v, c in zip(r.key, columns, strict=True))
            for r in plan.touched}


def _plan_key(info: DatabaseInfo, plan: RepairPlan) -> tuple[TableInfo, ForeignKeyInfo] | None:
    """The plan's key as `info` declares it (the child table is plan.table, except for unique-parent)."""
    def same(t: TableInfo, k: ForeignKeyInfo) -> bool:
        return ([c.lower() for c in k.columns] == [c.lower() for c in plan.columns]
                and k.parent_table.lower() == plan.parent_table.lower())

    first = info.table(plan.table)
    tables = ([first] if first else []) + [t for t in info.tables if t is not first]
    return next(((t, k) for t in tables for k in t.foreign_keys if same(t, k)), None)


def _count(conn: sqlite3.Connection, schema: str, table: str) -> int:
    n: int = conn.execute(f"SELECT count(*) FROM {schema}.{quote(table)}").fetchone()[0]
    return n


def prove_rows(conn: sqlite3.Connection, before_schema: DatabaseInfo, plan: RepairPlan) -> RowProof:
    """Compare the repaired copy (main) with the copy taken before the plan ran (attached as `before`),
    reading only the tables the plan touches."""
    info = before_schema
    checks: list[tuple[str, bool]] = [_schema_check(conn, plan)]
    checks += _rows_check(conn, info, plan)
    deleted = len(plan.touched) if plan.action is OrphanAction.DELETE else 0
    added = len(plan.touched) if plan.action is OrphanAction.PLACEHOLDER else 0
    counts = [(plan.table, -deleted)] if plan.action is not OrphanAction.PLACEHOLDER else [(plan.parent_table, added)]
    for name, delta in counts:
        before, after = _count(conn, "before", name), _count(conn, "main", name)
        checks.append((f"{name} has {after} rows, {before} before{f' {delta:+d}' if delta else ''}",
                       after == before + delta))
    after_info = read_schema(conn, database="after", count_rows=False)
    key = _plan_key(after_info, plan)
    works = key is not None and _works(after_info, key[1])
    checks.append((f"the key ({', '.join(plan.columns)}) -> {plan.parent_table} is one SQLite can check", works))
    if key is not None and works:
        left = count_violations(conn, *key)
        checks.append((f"{left} row(s) violate the key after ({plan.remaining} expected)", left == plan.remaining))
    messages = [str(r[0]) for r in conn.execute("PRAGMA main.integrity_check(5)")]
    checks.append((f"PRAGMA integrity_check: {'; '.join(messages)}", messages == ["ok"]))
    return RowProof(tuple(checks))


# --------------------------------------------------------------------------- applying on a copy
@dataclass(frozen=True)
class RowsResult:
    source: str
    output: str | None
    plan: RepairPlan
    proof: RowProof | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `repair PLAN --json` for the row plans."""
        p = self.plan
        return {
            "plan": str(p.kind), "table": p.table, "columns": list(p.columns), "parent_table": p.parent_table,
            "procedure": str(p.procedure), "action": str(p.action) if p.action else None,
            "summary": p.summary, "output": self.output,
            "touched": [{"table": r.table, "key": list(r.key), "change": r.change} for r in p.touched],
            "skipped": [{"table": r.table, "key": list(r.key), "change": r.change} for r in p.skipped],
            "remaining": p.remaining, "new_declaration": p.new_declaration, "statements": list(p.statements),
            "proof": None if self.proof is None else {
                "ok": self.proof.ok, "checks": [{"check": text, "ok": ok} for text, ok in self.proof.lines()]},
            "seconds": round(self.seconds, 3),
        }


def execute_rows_plan(conn: sqlite3.Connection, plan: RepairPlan) -> None:
    """Run the plan's statements on the copy; the file's triggers may write nothing meanwhile (the
    authorizer refuses the statement instead, as migration.execute_plan does)."""
    with own_writes(conn):
        for statement in plan.statements:
            rows = conn.execute(statement).fetchall()
            if statement == "PRAGMA integrity_check" and [tuple(r) for r in rows] != [("ok",)]:
                raise errors.ProofFailedError(
                    f"The repaired copy of {plan.source} failed PRAGMA integrity_check "
                    f"({'; '.join(str(r[0]) for r in rows[:5])}), so it was not kept; send the file to engineering.",
                    plan.source)


def _run(conn: sqlite3.Connection, plan: RepairPlan) -> None:
    try:
        execute_rows_plan(conn, plan)
    except sqlite3.Error as exc:
        denied = getattr(getattr(conn, "authorizer", None), "denied", [])
        why = f" ({', '.join(denied[-1:])} would have written more rows)" if denied else ""
        raise errors.RefusedError(
            f"The {plan.kind} repair could not be applied to a copy of {plan.source}: SQLite said \"{exc}\"{why}; "
            "nothing was written.", plan.source) from None


def apply_rows_plan(src: str | Path, dest: str | Path, make_plan: Callable[[sqlite3.Connection, DatabaseInfo],
                                                                              RepairPlan], *,
                    force: bool = False) -> RowsResult:
    """Make the plan on a fresh copy of `src` (`make_plan`, so the plan is the one for the very bytes it
    changes), run it there, prove it (`prove_rows`), and only then move the copy to `dest` in one
    atomic rename: a failure or a kill leaves `dest` absent (or, with `force`, as it was)."""
    from .migration import tune_work_copy
    from .output import beside_output, move_into_place

    started = time.perf_counter()
    src, dest = Path(src), Path(dest)
    with beside_output(src, dest, force, "repair") as workdir:
        before_path, after_path = workdir / "before.db", workdir / "after.db"
        with sqlite_errors(src, workdir):
            work = copy_database(src, before_path)
            shutil.copyfile(before_path, after_path)
            conn = connect(after_path)
            try:
                info = read_schema(conn, database=str(src), wal_frames=work.wal_frames, journal_mode=work.journal_mode)
                plan = make_plan(conn, info)
                if plan.kind is PlanKind.ORPHANS and plan.action is None:
                    raise errors.RefusedError("orphans without --action only lists the rows; nothing to apply.", src)
                tune_work_copy(conn)
                _run(conn, plan)
                conn.execute(f"PRAGMA journal_mode = {'WAL' if work.journal_mode == 'wal' else 'DELETE'}").fetchall()
                conn.execute("ATTACH DATABASE ? AS before", (str(before_path),))
                proof = prove_rows(conn, info, plan)
                conn.execute("DETACH DATABASE before")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.close()
        verify_unchanged(work.fingerprint)
        proof = dataclasses.replace(proof, original_unchanged=True)
        if not proof.ok:
            raise errors.ProofFailedError(
                f"The repaired copy of {src} failed its proof ({'; '.join(proof.problems)}), so it was not kept; "
                "send the file to engineering.", src)
        move_into_place(after_path, dest)
    return RowsResult(str(src), str(dest), plan, proof, time.perf_counter() - started)


# --------------------------------------------------------------------------- diagnose's suggestion
_SUGGESTED = {FindingCode.STALE_PARENT_TABLE: PlanKind.REPOINT, FindingCode.DANGLING_REFERENCE: PlanKind.REPOINT,
              FindingCode.PARENT_KEY_NOT_UNIQUE: PlanKind.UNIQUE_PARENT, FindingCode.ORPHAN_ROWS: PlanKind.ORPHANS}


def _arg(text: str) -> str:
    """A command-line argument as a POSIX shell reads it back."""
    return shlex.quote(text)


def _command(kind: PlanKind, database: str, info: DatabaseInfo, table: TableInfo, fk: ForeignKeyInfo) -> str | None:
    """The `repair` command of plan `kind` for one key, or None when the plan cannot name its target."""
    args = [kind.value, database, "--table", table.name, "--columns", ",".join(fk.columns)]
    if kind is PlanKind.REPOINT:
        live = leftover_base(fk.parent_table, info.table_names)
        if live is None:
            return None
        live_table = info.table(live)
        args += ["--to", live_table.name if live_table else live]
    if kind is PlanKind.ORPHANS:
        args += ["--action", "delete"]
    return "python -m toolkit repair " + " ".join(_arg(a) for a in args) + " --out FIXED.db"


def suggested_repair(diagnosis: Any) -> str | None:
    """The command that repairs the problem `diagnosis`'s answer names, when a plan repairs it, else None."""
    info: DatabaseInfo | None = diagnosis.schema
    if info is None:
        return None
    order = ("error", "warning", "info")
    # the finding the answer names (the most serious, first found): the command repairs that one
    for finding in sorted(diagnosis.findings, key=lambda f: order.index(f.severity.value))[:1]:
        kind = _SUGGESTED.get(finding.code)
        if kind is None or finding.severity.value == "info":
            continue
        table = info.table(finding.table or "")
        fk = next((k for k in (table.foreign_keys if table else []) if ", ".join(k.columns) == finding.column), None)
        if table is None or fk is None:
            continue
        return _command(kind, diagnosis.database, info, table, fk)
    return None


#: The plan that repairs the declaration or the values behind a broken reference a statement met.
_FOR_REASON = {"stale-parent-table": PlanKind.REPOINT, "parent-table-missing": PlanKind.REPOINT,
               "parent-key-not-unique": PlanKind.UNIQUE_PARENT, "type-mismatch": PlanKind.RETYPE}


def statement_repair(diagnosis: Any) -> str | None:
    """The command that repairs what made a replayed statement fail, when a plan repairs it: a
    REFERENCES to a dropped or leftover table, a parent key that is not unique, or keys stored as
    another type; a missing parent row is the app's data to restore, not a plan's."""
    info: DatabaseInfo | None = diagnosis.schema
    stmt = diagnosis.statement_simulation
    if info is None or stmt is None or stmt.ok:
        return None
    for v in stmt.violations:
        kind = _FOR_REASON.get(str(v.reason))
        table = info.table(v.table)
        fk = _key_named(table, v.columns) if table else None
        command = _command(kind, diagnosis.database, info, table, fk) if kind and table and fk else None
        if command:
            return command
    return None


def _key_named(table: TableInfo, columns: Iterable[str]) -> ForeignKeyInfo | None:
    wanted = tuple(columns)
    return next((k for k in table.foreign_keys if tuple(k.columns) == wanted), None)
