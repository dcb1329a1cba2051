"""Why a child key does or does not find its parent row, by SQLite's own rules.

SQLite's foreign-key check (fkey.c, foreignkeys.html, datatype3.html) skips a row with a NULL in
any key column; otherwise it stores the child value with the child column's affinity, applies the
parent column's affinity to it (an INTEGER PRIMARY KEY parent: the value must become an integer
without loss) and looks it up with the parent key's collation.  Values of different storage
classes are never equal (integers and reals compare as numbers).  `explain_key` answers the same
question with bound lookups on the parent table (`WHERE col = ?` applies exactly that affinity and
collation), and when there is no parent row says which near thing is there instead.
"""
from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo
from .sqlnames import quote

LEFTOVER_SUFFIXES = ("_old", "_new", "_backup", "_bak", "_tmp", "_temp")
#: Near candidates fetched at most per question (each is checked in Python before it is named).
CANDIDATES = 20


class Reason(StrEnum):
    """Why a reference passes or fails ("reason" in the JSON).  The first seven are the video app's
    per-reference reasons since Part 2; the rest were added by Part 11."""

    #: The parent row exists, or a NULL in a key column means SQLite never checks the row.
    OK = "ok"
    #: No parent row has the key, nor anything close to it.
    MISSING_ROW = "missing-row"
    #: A parent key equals it only after trimming spaces or ignoring case, which its collation does not do.
    NEAR_MISS = "near-miss"
    #: A parent key equals it only as another storage class (as text, or as a number).
    TYPE_MISMATCH = "type-mismatch"
    #: The REFERENCES clause names a table that does not exist (SQLite: no such table).
    PARENT_TABLE_MISSING = "parent-table-missing"
    #: The parent columns are not a PRIMARY KEY or UNIQUE with their own collation (foreign key mismatch).
    PARENT_KEY_NOT_UNIQUE = "parent-key-not-unique"
    #: The value is NULL and the column is NOT NULL (a constraint of its own, not the foreign key).
    NULL_NOT_ALLOWED = "null-not-allowed"
    #: Each of some columns of a composite key matches a parent row alone, but no row has them together.
    COMPOSITE_PARTIAL = "composite-partial"
    #: The REFERENCES clause names a leftover of a rebuild (`*_old`) while the live table holds the row.
    STALE_PARENT_TABLE = "stale-parent-table"
    #: A DELETE removed a parent row that children still reference.
    PARENT_DELETED = "parent-deleted"
    #: An UPDATE changed a parent key that children still reference.
    PARENT_KEY_CHANGED = "parent-key-changed"


@dataclass(frozen=True)
class KeyVerdict:
    """One child key against its parent: SQLite's verdict, why, and the evidence."""

    reason: Reason
    #: One sentence, true by SQLite's rules.
    explanation: str
    parent_table: str
    columns: tuple[str, ...]
    #: The key as the child row holds it (the child columns' affinity applied).
    values: tuple[Any, ...]
    #: typeof() of each value: 'integer', 'real', 'text', 'blob' or 'null'.
    storage_classes: tuple[str, ...]
    parent_columns: tuple[str, ...]
    #: The parent key that nearly matches, as stored (a tuple for a composite key), else None.
    candidate: Any = None
    #: The columns of a composite key that each match some parent row alone.
    partial: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK


# --------------------------------------------------------------------------- values
def sql_type(value: Any) -> str:
    """SQLite's storage class of a Python value, as typeof() names it."""
    for kind, name in ((bool, "integer"), (int, "integer"), (float, "real"), (str, "text"), (bytes, "blob")):
        if isinstance(value, kind):
            return name
    return "null"


def fmt(value: Any) -> str:
    """A value as SQL would write it."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bytes):
        return f"x'{value[:16].hex()}'"
    return "NULL" if value is None else str(value)


def stored_as(conn: sqlite3.Connection, value: Any, affinity: str) -> Any:
    """`value` as a column of `affinity` stores it (text '5' in an INTEGER column becomes 5)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS toolkit_affinity "
                 "(\"TEXT\" TEXT, \"NUMERIC\" NUMERIC, \"INTEGER\" INTEGER, \"REAL\" REAL, \"BLOB\" BLOB)")
    conn.execute("DELETE FROM temp.toolkit_affinity")
    conn.execute(f"INSERT INTO temp.toolkit_affinity ({quote(affinity)}) VALUES (?)", (value,))
    return conn.execute(f"SELECT {quote(affinity)} FROM temp.toolkit_affinity").fetchone()[0]


