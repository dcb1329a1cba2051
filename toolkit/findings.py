"""Findings about any file's foreign keys that need no failing statement: declarations that cannot
work (a REFERENCES to a missing table, a parent key that is not unique, a leftover `*_old` parent),
leftover tables, reference cycles no key of which is deferred, child keys without an index, and
rows that already violate a key.

Each function reads a `DatabaseInfo` (and, where SQLite must be asked, the connection of the safe
copy it was read from) and returns a tuple of `Finding`; none changes the file.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from .ddl import Deferral
from .keymatch import converts_alike, leftover_base
from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo
from .sqlite_codes import PROPAGATED, kind_of
from .sqlnames import affinity, quote
from .violations import EXAMPLES, Violation, foreign_key_violations


class Severity(StrEnum):
    """How much a finding matters, most first (the order triage ranks them in)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class FindingCode(StrEnum):
    """What a finding is about ("code" in the JSON)."""

    NO_UPSCALES_TABLE = "no-upscales-table"
    FK_CONSTRAINTS_PRESENT = "fk-constraints-present"
    FK_COLUMNS_NOT_NULL = "fk-columns-not-null"
    RECORDED_VERSION_MISMATCH = "recorded-version-mismatch"
    LEFTOVER_MIGRATION_TABLE = "leftover-migration-table"
    WAL_NOT_CHECKPOINTED = "wal-not-checkpointed"
    DANGLING_REFERENCE = "dangling-reference"
    PARENT_KEY_NOT_UNIQUE = "parent-key-not-unique"
    STALE_PARENT_TABLE = "stale-parent-table"
    TYPE_AFFINITY_MISMATCH = "type-affinity-mismatch"
    ORPHAN_ROWS = "orphan-rows"
    INTEGRITY_ERROR = "integrity-error"
    NON_DEFERRABLE_CYCLE = "non-deferrable-cycle"
    UNINDEXED_CHILD_KEY = "unindexed-child-key"


@dataclass(frozen=True)
class Finding:
    """One thing found in a file: what (code), how bad, a sentence that says it, and where."""

    code: FindingCode
    severity: Severity
    message: str
    table: str | None = None
    column: str | None = None
    count: int | None = None
    examples: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        # the codes and severities are closed sets: a misspelt one fails here, not in a reader
        object.__setattr__(self, "code", FindingCode(self.code))
        object.__setattr__(self, "severity", Severity(self.severity))


# --------------------------------------------------------------------------- declarations
def _dangling(table: TableInfo, fk: ForeignKeyInfo, where: str, severity: Severity) -> Finding:
    return Finding(
        FindingCode.DANGLING_REFERENCE, severity,
        f"{where} REFERENCES {fk.parent_table}, which does not exist (a rename or drop left the clause "
        f"behind), so SQLite refuses every INSERT into {table.name}, every DELETE from it and every UPDATE of "
        f"{', '.join(fk.columns)} with 'no such table', NULL keys too (PRAGMA foreign_key_check passes over it "
        "in silence).", table.name, ", ".join(fk.columns))


def _not_unique(table: TableInfo, fk: ForeignKeyInfo, where: str, severity: Severity) -> Finding:
    return Finding(
        FindingCode.PARENT_KEY_NOT_UNIQUE, severity,
        f"{where} REFERENCES {fk.parent_table}({', '.join(fk.parent_columns) or 'its primary key'}), which is "
        f"neither a PRIMARY KEY nor UNIQUE, so SQLite raises 'foreign key mismatch' on every write that touches "
        f"the key (an INSERT into or DELETE from {table.name}, an UPDATE of {', '.join(fk.columns)}, a DELETE "
        f"from {fk.parent_table} or a change of its key) and in PRAGMA foreign_key_check; a UNIQUE index on "
        "those parent columns, with their own collation, ends it.", table.name, ", ".join(fk.columns))


