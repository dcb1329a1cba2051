"""Rows that violate a foreign key, as SQLite's `PRAGMA foreign_key_check` lists them, for any file.

A table whose check SQLite refuses (another of its keys names a missing table, or a parent key that
is not unique) has its healthy keys checked in SQL, so one broken declaration cannot hide the
orphans of the rest.  Memory stays bounded: rows are counted, only the first few are kept.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo
from .sqlite_codes import PROPAGATED, kind_of
from .sqlnames import quote

#: Violating rows kept as examples per key (all are counted).
EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """The rows of one table that break one foreign key: how many, and the first few."""

    table: str
    fk: ForeignKeyInfo
    count: int = 0
    #: The rowids of the first few violating rows (EXAMPLES at most).
    examples: tuple[Any, ...] = ()


def broken_declaration(fk: ForeignKeyInfo) -> bool:
    return not fk.parent_table_exists or not fk.parent_key_unique


def emulated_violations(conn: sqlite3.Connection, table: TableInfo, fk: ForeignKeyInfo, *,
                        only: Collection[Any] | None = None) -> Iterator[int]:
    """Rows of `table` violating a healthy `fk`, found in SQL when SQLite's own
    foreign_key_check cannot run on the table (another of its keys is broken), or among the
    rowids `only` (the rows a statement wrote)."""
    child = quote(table.name)
    not_null = " AND ".join(f"c.{quote(col)} IS NOT NULL" for col in fk.columns)
    if only is not None:
        wanted = [r for r in only if isinstance(r, int)]
        if not wanted:
            return
        not_null = f"c.rowid IN (SELECT value FROM json_each(?)) AND {not_null}"
    # `+c.col` strips the child column's affinity, so only the parent's applies, and the parent (the
    # left operand) supplies the collation: SQLite's rule for a foreign key, not a plain `=` join's
    match = " AND ".join(f"p.{quote(pc)} = +c.{quote(cc)}"
                         for cc, pc in zip(fk.columns, fk.parent_columns, strict=True))
    sql = (f"SELECT c.rowid FROM {child} AS c WHERE {not_null} AND NOT EXISTS "
           f"(SELECT 1 FROM {quote(fk.parent_table)} AS p WHERE {match})")
    # the rowids as a JSON array for json_each: written by hand, json's import would cost start-up
    rowids = sorted(r for r in only if isinstance(r, int)) if only is not None else None
    params = (f"[{','.join(map(str, rowids))}]",) if rowids is not None else ()
    for (rowid,) in conn.execute(sql, params):
        yield rowid


class _Tally:
    """One table's violating rows as SQLite lists them: counted, the first few kept, the probe
    row set apart (millions of orphans must not all be held in memory)."""

    def __init__(self, table: TableInfo, probe: tuple[str, int | None] | None) -> None:
        self.table = table
        self.probe_rowid = probe[1] if probe and probe[0] == table.name else None
        self.counts = {fk.id: 0 for fk in table.foreign_keys}
        self.examples: dict[int, list[Any]] = {fk.id: [] for fk in table.foreign_keys}
        self.probe_fails: set[int] = set()

    def add(self, fkid: int, rowid: Any) -> None:
        if rowid is not None and rowid == self.probe_rowid:
            self.probe_fails.add(fkid)
            return
        self.counts[fkid] += 1
        if len(self.examples[fkid]) < EXAMPLES:
            self.examples[fkid].append(rowid)

    def violations(self) -> list[Violation]:
        return [Violation(self.table.name, fk, self.counts[fk.id], tuple(self.examples[fk.id]))
                for fk in self.table.foreign_keys if self.counts[fk.id]]


def foreign_key_violations(conn: sqlite3.Connection, info: DatabaseInfo, probe: tuple[str, int | None] | None = None
                           ) -> tuple[list[Violation], set[int], list[str]]:
    """Every row of every table that violates a foreign key, table by table, so one broken
    declaration cannot abort the check elsewhere.  The `probe` row (table, rowid) is kept
    out of the counts; the ids of the foreign keys it violates are returned apart."""
    result: list[Violation] = []
    probe_fails: set[int] = set()
    notes: list[str] = []
    for table in info.tables:
        if not table.foreign_keys:
            continue
        tally = _Tally(table, probe)
        try:
            for _, rowid, _, fkid in conn.execute(f"PRAGMA foreign_key_check({quote(table.name)})"):
                tally.add(fkid, rowid)
        except sqlite3.OperationalError as exc:
            if kind_of(exc) in PROPAGATED:
                raise
            notes.append(f"{table.name}: {exc}")
            tally = _emulated_check(conn, table, probe)
        result += tally.violations()
        probe_fails |= tally.probe_fails
    return result, probe_fails, notes


def _emulated_check(conn: sqlite3.Connection, table: TableInfo, probe: tuple[str, int | None] | None) -> _Tally:
    """foreign_key_check's answer for `table` when SQLite's own cannot run on it (another of its
    keys is broken): the healthy keys checked in SQL, the broken ones left out."""
    tally = _Tally(table, probe)
    for fk in table.foreign_keys:
        if broken_declaration(fk) or table.without_rowid:
            continue
        for rowid in emulated_violations(conn, table, fk):
            tally.add(fk.id, rowid)
    return tally


def rollback(conn: sqlite3.Connection) -> None:
    # An interrupted or failed statement may already have rolled the transaction back.
    if conn.in_transaction:
        conn.execute("ROLLBACK")