# SQLite turns text into a number when it is one whole number, spaces around allowed (sqlite3AtoF)
_NUMBER = re.compile(r"[ \t\n\f\r]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\f\r]*\Z")


def as_number(value: Any) -> int | float | None:
    """The number a value is, if it is one: an integer, a real, or text that spells one."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.match(value):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return float(text)
    return None


def equal_as_numbers(parent: Any, child: Any) -> bool:
    """Equal as numbers though at least one is text (SQLite never compares text as a number)."""
    p, c = as_number(parent), as_number(child)
    return p is not None and c is not None and (isinstance(parent, str) or isinstance(child, str)) and p == c


def leftover_base(name: str, existing: Collection[str], known: Collection[str] = ()) -> str | None:
    """The table a leftover like `profiles_old` was made from, if it is one (lower case)."""
    lower = name.lower()
    for suffix in LEFTOVER_SUFFIXES:
        if lower.endswith(suffix):
            base = lower[: -len(suffix)]
            if base in existing or base in known:
                return base
    return None


def converts_alike(child_affinity: str, parent_affinity: str) -> bool:
    """Whether two affinities turn every value into the same stored value (INTEGER and NUMERIC do:
    only CAST tells them apart), so a key declared with one and referenced with the other always matches."""
    return child_affinity == parent_affinity or {child_affinity, parent_affinity} == {"INTEGER", "NUMERIC"}


# --------------------------------------------------------------------------- the declaration
def parent_key_usable(parent: TableInfo, fk: ForeignKeyInfo) -> bool | None:
    """Whether SQLite can use the parent key: a PRIMARY KEY or UNIQUE index on exactly those columns
    *with each column's own collation* (sqlite3FkLocateIndex).  The declarations are replayed in an
    empty in-memory database and SQLite itself asked; None when they cannot be replayed there
    (an unknown collation or module)."""
    if not fk.parent_key_unique:
        return False
    statements = (parent.sql, *(i.sql for i in parent.indexes if i.unique and i.sql))
    if any(sql is None or not sql.lstrip().upper().startswith("CREATE") for sql in statements):
        return None  # only the file's own declarations are replayed, nothing else a damaged file could hold
    return _usable(tuple(str(sql) for sql in statements), parent.name, tuple(fk.parent_columns))


@functools.lru_cache(maxsize=256)  # a statement breaking many rows asks about the same few keys
def _usable(statements: tuple[str, ...], parent: str, parent_columns: tuple[str, ...]) -> bool | None:
    scratch = sqlite3.connect(":memory:")
    scratch.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    try:
        try:
            for sql in statements:
                scratch.execute(sql)
            cols = ", ".join(f"c{i}" for i in range(len(parent_columns)))
            scratch.execute(f"CREATE TABLE toolkit_child ({cols}, FOREIGN KEY ({cols}) REFERENCES "
                            f"{quote(parent)} ({', '.join(quote(c) for c in parent_columns)}))")
        except sqlite3.Error:
            return None
        try:
            scratch.execute("PRAGMA foreign_key_check(toolkit_child)").fetchall()
        except sqlite3.Error:  # the only thing an empty child's check can raise: foreign key mismatch
            return False
        return True
    finally:
        scratch.close()


# --------------------------------------------------------------------------- lookups
def _where(columns: tuple[str, ...] | list[str], alias: str = "p") -> str:
    return " AND ".join(f"{alias}.{quote(c)} = ?" for c in columns)


def parent_row_exists(conn: sqlite3.Connection, table: str, columns: tuple[str, ...] | list[str],
                      values: tuple[Any, ...]) -> bool:
    # A bound value has no affinity, so SQLite applies the column's affinity and collation to it:
    # the comparison its foreign-key lookup makes.
    sql = f"SELECT 1 FROM {quote(table)} AS p WHERE {_where(columns)} LIMIT 1"
    return conn.execute(sql, values).fetchone() is not None


def _type_match(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], compared: tuple[Any, ...]
                ) -> tuple[tuple[Any, ...], list[str]] | None:
    """A parent row whose key equals `compared` only as another storage class: as text (17 and '17'
    in an untyped column, a blob and the text of its bytes), or as numbers ('01581' and 1581).
    Returns the row's key and, per column, 'text', 'number' or '' (equal as SQLite compares)."""
    terms, params = [], []
    for col, value in zip(columns, compared, strict=True):
        c = f"p.{quote(col)}"
        number = as_number(value)
        term = f"({c} = ? OR (typeof({c}) <> ? AND CAST({c} AS TEXT) = CAST(? AS TEXT))"
        params += [value, sql_type(value), value]
        if number is not None:  # a cheap filter; as_number() decides below
            term += f" OR (typeof({c}) IN ('integer', 'real', 'text') AND CAST({c} AS REAL) = ?)"
            params.append(float(number))
        terms.append(term + ")")
    flags = ", ".join(f"p.{quote(c)} = ?, typeof(p.{quote(c)}) <> ? AND CAST(p.{quote(c)} AS TEXT) = CAST(? AS TEXT)"
                      for c in columns)
    flag_params = [x for v in compared for x in (v, sql_type(v), v)]
    select = ", ".join(f"p.{quote(c)}" for c in columns)
    sql = f"SELECT {select}, {flags} FROM {quote(table)} AS p WHERE {' AND '.join(terms)} LIMIT {CANDIDATES}"
    for row in conn.execute(sql, (*flag_params, *params)):
        key, how = tuple(row[: len(columns)]), []
        for i, value in enumerate(compared):
            exact, as_text = row[len(columns) + 2 * i], row[len(columns) + 2 * i + 1]
            how.append("" if exact else "text" if as_text else "number" if equal_as_numbers(key[i], value) else "-")
        if "-" not in how:
            return key, how
    return None