def _stale(info: DatabaseInfo, table: TableInfo, fk: ForeignKeyInfo, where: str, base: str,
           severity: Severity) -> Finding:
    parent, live = info.table(fk.parent_table), info.table(base)
    return Finding(
        FindingCode.STALE_PARENT_TABLE, severity,
        f"{where} REFERENCES {fk.parent_table} ({parent.row_count if parent else '?'} rows), a leftover of a "
        f"rebuild, while the live rows are in {live.name if live else base} ({live.row_count if live else '?'} "
        "rows): a rename rewrote the clause.", table.name, ", ".join(fk.columns))


def _affinity_consequence(parent_affinity: str) -> str:
    """What SQLite does with a child value before it looks for the parent (foreignkeys.html, datatype3.html)."""
    if parent_affinity == "BLOB":
        return (", which has no type affinity, so SQLite compares child values as stored: integer 5 does not find "
                "text '5'.")
    example = ("integer 5 becomes '5' and finds '5', but not '05'" if parent_affinity == "TEXT"
               else "text '5' becomes 5 and finds 5, but text that is not a number stays text")
    return (f"; SQLite applies the parent's {parent_affinity} affinity to the child's value before comparing "
            f"({example}), so keys match only when that conversion gives the parent's stored value exactly.")


def _affinity_mismatches(info: DatabaseInfo, table: TableInfo, fk: ForeignKeyInfo,
                         severity: Severity) -> list[Finding]:
    parent = info.table(fk.parent_table)
    found = []
    # Not strict: a REFERENCES naming no columns, to a parent without a PRIMARY KEY, has no parent columns.
    for child_col, parent_col in zip(fk.columns, fk.parent_columns, strict=False):
        child = table.column(child_col)
        pcol = parent.column(parent_col) if parent else None
        if child and pcol and not converts_alike(child.affinity, pcol.affinity):
            found.append(Finding(
                FindingCode.TYPE_AFFINITY_MISMATCH, severity,
                f"{table.name}.{child_col} is declared {child.type or 'with no type'} ({child.affinity} affinity) but "
                f"{fk.parent_table}.{parent_col} is declared {pcol.type or 'with no type'} ({pcol.affinity} affinity)"
                f"{_affinity_consequence(pcol.affinity)}", table.name, child_col))
    return found


def key_findings(info: DatabaseInfo, table: TableInfo, fk: ForeignKeyInfo, *, known: Collection[str] = (),
                 focus: bool = False) -> list[Finding]:
    """What is wrong with one FOREIGN KEY declaration.  A declaration that fails every write of a key
    (a missing parent table, a parent key that is not unique, a stale parent) is an error in any
    table; a type mismatch is only an error in the table of interest (`focus`), as it may be intended."""
    where = f"{table.name}({', '.join(fk.columns)})"
    if not fk.parent_table_exists:
        return [_dangling(table, fk, where, Severity.ERROR)]
    findings = [] if fk.parent_key_unique else [_not_unique(table, fk, where, Severity.ERROR)]
    base = leftover_base(fk.parent_table, info.table_names, known)
    if base and base != fk.parent_table.lower():
        findings.append(_stale(info, table, fk, where, base, Severity.ERROR))
    return findings + _affinity_mismatches(info, table, fk, Severity.ERROR if focus else Severity.WARNING)


def leftover_table(info: DatabaseInfo, table: TableInfo, known: Collection[str] = ()) -> list[Finding]:
    base = leftover_base(table.name, info.table_names, known)
    if not base:
        return []
    return [Finding(
        FindingCode.LEFTOVER_MIGRATION_TABLE, Severity.WARNING,
        f"{table.name} ({table.row_count} rows) looks like a leftover of a migration that rebuilt "
        f"{base}; it was never dropped, so check which table holds the live rows before removing it.",
        table.name, count=table.row_count)]


def declaration_findings(info: DatabaseInfo, *, known: Collection[str] = (), focus: str | None = None
                         ) -> list[Finding]:
    """Each table's foreign-key findings, then whether it is a leftover, table by table.  `known`:
    tables a profile expects even when the file lacks them (a leftover of one still counts)."""
    findings: list[Finding] = []
    for table in info.tables:
        for fk in table.foreign_keys:
            findings += key_findings(info, table, fk, known=known,
                                     focus=focus is not None and table.name.lower() == focus.lower())
        findings += leftover_table(info, table, known)
    return findings


