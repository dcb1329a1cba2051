"""Findings about any file's foreign keys that need no failing statement: reference cycles no key of
which is deferred, child keys without an index, and rows that already violate a key.

Each function reads a `DatabaseInfo` (and, where SQLite must be asked, the connection of the safe
copy it was read from) and returns a tuple of `diagnosis.Finding`; none changes the file.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from .diagnosis import EXAMPLES, Finding, FindingCode, Severity, Violation, foreign_key_violations
from .ddl import Deferral
from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo
from .sqlite_codes import PROPAGATED, kind_of
from .sqlnames import affinity, quote


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
def _collations(conn: sqlite3.Connection, parent: TableInfo, fk: ForeignKeyInfo) -> list[str]:
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
    for column, parent_column, coll in zip(fk.columns, fk.parent_columns, _collations(conn, parent, fk),
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
               for c, coll in zip(fk.columns, _collations(conn, parent, fk), strict=True)]
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
            "since, and PRAGMA foreign_key_check reports them.")


def orphan_rows(conn: sqlite3.Connection, info: DatabaseInfo) -> tuple[Finding, ...]:
    """Rows already violating a foreign key, counted per key by PRAGMA foreign_key_check with the
    first few rowids (EXAMPLES at most: memory stays bounded on millions of orphans).  A table
    whose check cannot run (another key of it is broken) has its healthy keys checked in SQL."""
    violations, _, _ = foreign_key_violations(conn, info)
    return tuple(Finding(FindingCode.ORPHAN_ROWS, Severity.WARNING, _orphan_message(info.table(v.table), v),
                         v.table, ", ".join(v.fk.columns), count=v.count,
                         examples=_examples(info.table(v.table), v.examples))
                 for v in violations)


def _examples(table: TableInfo | None, examples: Iterable[Any]) -> tuple[Any, ...]:
    return () if table is not None and table.without_rowid else tuple(examples)[:EXAMPLES]


def schema_findings(conn: sqlite3.Connection, info: DatabaseInfo) -> tuple[Finding, ...]:
    """All of the above, most serious first."""
    return orphan_rows(conn, info) + non_deferrable_cycles(info) + unindexed_child_keys(conn, info)
