"""Before and after: what migration 030 changed in the schema, the data and the app's insert."""
from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .appmodel import VIDEO_APP, default_values
from .profile import InsertSimulation, simulate_insert
from .migration import rows_differing
from .safe_access import safe_connection
from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo, read_schema

if TYPE_CHECKING:
    import pandas as pd


class Kind(StrEnum):
    """What a schema change is a change of."""

    TABLE = "table"
    COLUMN = "column"
    FOREIGN_KEY = "foreign key"
    INDEX = "index"
    TRIGGER = "trigger"
    VIEW = "view"


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class SchemaChange:
    kind: Kind
    table: str
    name: str
    change: Change
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class TableDiff:
    table: str
    rows_before: int | None
    rows_after: int | None
    only_before: int | None
    only_after: int | None


@dataclass(frozen=True)
class Comparison:
    before: str
    after: str
    schema_changes: list[SchemaChange]
    tables: list[TableDiff]
    insert_before: InsertSimulation | None
    insert_after: InsertSimulation | None
    schema_before: DatabaseInfo | None = field(default=None, repr=False)
    schema_after: DatabaseInfo | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "schema_changes": [asdict(c) for c in self.schema_changes],
            "tables": [asdict(t) for t in self.tables],
            "insert_before": _sim(self.insert_before),
            "insert_after": _sim(self.insert_after),
        }

    def schema_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([asdict(c) for c in self.schema_changes],
                            columns=["kind", "table", "name", "change", "before", "after"])

    def data_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([asdict(t) for t in self.tables],
                            columns=["table", "rows_before", "rows_after", "only_before", "only_after"])

    def insert_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for label, sim in (("before", self.insert_before), ("after", self.insert_after)):
            if sim and sim.attempted:
                rows.append({"when": label, "ok": sim.ok, "error": sim.error,
                             "failing": ", ".join(sim.failing) or "—"})
        return pd.DataFrame(rows, columns=["when", "ok", "error", "failing"])

    def to_frame(self) -> pd.DataFrame:
        return self.schema_frame()


class SimulationSummary(TypedDict):
    """An insert simulation as the comparison's JSON gives it."""
    attempted: bool
    ok: bool
    error: str | None
    failing: list[str]


def _sim(sim: InsertSimulation | None) -> SimulationSummary | None:
    if sim is None:
        return None
    return {"attempted": sim.attempted, "ok": sim.ok, "error": sim.error, "failing": sim.failing}


def _fk_text(fk: ForeignKeyInfo) -> str:
    return (f"({', '.join(fk.columns)}) REFERENCES {fk.parent_table}({', '.join(fk.parent_columns)}) "
            f"ON DELETE {fk.on_delete} ON UPDATE {fk.on_update}")


def schema_changes(before: DatabaseInfo, after: DatabaseInfo) -> list[SchemaChange]:
    changes: list[SchemaChange] = []

    def diff(kind: Kind, table: str, old: dict[str, str | None], new: dict[str, str | None]) -> None:
        for name in list(old) + [n for n in new if n not in old]:
            if name not in new:
                changes.append(SchemaChange(kind, table, name, Change.REMOVED, old[name], None))
            elif name not in old:
                changes.append(SchemaChange(kind, table, name, Change.ADDED, None, new[name]))
            elif old[name] != new[name]:
                changes.append(SchemaChange(kind, table, name, Change.CHANGED, old[name], new[name]))

    tables_b = {t.name: t for t in before.tables}
    tables_a = {t.name: t for t in after.tables}
    diff(Kind.TABLE, "", {n: "" for n in tables_b}, {n: "" for n in tables_a})
    for name in tables_b.keys() & tables_a.keys():
        b, a = tables_b[name], tables_a[name]
        diff(Kind.COLUMN, name, {c.name: c.declaration for c in b.columns}, {c.name: c.declaration for c in a.columns})
        diff(Kind.FOREIGN_KEY, name, {", ".join(fk.columns): _fk_text(fk) for fk in b.foreign_keys},
             {", ".join(fk.columns): _fk_text(fk) for fk in a.foreign_keys})
        diff(Kind.INDEX, name, {i.name: i.sql or ", ".join(i.columns) for i in b.indexes},
             {i.name: i.sql or ", ".join(i.columns) for i in a.indexes})
    diff(Kind.TRIGGER, "", {t.name: t.sql for t in before.triggers}, {t.name: t.sql for t in after.triggers})
    diff(Kind.VIEW, "", {v.name: v.sql for v in before.views}, {v.name: v.sql for v in after.views})
    return changes


def _table_diff(conn: sqlite3.Connection, b: TableInfo | None, a: TableInfo | None) -> TableDiff:
    either = b or a
    assert either is not None  # the name came from one of the two files
    name = either.name
    if b is None or a is None or b.row_count is None or a.row_count is None:
        return TableDiff(name, b.row_count if b else None, a.row_count if a else None, None, None)
    comparable = [c.name for c in b.columns] == [c.name for c in a.columns] and (b.without_rowid == a.without_rowid)
    if not comparable:
        return TableDiff(name, b.row_count, a.row_count, None, None)
    only_before = rows_differing(conn, b, before="before", after="main")
    only_after = rows_differing(conn, a, before="main", after="before")
    return TableDiff(name, b.row_count, a.row_count, only_before, only_after)


def compare_connections(conn: sqlite3.Connection, info_before: DatabaseInfo, *, after: str,
                        values: dict[str, Any] | None) -> Comparison:
    """`conn` is the after file, with the before file (described by `info_before`) attached as `before`."""
    info_after = read_schema(conn, database=after)
    names = sorted({t.name for t in info_before.tables} | {t.name for t in info_after.tables})
    tables = [_table_diff(conn, info_before.table(n), info_after.table(n)) for n in names]
    return Comparison(info_before.database, after, schema_changes(info_before, info_after), tables, None,
                      simulate_insert(VIDEO_APP, conn, info_after, values) if values else None, info_before, info_after)


def compare(before: str | Path, after: str | Path) -> Comparison:
    """Compare two database files (each through a safe copy; both proven unchanged).
    The app's insert is simulated on both with the values the app would use BEFORE."""
    with safe_connection(before) as (work_b, conn_b):
        info_b = read_schema(conn_b, database=str(before))
        values = default_values(conn_b, info_b)
        insert_before = simulate_insert(VIDEO_APP, conn_b, info_b, values) if values else None
        with safe_connection(after) as (_, conn):
            conn.execute("ATTACH DATABASE ? AS before", (str(work_b.path),))
            result = compare_connections(conn, info_b, after=str(after), values=values)
            conn.execute("DETACH DATABASE before")
    return dataclasses.replace(result, insert_before=insert_before)