def wal_not_checkpointed(info: DatabaseInfo) -> list[Finding]:
    if not info.wal_frames:
        return []
    return [Finding(
        FindingCode.WAL_NOT_CHECKPOINTED, Severity.INFO,
        f"{Path(info.database).name}-wal holds {info.wal_frames} un-checkpointed pages that the app sees "
        "(included in this diagnosis); a copy of the .db without its -wal would miss them.",
        count=info.wal_frames)]


def _usable(fk: ForeignKeyInfo) -> bool:
    """A key SQLite enforces: its parent exists and has a unique key over the parent columns
    (a broken declaration is a finding of its own, and fails every statement that touches it)."""
    return fk.parent_table_exists and fk.parent_key_unique


# --------------------------------------------------------------------------- cycles
def _components(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan's algorithm without recursion: a schema may hold
    thousands of tables in one chain), each in the order of `nodes`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, [])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            nxt = next((s for s in successors if s not in index or s in on_stack), None)
            if nxt is not None and nxt not in index:
                index[nxt] = low[nxt] = len(index)
                stack.append(nxt)
                on_stack.add(nxt)
                work.append((nxt, iter(edges.get(nxt, []))))
                continue
            if nxt is not None:
                low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    order = {name: i for i, name in enumerate(nodes)}
    return [sorted(c, key=order.__getitem__) for c in found]


def _immediate_links(info: DatabaseInfo) -> list[tuple[TableInfo, ForeignKeyInfo, TableInfo]]:
    """Keys between two different tables that SQLite checks at the end of each statement.  A key
    whose deferral could not be read is left out: no cycle is claimed on a guess."""
    links = []
    for t in info.tables:
        for fk in t.foreign_keys:
            parent = info.table(fk.parent_table)
            if (parent is not None and _usable(fk) and parent.name.lower() != t.name.lower()
                    and fk.deferrable in (Deferral.NOT_DEFERRABLE, Deferral.INITIALLY_IMMEDIATE)):
                links.append((t, fk, parent))
    return links


def _key_text(table: str, fk: ForeignKeyInfo) -> str:
    return f"{table}({', '.join(fk.columns)}) → {fk.parent_table}({', '.join(fk.parent_columns)})"


def _some(items: list[str], sep: str, limit: int = 10) -> str:
    """The first few of a list, and how many more (a cycle may run through thousands of tables)."""
    more = f"{sep}and {len(items) - limit} more" if len(items) > limit else ""
    return sep.join(items[:limit]) + more


def non_deferrable_cycles(info: DatabaseInfo) -> tuple[Finding, ...]:
    """Tables whose immediate keys form a cycle.  A row of the first table needs a row of the last
    one, which needs the first: inserted one statement at a time, the first INSERT fails at once,
    whatever the order.  A table referencing itself is no such cycle: SQLite checks an immediate key
    at the end of the statement, so a row may reference itself, and rows referencing each other go
    in one multi-row INSERT."""
    links = _immediate_links(info)
    nodes = [t.name for t in info.tables]
    edges: dict[str, list[str]] = {}
    for child, _, parent in links:
        edges.setdefault(child.name, []).append(parent.name)
    findings = []
    for component in _components(nodes, edges):
        if len(component) < 2:
            continue
        members = set(component)
        keys = [_key_text(c.name, fk) for c, fk, p in links if c.name in members and p.name in members]
        findings.append(Finding(
            FindingCode.NON_DEFERRABLE_CYCLE, Severity.INFO,
            f"Tables {_some(component, ', ')} reference each other through keys none of which is DEFERRABLE "
            f"INITIALLY DEFERRED ({_some(keys, '; ')}): rows that need each other cannot be inserted one "
            "statement at a time with foreign keys on, since the first INSERT fails at once. Run "
            "PRAGMA defer_foreign_keys = ON inside the transaction (after BEGIN; it ends at COMMIT, where "
            "every key is checked), or declare one of these keys DEFERRABLE INITIALLY DEFERRED.",
            component[0], count=len(component), examples=tuple(component)))
    return tuple(findings)