def _near_match(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], compared: tuple[Any, ...]
                ) -> tuple[Any, ...] | None:
    """A parent row whose key equals `compared` after trim() and lower() (spaces and ASCII case)."""
    terms = [f"(p.{quote(c)} = ? OR lower(trim(CAST(p.{quote(c)} AS TEXT))) = lower(trim(CAST(? AS TEXT))))"
             for c in columns]
    params = [x for v in compared for x in (v, v)]
    select = ", ".join(f"p.{quote(c)}" for c in columns)
    row = conn.execute(f"SELECT {select} FROM {quote(table)} AS p WHERE {' AND '.join(terms)} LIMIT 1",
                       params).fetchone()
    return tuple(row) if row else None


# --------------------------------------------------------------------------- the verdict
@dataclass(frozen=True)
class _Key:
    """What the explanation sentences need about one key."""

    child: str
    columns: tuple[str, ...]
    values: tuple[Any, ...]
    parent: str
    parent_columns: tuple[str, ...]

    @property
    def names(self) -> str:
        return self.columns[0] if len(self.columns) == 1 else f"({', '.join(self.columns)})"

    @property
    def shown(self) -> str:
        vals = [fmt(v) for v in self.values]
        return f"{self.names} {vals[0]}" if len(vals) == 1 else f"{self.names} = ({', '.join(vals)})"

    @property
    def target(self) -> str:
        cols = self.parent_columns
        return f"{self.parent}.{cols[0]}" if len(cols) == 1 else f"{self.parent}({', '.join(cols)})"


def _one(values: tuple[Any, ...]) -> Any:
    return values[0] if len(values) == 1 else values


def explain_key(conn: sqlite3.Connection, info: DatabaseInfo, child_table: str, fk: ForeignKeyInfo,
                values: tuple[Any, ...]) -> KeyVerdict:
    """Why the key `values` of a `child_table` row (in `fk`'s column order, as inserted or as stored)
    does or does not find its parent, by SQLite's rules.  Reads only (bound LIMIT lookups; the
    near-miss scans are SQL with a LIMIT).  The parent rows are those on `conn` now: a row that
    is its own parent (a self-reference) is found once it is written, not before."""
    if len(values) != len(fk.columns):
        raise ValueError(f"{len(fk.columns)} key values expected, {len(values)} given")
    child = info.table(child_table)
    stored = tuple(_child_value(conn, child, col, v) for col, v in zip(fk.columns, values, strict=True))
    key = _Key(child_table, tuple(fk.columns), stored, fk.parent_table, tuple(fk.parent_columns))
    reason, explanation, candidate, partial = _judge(conn, info, fk, key)
    return KeyVerdict(reason, explanation, fk.parent_table, key.columns, stored, tuple(sql_type(v) for v in stored),
                      key.parent_columns, candidate, partial)


