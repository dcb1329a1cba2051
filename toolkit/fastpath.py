"""SQLite's simpler procedure for schema changes that leave every stored byte as it is.

https://www.sqlite.org/lang_altertable.html#otheralter ("Making Other Kinds Of Table Schema
Changes"): removing CHECK, FOREIGN KEY or NOT NULL constraints needs no rebuild.  In one
transaction: `PRAGMA writable_schema=ON`, the table's declaration replaced in `sqlite_schema`,
`PRAGMA schema_version` set to one more than it was, `PRAGMA writable_schema=OFF`; commit; then
an integrity check.  Its cost does not grow with the rows.

The documentation warns that a mistake here corrupts the file, so nothing reaches the copy
before `storage_change` has shown that the new declaration parses (it is created on a blank
in-memory database) and that it reads every stored record exactly as the old one did: the same
columns in the same order, declared types, collations, defaults, generated expressions,
PRIMARY KEY and UNIQUE constraints (so the same automatic indexes), WITHOUT ROWID and STRICT;
only FOREIGN KEY, NOT NULL and CHECK constraints removed, or a REFERENCES target changed.
Anything else takes the 12-step rebuild.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass

from . import errors
from .ddl import TABLE_CONSTRAINTS, Token, column_segments, parse_create_table, tokenize
from .scripts import is_parse_error
from .sqlnames import literal

#: Column constraints the fast path may remove: none of them is part of a stored record.
_REMOVABLE = frozenset({"NOT NULL", "CHECK", "REFERENCES", "DEFERRABLE"})


def _normal(tokens: list[Token]) -> tuple[str, ...]:
    """Tokens as SQLite reads them: keywords in any case alike, identifiers by the name they spell."""
    return tuple(t.upper or (t.name.lower() if t.kind == "ident" else t.text) for t in tokens)


@dataclass(frozen=True)
class _Shape:
    """What of a declaration decides how its records are read, and what the fast path may drop."""

    #: each column (name, type, kept constraints) and each kept table constraint, in order
    storage: tuple[tuple[str, ...], ...]
    #: the text after the column list (WITHOUT ROWID, STRICT)
    options: tuple[str, ...]
    #: CHECK constraints, column and table ones, as normalised text
    checks: Counter[tuple[str, ...]]


def _table_constraint_kind(defn: list[Token]) -> str:
    i = 2 if defn[0].upper == "CONSTRAINT" else 0
    return defn[i].upper if i < len(defn) else ""


def _shape(sql: str) -> _Shape:
    table = parse_create_table(sql)
    storage: list[tuple[str, ...]] = []
    checks: Counter[tuple[str, ...]] = Counter()
    for defn in table.definitions:
        if defn[0].upper in TABLE_CONSTRAINTS and defn[0].kind == "word":
            kind = _table_constraint_kind(defn)
            if kind == "CHECK":
                checks[_normal(defn[2:] if defn[0].upper == "CONSTRAINT" else defn)] += 1
            elif kind != "FOREIGN":
                storage.append(_normal(defn))
            continue
        segments = column_segments(defn)
        head = defn[: segments[0].first] if segments else defn
        kept = list(_normal(head))
        for seg in segments:
            if seg.kind == "CHECK":
                checks[(head[0].name.lower(), *_normal(defn[seg.first:seg.last]))] += 1
            if seg.kind not in _REMOVABLE:
                kept += _normal(defn[seg.first:seg.last])
        storage.append(tuple(kept))
    options = _normal([t for t in tokenize(sql[table.body_end + 1:]) if t.kind not in ("ws", "comment")])
    return _Shape(tuple(storage), options, checks)


def _create_on_blank(sql: str) -> sqlite3.Connection:
    blank = sqlite3.connect(":memory:", isolation_level=None)
    try:
        blank.execute(sql)
    except BaseException:
        blank.close()
        raise
    return blank


def _catalogue(conn: sqlite3.Connection, table: str) -> tuple[object, ...]:
    """What SQLite itself derives from a declaration: columns, automatic indexes, table options."""
    columns = conn.execute("SELECT cid, name, type, dflt_value, pk, hidden FROM pragma_table_xinfo(?)",
                           (table,)).fetchall()
    indexes = conn.execute("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?) ORDER BY name",
                           (table,)).fetchall()
    keys = [conn.execute("SELECT seqno, cid, name, desc, coll, key FROM pragma_index_xinfo(?)", (name,)).fetchall()
            for name, *_ in indexes]
    options = conn.execute("SELECT type, ncol, wr, strict FROM pragma_table_list(?)", (table,)).fetchall()
    return tuple(columns), tuple(indexes), tuple(map(tuple, keys)), tuple(options)


def _nullability(conn: sqlite3.Connection, table: str) -> list[tuple[str, int]]:
    return conn.execute("SELECT name, \"notnull\" FROM pragma_table_xinfo(?)", (table,)).fetchall()


def _foreign_key_children(conn: sqlite3.Connection, table: str) -> Counter[tuple[str, ...]]:
    rows = conn.execute("SELECT id, \"from\" FROM pragma_foreign_key_list(?) ORDER BY id, seq", (table,)).fetchall()
    keys: dict[int, list[str]] = {}
    for key, column in rows:
        keys.setdefault(key, []).append(column.lower())
    return Counter(tuple(cols) for cols in keys.values())


def check_new_declaration(new_sql: str, source: str = "") -> None:
    """Refuse, before anything touches a copy, a declaration SQLite cannot create."""
    try:
        _create_on_blank(new_sql).close()
    except sqlite3.Error as exc:
        what = "does not parse" if is_parse_error(exc) else "cannot be created"
        raise errors.RefusedError(
            f"{source}: the table's new declaration {what} (SQLite: {exc}) on a blank database, so nothing was "
            "changed; send the file to engineering.", source) from None


def storage_change(old_sql: str, new_sql: str, table: str, source: str = "") -> str | None:
    """None when replacing `old_sql` by `new_sql` leaves every stored record of `table` valid
    (the fast path may run), else why not, in a few words (the 12-step rebuild runs instead).
    Raises when `new_sql` cannot be created at all."""
    check_new_declaration(new_sql, source)
    try:
        old, new = _shape(old_sql), _shape(new_sql)
    except (ValueError, IndexError):
        return "the declaration could not be compared clause by clause"
    if old.storage != new.storage or old.options != new.options:
        return "it changes more than FOREIGN KEY, NOT NULL and CHECK constraints"
    if new.checks - old.checks:
        return "it adds a CHECK constraint"
    try:
        before, after = _create_on_blank(old_sql), _create_on_blank(new_sql)
    except sqlite3.Error:
        return "the old declaration cannot be created on a blank database to compare"
    try:
        if _catalogue(before, table) != _catalogue(after, table):
            return "SQLite derives other columns, indexes or options from it"
        if any(b < a for (_, b), (_, a) in zip(_nullability(before, table), _nullability(after, table), strict=True)):
            return "it adds a NOT NULL constraint"
        if _foreign_key_children(after, table) - _foreign_key_children(before, table):
            return "it adds a foreign key"
    finally:
        before.close()
        after.close()
    return None


# --------------------------------------------------------------------------- the procedure
def statements(table: str, new_sql: str, schema_version: int) -> list[str]:
    """The documented procedure, as the sqlite3 shell runs it (values as literals)."""
    return ["BEGIN",
            "PRAGMA writable_schema = ON",
            f"UPDATE sqlite_schema SET sql = {literal(new_sql)} WHERE type = 'table' AND name = {literal(table)}",
            f"PRAGMA schema_version = {int(schema_version) + 1}",
            "PRAGMA writable_schema = OFF"]


def edit_declaration(conn: sqlite3.Connection, table: str, new_sql: str) -> None:
    """Steps 2-5 of the procedure on the repair's own connection, inside the caller's transaction:
    the declaration bound, never spliced; schema_version read in the same transaction it is bumped."""
    (version,) = conn.execute("PRAGMA schema_version").fetchone()
    conn.execute("PRAGMA writable_schema = ON")
    try:
        cursor = conn.execute("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?", (new_sql, table))
        if cursor.rowcount != 1:
            raise errors.RefusedError(f"the declaration of {table} was not found exactly once in the schema")
        conn.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


def is_refused_edit(exc: sqlite3.Error) -> bool:
    """Whether this SQLite refuses writable_schema edits (SQLITE_DBCONFIG_DEFENSIVE, as some
    builds set it): then the rebuild, which needs no such edit, is the way."""
    return "may not be modified" in str(exc)