# --------------------------------------------------------------------------- unindexed child keys
def parent_collations(conn: sqlite3.Connection, parent: TableInfo, fk: ForeignKeyInfo) -> list[str]:
    """The collation of each parent column, read from the unique index SQLite uses as the parent key
    (its collations are the columns' own: foreignkeys.html, 3); BINARY for a rowid."""
    wanted = [c.lower() for c in fk.parent_columns]
    for idx in parent.indexes:
        if idx.unique and not idx.partial and sorted(c.lower() for c in idx.columns) == sorted(wanted):
            coll = {str(name).lower(): str(c) for name, c in conn.execute(
                "SELECT name, coll FROM pragma_index_xinfo(?) WHERE key", (idx.name,))}
            return [coll.get(c, "BINARY") for c in wanted]
    return ["BINARY"] * len(wanted)


def _child_lookup(conn: sqlite3.Connection, child: TableInfo, parent: TableInfo, fk: ForeignKeyInfo) -> str:
    """The lookup SQLite runs in the child table when a parent row is deleted or its key changed
    (fkScanChildren): each child column compared with a value that has the parent column's affinity
    and collation, so a child index is usable only where the real lookup can use it."""
    terms = []
    for column, parent_column, coll in zip(fk.columns, fk.parent_columns, parent_collations(conn, parent, fk),
                                           strict=True):
        declared = parent.column(parent_column)
        aff = affinity(declared.type if declared else "")
        value = "?" if aff == "BLOB" else f"CAST(? AS {aff})"
        terms.append(f"{quote(column)} = ({value} COLLATE {quote(coll)})")
    return f"EXPLAIN QUERY PLAN SELECT 1 FROM {quote(child.name)} WHERE {' AND '.join(terms)}"