def _child_value(conn: sqlite3.Connection, child: TableInfo | None, column: str, value: Any) -> Any:
    """The value as the child column stores it (SQLite applies it before the key check)."""
    col = child.column(column) if child else None
    return value if value is None or col is None else stored_as(conn, value, col.affinity)


_Judgement = tuple[Reason, str, Any, tuple[str, ...]]


def _judge(conn: sqlite3.Connection, info: DatabaseInfo, fk: ForeignKeyInfo, key: _Key) -> _Judgement:
    # A broken declaration fails every write of the child table, NULL keys too: SQLite refuses the
    # statement when it compiles it, before it reads any value.
    parent = info.table(fk.parent_table) if fk.parent_table_exists and _in_file(conn, fk.parent_table) else None
    if parent is None:
        return (Reason.PARENT_TABLE_MISSING, f"{key.names} references {key.parent}, which does not exist "
                "(SQLite: no such table)", None, ())
    usable = parent_key_usable(parent, fk)
    if usable is False or not fk.parent_key_unique:
        how = ("neither a PRIMARY KEY nor UNIQUE" if not fk.parent_key_unique
               else "UNIQUE only under another collation than its own")
        return (Reason.PARENT_KEY_NOT_UNIQUE, f"{key.names} references {key.target}, which is {how} "
                "(SQLite: foreign key mismatch)", None, ())
    if any(v is None for v in key.values):
        nulls = [c for c, v in zip(key.columns, key.values, strict=True) if v is None]
        return (Reason.OK, f"{', '.join(nulls)} {'is' if len(nulls) == 1 else 'are'} NULL, so SQLite never checks "
                f"this row against {key.parent} (a NULL in any key column exempts the row)", None, ())
    compared = _compared(conn, parent, key)
    if parent_row_exists(conn, parent.name, key.parent_columns, key.values):
        return Reason.OK, f"{key.shown} matches a row in {key.parent}{_conversion(key, compared)}", None, ()
    return _no_row(conn, info, parent, key, compared)


def _in_file(conn: sqlite3.Connection, table: str) -> bool:
    """Whether the table is in the file now: statements replayed on `conn` may have dropped it."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                        (table,)).fetchone() is not None


def _compared(conn: sqlite3.Connection, parent: TableInfo, key: _Key) -> tuple[Any, ...]:
    """The child values as SQLite compares them: with each parent column's affinity applied."""
    out = []
    for col, value in zip(key.parent_columns, key.values, strict=True):
        pcol = parent.column(col)
        out.append(stored_as(conn, value, pcol.affinity) if pcol else value)
    return tuple(out)


def _conversion(key: _Key, compared: tuple[Any, ...]) -> str:
    changed = [(v, c) for v, c in zip(key.values, compared, strict=True) if sql_type(v) != sql_type(c)]
    if not changed:
        return ""
    return " (compared as " + ", ".join(f"{fmt(c)}" for _, c in changed) + ", the parent column's affinity applied)"


def _no_row(conn: sqlite3.Connection, info: DatabaseInfo, parent: TableInfo, key: _Key,
            compared: tuple[Any, ...]) -> _Judgement:
    live = _live_table(conn, info, parent, key)
    if live is not None:
        return (Reason.STALE_PARENT_TABLE, f"{key.shown} has no row in {key.parent}, a leftover of a rebuild that "
                f"the REFERENCES clause names, while the live {live} has the row", None, ())
    typed = _type_match(conn, parent.name, key.parent_columns, compared)
    if typed is not None:
        return Reason.TYPE_MISMATCH, _type_sentence(parent, key, compared, *typed), _one(typed[0]), ()
    near = _near_match(conn, parent.name, key.parent_columns, compared)
    if near is not None:
        return Reason.NEAR_MISS, _near_sentence(key, compared, near, _what_differs(conn, parent, key, compared,
                                                                                 near)), _one(near), ()
    if len(key.columns) > 1:
        partial = tuple(c for c, pc, v in zip(key.columns, key.parent_columns, key.values, strict=True)
                        if parent_row_exists(conn, parent.name, [pc], (v,)))
        if partial:
            return Reason.COMPOSITE_PARTIAL, _partial_sentence(key, partial), None, partial
    return Reason.MISSING_ROW, f"{key.shown} has no row in {key.parent}{_conversion(key, compared)}", None, ()