def _scans(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> bool | None:
    """Whether the plan reads the whole table; None when SQLite cannot plan it here (a collation
    this SQLite lacks)."""
    try:
        return any(str(row[3]).startswith("SCAN") for row in conn.execute(sql, params))
    except sqlite3.OperationalError as exc:
        if kind_of(exc) in PROPAGATED:
            raise
        return None


def unindexed_child_keys(conn: sqlite3.Connection, info: DatabaseInfo) -> tuple[Finding, ...]:
    """Child keys no index of the child table can serve: each DELETE of a parent row, and each change
    of its key, makes SQLite read the whole child table (foreignkeys.html, 3).  SQLite's own query
    planner decides, on the lookup the foreign key makes."""
    findings = []
    for child in info.tables:
        for fk in child.foreign_keys:
            parent = info.table(fk.parent_table)
            if parent is None or not _usable(fk) or len(fk.columns) != len(fk.parent_columns):
                continue
            if not _scans(conn, _child_lookup(conn, child, parent, fk), (None,) * len(fk.columns)):
                continue
            cols = ", ".join(fk.columns)
            findings.append(Finding(
                FindingCode.UNINDEXED_CHILD_KEY, Severity.INFO,
                f"No index of {child.name} can look up {cols} (compared with {fk.parent_table}'s affinity and "
                f"collation, as foreign keys compare), so each DELETE from {fk.parent_table}, and each change "
                f"of its key, reads all of {child.name} ({_rows(child)}) to find the rows referencing it; "
                + _remedy(conn, child, parent, fk),
                child.name, cols, count=child.row_count))
    return tuple(findings)


NUMERIC_AFFINITIES = ("INTEGER", "REAL", "NUMERIC")


def _no_index_can_serve(parent: TableInfo, child: TableInfo, fk: ForeignKeyInfo) -> list[str]:
    """Child columns no index can serve: a numeric parent value compared with a TEXT or untyped child
    column is compared numerically, and SQLite uses an index only where the index's own affinity is
    numeric (sqlite3IndexAffinityOk)."""
    blocked = []
    for column, parent_column in zip(fk.columns, fk.parent_columns, strict=True):
        declared, mine = parent.column(parent_column), child.column(column)
        if (affinity(declared.type if declared else "") in NUMERIC_AFFINITIES
                and affinity(mine.type if mine else "") not in NUMERIC_AFFINITIES):
            blocked.append(column)
    return blocked


def suggested_index(conn: sqlite3.Connection, child: TableInfo, parent: TableInfo, fk: ForeignKeyInfo) -> str:
    """The CREATE INDEX that serves the key's lookup, with the parent's collation where it is not BINARY."""
    name = quote(f"{child.name}_{'_'.join(fk.columns)}_fk")
    columns = [quote(c) + ("" if coll.upper() == "BINARY" else f" COLLATE {quote(coll)}")
               for c, coll in zip(fk.columns, parent_collations(conn, parent, fk), strict=True)]
    return f"CREATE INDEX IF NOT EXISTS {name} ON {quote(child.name)}({', '.join(columns)})"


def _remedy(conn: sqlite3.Connection, child: TableInfo, parent: TableInfo, fk: ForeignKeyInfo) -> str:
    blocked = _no_index_can_serve(parent, child, fk)
    if blocked:
        return (f"no index can help while {', '.join(blocked)} is declared TEXT or with no type against "
                f"{fk.parent_table}'s numeric key: declare it with the parent's type (INTEGER) in a rebuilt table.")
    return f"{suggested_index(conn, child, parent, fk)} would let SQLite look them up."


def _rows(table: TableInfo) -> str:
    return "rows not counted" if table.row_count is None else f"{table.row_count:,} row(s)"


# --------------------------------------------------------------------------- orphan rows
def _orphan_message(table: TableInfo | None, v: Violation) -> str:
    cols = ", ".join(v.fk.columns)
    head = (f"{v.table} has {v.count} row(s) whose {cols} matches no row of "
            f"{v.fk.parent_table}({', '.join(v.fk.parent_columns)})")
    if table is not None and table.without_rowid:
        where = " (a WITHOUT ROWID table: PRAGMA foreign_key_check gives no rowids)"
    else:
        more = ", ..." if v.count > len(v.examples) else ""
        where = f" (rowids {', '.join(map(str, v.examples))}{more})"
    return (head + where + "; they were written while foreign keys were off, or their parent was changed "
            "since. SQLite checks a key only when a write sets it, so these rows fail only when a statement "
            "writes their key (an UPDATE of any other column passes); PRAGMA integrity_check says ok on them, "
            "PRAGMA foreign_key_check reports them.")


def orphan_findings(info: DatabaseInfo, violations: list[Violation]) -> tuple[Finding, ...]:
    """One finding per key that rows already violate, from `foreign_key_violations`' answer."""
    return tuple(Finding(FindingCode.ORPHAN_ROWS, Severity.WARNING, _orphan_message(info.table(v.table), v),
                         v.table, ", ".join(v.fk.columns), count=v.count,
                         examples=_examples(info.table(v.table), v.examples))
                 for v in violations)


def orphan_rows(conn: sqlite3.Connection, info: DatabaseInfo) -> tuple[Finding, ...]:
    """Rows already violating a foreign key, counted per key by PRAGMA foreign_key_check with the
    first few rowids (EXAMPLES at most: memory stays bounded on millions of orphans).  A table
    whose check cannot run (another key of it is broken) has its healthy keys checked in SQL."""
    return orphan_findings(info, foreign_key_violations(conn, info)[0])


def _examples(table: TableInfo | None, examples: Iterable[Any]) -> tuple[Any, ...]:
    return () if table is not None and table.without_rowid else tuple(examples)[:EXAMPLES]


def schema_findings(conn: sqlite3.Connection, info: DatabaseInfo) -> tuple[Finding, ...]:
    """All of the above, most serious first."""
    return orphan_rows(conn, info) + non_deferrable_cycles(info) + unindexed_child_keys(conn, info)