def _live_table(conn: sqlite3.Connection, info: DatabaseInfo, parent: TableInfo, key: _Key) -> str | None:
    """The live table a leftover parent was made from, when it holds the row the leftover lacks."""
    base = leftover_base(parent.name, info.table_names)
    live = info.table(base) if base else None
    if live is None or live.name == parent.name or any(live.column(c) is None for c in key.parent_columns):
        return None
    return live.name if parent_row_exists(conn, live.name, key.parent_columns, key.values) else None


def _type_sentence(parent: TableInfo, key: _Key, compared: tuple[Any, ...], found: tuple[Any, ...],
                   how: list[str]) -> str:
    i = next(i for i, h in enumerate(how) if h)  # the first column that differs in type
    pcol = parent.column(key.parent_columns[i])
    value, seen, held = key.values[i], compared[i], found[i]
    where = f"{key.parent}.{key.parent_columns[i]}"
    if pcol is None or pcol.affinity == "BLOB":
        rule = f"{where} has no type affinity, so SQLite compares values as stored"
    elif sql_type(seen) != sql_type(value):
        rule = f"SQLite compares it as {fmt(seen)} ({sql_type(seen)}), {where}'s {pcol.affinity} affinity applied"
    else:
        rule = f"{pcol.affinity} affinity leaves it {sql_type(seen)}"
    if how[i] == "text":
        why = (f"equal only as text, and with the affinity applied SQLite compares {_a(sql_type(seen))} with "
               f"{_a(sql_type(held))}, which are never equal")
    elif sql_type(seen) == sql_type(held):
        why = "equal only as numbers, and SQLite compares two texts as text"
    else:
        why = (f"equal only as numbers, and with the affinity applied SQLite compares {_a(sql_type(seen))} with "
               f"{_a(sql_type(held))}, which are never equal")
    return (f"{key.columns[i]} {fmt(value)} is {sql_type(value)} and {rule}, but {where} holds {fmt(held)} as "
            f"{sql_type(held)}: {why}")


def _a(storage_class: str) -> str:
    return ("an " if storage_class[0] in "aeiou" else "a ") + storage_class


def _what_differs(conn: sqlite3.Connection, parent: TableInfo, key: _Key, compared: tuple[Any, ...],
                  near: tuple[Any, ...]) -> set[str]:
    """What keeps the key from the near parent key under the parent's own collation (NOCASE
    ignores case, RTRIM trailing spaces): in each column the near key's value is given the child's
    spaces, or another case, and the parent table asked whether it still finds the row."""
    differs = set()
    for i, seen in enumerate(compared):
        def finds(value: Any, i: int = i) -> bool:
            return parent_row_exists(conn, parent.name, key.parent_columns, (*near[:i], value, *near[i + 1:]))
        text, held = _plain(seen), _plain(near[i])
        core = held.strip(" ")
        if text != held and not finds(_spaced(text, core)):
            differs.add("spaces around it")
        if text.strip(" ") != core and (core.swapcase() == core or not finds(_spaced(held, core.swapcase()))):
            differs.add("letter case")
    return differs


def _spaced(like: str, core: str) -> str:
    """`core` with the spaces `like` has around it."""
    return like[:len(like) - len(like.lstrip(" "))] + core + like[len(like.rstrip(" ")):]


def _near_sentence(key: _Key, compared: tuple[Any, ...], near: tuple[Any, ...], differs: set[str]) -> str:
    shown = fmt(near[0]) if len(near) == 1 else f"({', '.join(fmt(v) for v in near)})"
    what = " and ".join(sorted(differs, reverse=True)) or "spaces or letter case"
    return (f"{key.shown} differs from {key.target} {shown} only in {what}, which the parent key's collation "
            "does not ignore")


def _plain(value: Any) -> str:
    """trim() and lower() see a value as its text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


def _partial_sentence(key: _Key, partial: tuple[str, ...]) -> str:
    alone = ", ".join(partial)
    missing = [c for c in key.columns if c not in partial]
    rest = (f"; {', '.join(missing)} {'matches' if len(missing) == 1 else 'match'} no row at all" if missing
            else "")
    return (f"{key.shown} has no row in {key.parent}: {alone} {'matches' if len(partial) == 1 else 'match'} "
            f"parent rows alone, but no row has the whole key{rest}")
