"""Schema inspection: what a database file holds, as dataclasses (and DataFrames).

`inspect(path)` works on a safe copy; `read_schema(conn)` is the pure part, reusable on any
connection (the diagnosis and the migration read the copy they already hold).
"""
from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from functools import cached_property
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ddl import Deferral, ReferencesClause, references_clauses
from .safe_access import safe_connection
from .sqlite_codes import Kind, kind_of
from .sqlnames import affinity, quote

if TYPE_CHECKING:  # pandas is imported only where a DataFrame is asked for
    import pandas as pd

HIDDEN = {0: "", 1: "hidden", 2: "generated (virtual)", 3: "generated (stored)"}


class VersionSource(StrEnum):
    """Where the file records its version ("version_source" in the JSON; None when nowhere)."""

    MIGRATIONS = "migrations"
    USER_VERSION = "user_version"


@dataclass(frozen=True)
class ColumnInfo:
    """One column as `PRAGMA table_xinfo` gives it."""

    name: str
    type: str
    notnull: bool
    default: str | None
    pk: int
    hidden: int = 0

    @property
    def affinity(self) -> str:
        return affinity(self.type)

    @property
    def generated(self) -> bool:
        return self.hidden in (2, 3)

    @property
    def declaration(self) -> str:
        """The column as a person reads it: type, NOT NULL, DEFAULT, PRIMARY KEY."""
        parts = [self.type or "(no type)"]
        if self.notnull:
            parts.append("NOT NULL")
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        if self.pk:
            parts.append("PRIMARY KEY")
        return " ".join(parts)


@dataclass(frozen=True)
class ForeignKeyInfo:
    """One foreign key as `PRAGMA foreign_key_list` gives it, whether its parent holds a unique key, and
    what only its declaration says (deferral)."""

    id: int
    columns: list[str]
    parent_table: str
    parent_columns: list[str]
    on_delete: str
    on_update: str
    parent_table_exists: bool
    parent_key_unique: bool
    #: True when the REFERENCES clause omitted the parent columns (the parent's PK is meant).
    implicit_parent_key: bool = False
    #: Read from the CREATE TABLE text (PRAGMA foreign_key_list does not say).
    deferrable: Deferral = Deferral.NOT_DEFERRABLE

    @property
    def deferred(self) -> bool:
        """Checked at COMMIT rather than at the end of each statement."""
        return self.deferrable is Deferral.INITIALLY_DEFERRED


@dataclass(frozen=True)
class IndexInfo:
    """One index of a table: its columns, whether unique or partial, and where it came from."""

    name: str
    columns: list[str]
    unique: bool
    partial: bool
    origin: str  # 'c' CREATE INDEX, 'u' UNIQUE constraint, 'pk' PRIMARY KEY
    sql: str | None


@dataclass(frozen=True)
class TableInfo:
    """One table: its columns, foreign keys, indexes and declaration (rows, when counted)."""

    name: str
    row_count: int | None
    columns: list[ColumnInfo]
    foreign_keys: list[ForeignKeyInfo]
    indexes: list[IndexInfo]
    sql: str | None
    without_rowid: bool = False

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    def declarations(self) -> dict[str, str]:
        """Each column's declaration followed by the foreign keys on it."""
        return {c.name: " ".join([c.declaration, *(f"REFERENCES {fk.parent_table}({', '.join(fk.parent_columns)})"
                                                   for fk in self.foreign_keys if c.name in fk.columns)])
                for c in self.columns}

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in sorted((c for c in self.columns if c.pk), key=lambda c: c.pk)]


@dataclass(frozen=True)
class TriggerInfo:
    """One trigger: its table and its declaration."""

    name: str
    table: str
    sql: str | None


@dataclass(frozen=True)
class ViewInfo:
    """One view: its declaration."""

    name: str
    sql: str | None


@dataclass(frozen=True)
class DatabaseInfo:
    """A whole file's schema as read from its copy: tables, views, triggers and versions."""

    database: str
    sqlite_version: str
    journal_mode: str
    page_size: int
    page_count: int
    recorded_version: int | None
    version_source: VersionSource | None
    wal_frames: int
    tables: list[TableInfo] = field(default_factory=list)
    triggers: list[TriggerInfo] = field(default_factory=list)
    views: list[ViewInfo] = field(default_factory=list)

    @cached_property
    def _by_name(self) -> dict[str, TableInfo]:
        # lookups by name happen per key and per table: a schema of 10,000 tables must not make them quadratic
        by_name: dict[str, TableInfo] = {}
        for t in self.tables:
            by_name.setdefault(t.name.lower(), t)
        return by_name

    @cached_property
    def table_names(self) -> frozenset[str]:
        """Every table's name, lower case (SQLite's names are case-insensitive)."""
        return frozenset(self._by_name)

    def table(self, name: str) -> TableInfo | None:
        return self._by_name.get(name.lower())

    def to_dict(self) -> dict[str, Any]:
        """The pinned JSON shape of `inspect --json`."""
        return {
            "database": self.database,
            "sqlite_version": self.sqlite_version,
            "journal_mode": self.journal_mode,
            "page_size": self.page_size,
            "recorded_version": self.recorded_version,
            "version_source": self.version_source,
            "wal_frames": self.wal_frames,
            "tables": [
                {
                    "name": t.name,
                    "row_count": t.row_count,
                    "columns": [
                        {"name": c.name, "type": c.type, "notnull": c.notnull, "default": c.default,
                         "pk": c.pk, "hidden": HIDDEN.get(c.hidden, str(c.hidden))}
                        for c in t.columns
                    ],
                    "foreign_keys": [
                        {**{k: v for k, v in asdict(fk).items() if k not in ("id", "implicit_parent_key")},
                         "deferred": fk.deferred}
                        for fk in t.foreign_keys
                    ],
                    "indexes": [
                        {"name": i.name, "columns": i.columns, "unique": i.unique, "partial": i.partial,
                         "sql": i.sql}
                        for i in t.indexes
                    ],
                }
                for t in self.tables
            ],
            "triggers": [asdict(t) for t in self.triggers],
            "views": [asdict(v) for v in self.views],
        }

    # DataFrames for notebooks -------------------------------------------------------
    def tables_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [{"table": t.name, "rows": t.row_count, "columns": len(t.columns),
              "foreign keys": len(t.foreign_keys), "indexes": len(t.indexes)} for t in self.tables]
        )

    def columns_frame(self, table: str | None = None) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [{"table": t.name, "column": c.name, "type": c.type, "affinity": c.affinity,
              "not null": c.notnull, "default": c.default, "pk": c.pk, "hidden": HIDDEN.get(c.hidden, "")}
             for t in self.tables if table in (None, t.name) for c in t.columns]
        )

    def foreign_keys_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [{"table": t.name, "columns": ", ".join(fk.columns), "parent table": fk.parent_table,
              "parent columns": ", ".join(fk.parent_columns), "on delete": fk.on_delete,
              "on update": fk.on_update, "deferrable": fk.deferrable, "parent exists": fk.parent_table_exists,
              "parent key unique": fk.parent_key_unique} for t in self.tables for fk in t.foreign_keys],
            columns=["table", "columns", "parent table", "parent columns", "on delete", "on update", "deferrable",
                     "parent exists", "parent key unique"],
        )

    def indexes_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [{"table": t.name, "index": i.name, "columns": ", ".join(i.columns), "unique": i.unique,
              "partial": i.partial, "sql": i.sql} for t in self.tables for i in t.indexes],
            columns=["table", "index", "columns", "unique", "partial", "sql"],
        )

    def to_frame(self) -> pd.DataFrame:
        return self.tables_frame()


# --------------------------------------------------------------------------- reading
# The PRAGMAs sqlite-utils' Table.columns / .foreign_keys / .indexes read, read here on safe_access's
# guarded connection: a customer's file is never opened by sqlite-utils' Database() (it turns
# recursive_triggers on, and importing it loads pandas, which the command line starts without).
# tests/test_schema.py checks both give the same answer on the samples.
def _rows(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(sql, params).fetchall()


def read_columns(conn: sqlite3.Connection, table: str) -> list[ColumnInfo]:
    return [
        ColumnInfo(r["name"], r["type"] or "", bool(r["notnull"]), r["dflt_value"], r["pk"], r["hidden"])
        for r in _rows(conn, "SELECT * FROM pragma_table_xinfo(?)", (table,))
    ]


def read_indexes(conn: sqlite3.Connection, table: str, index_sql: dict[str, str | None] | None = None
                 ) -> list[IndexInfo]:
    """`index_sql`: every index's SQL by name, read once (a query per index scans sqlite_schema
    each time: minutes on a file of 10,000 indexes)."""
    result = []
    for r in _rows(conn, "SELECT * FROM pragma_index_list(?) ORDER BY name", (table,)):
        cols = [
            c["name"] if c["name"] is not None else ("<expression>" if c["cid"] == -2 else "rowid")
            for c in _rows(conn, "SELECT * FROM pragma_index_xinfo(?) WHERE key ORDER BY seqno", (r["name"],))
        ]
        if index_sql is not None:
            sql = index_sql.get(r["name"])
        else:
            row = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?",
                               (r["name"],)).fetchone()
            sql = row[0] if row else None
        result.append(IndexInfo(r["name"], cols, bool(r["unique"]), bool(r["partial"]), r["origin"], sql))
    return result


def _unique_keys(conn: sqlite3.Connection, table: str, indexes: list[IndexInfo] | None = None) -> list[list[str]]:
    """Column lists SQLite accepts as a parent key: the PRIMARY KEY and each non-partial UNIQUE index."""
    keys = []
    pk = [r["name"] for r in sorted(_rows(conn, "SELECT name, pk FROM pragma_table_info(?) WHERE pk", (table,)),
                                    key=lambda r: r["pk"])]
    if pk:
        keys.append(pk)
    for idx in read_indexes(conn, table) if indexes is None else indexes:
        if idx.unique and not idx.partial:
            keys.append(idx.columns)
    return keys


def parent_key_is_unique(conn: sqlite3.Connection, parent: str, columns: list[str],
                         indexes: list[IndexInfo] | None = None) -> bool:
    wanted = {c.lower() for c in columns}
    return any({c.lower() for c in key} == wanted and len(key) == len(columns)
               for key in _unique_keys(conn, parent, indexes))


def _same_key(clause: ReferencesClause, rows: list[sqlite3.Row]) -> bool:
    """Whether a parsed clause declares the key PRAGMA foreign_key_list lists as `rows`."""
    def folded(names: Any) -> list[str]:
        return [str(n).lower() for n in names]

    declared_to = [r["to"] for r in rows if r["to"] is not None]
    return (folded(clause.columns) == folded(r["from"] for r in rows)
            and clause.parent_table.lower() == str(rows[0]["table"]).lower()
            and folded(clause.parent_columns) == folded(declared_to))


def declared_deferral(sql: str | None, groups: dict[int, list[sqlite3.Row]]) -> dict[int, Deferral]:
    """Each foreign key id's DEFERRABLE clause, read from the table's CREATE TABLE text.  PRAGMA
    foreign_key_list numbers the keys from the last declared; every parsed clause must match its
    key's columns and parent, else the deferral is UNKNOWN rather than guessed."""
    unknown = dict.fromkeys(groups, Deferral.UNKNOWN)
    try:
        clauses = references_clauses(sql or "")
    except (ValueError, IndexError):
        return unknown
    if len(clauses) != len(groups) or sorted(groups) != list(range(len(clauses))):
        return unknown
    by_id = {fk_id: clauses[len(clauses) - 1 - fk_id] for fk_id in groups}
    if not all(_same_key(by_id[fk_id], rows) for fk_id, rows in groups.items()):
        return unknown
    return {fk_id: clause.deferral for fk_id, clause in by_id.items()}


def read_foreign_keys(conn: sqlite3.Connection, table: str, existing: dict[str, str],
                      indexes: dict[str, list[IndexInfo]] | None = None, sql: str | None = None
                      ) -> list[ForeignKeyInfo]:
    """`indexes`: each table's indexes, already read (else read here per parent); `sql`: the table's
    CREATE TABLE text (else read here)."""
    groups: dict[int, list[sqlite3.Row]] = {}
    for r in _rows(conn, "SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", (table,)):
        groups.setdefault(r["id"], []).append(r)
    if groups and sql is None:
        row = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)).fetchone()
        sql = row[0] if row else None
    deferral = declared_deferral(sql, groups) if groups else {}
    result = []
    for fk_id, rows in sorted(groups.items()):
        parent_named = rows[0]["table"]
        parent = existing.get(parent_named.lower())
        implicit = all(r["to"] is None for r in rows)
        if implicit and parent is not None:  # a table may be named "" (falsy, yet it exists)
            parent_cols = [r["name"] for r in sorted(
                _rows(conn, "SELECT name, pk FROM pragma_table_info(?) WHERE pk", (parent,)), key=lambda r: r["pk"])]
        else:
            parent_cols = [r["to"] for r in rows if r["to"] is not None]
        result.append(ForeignKeyInfo(
            id=fk_id,
            columns=[r["from"] for r in rows],
            parent_table=parent_named,
            parent_columns=parent_cols,
            on_delete=rows[0]["on_delete"],
            on_update=rows[0]["on_update"],
            parent_table_exists=parent is not None,
            parent_key_unique=bool(parent is not None and parent_cols and len(parent_cols) == len(rows)
                                   and parent_key_is_unique(conn, parent, parent_cols,
                                                            (indexes or {}).get(parent))),
            implicit_parent_key=implicit,
            deferrable=deferral[fk_id],
        ))
    return result


def row_count(conn: sqlite3.Connection, table: str) -> int | None:
    try:
        count: int = conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0]
        return count
    except sqlite3.OperationalError as exc:
        # A virtual table whose module this SQLite lacks cannot be counted; other errors
        # (interrupted, damaged pages) are the caller's to report.
        # SQLITE_ERROR says nothing more: the code decides the kind, the text that it is the module
        if kind_of(exc) is Kind.ERROR and "no such module" in str(exc):
            return None
        raise


#: Where an app's migration runner records the versions it applied (the video app's, and many
#: others': a table with a `version` column); PRAGMA user_version is the other common place.
MIGRATIONS_TABLE = "migrations"


def recorded_version(conn: sqlite3.Connection) -> tuple[int | None, VersionSource | None]:
    """The version the file claims: migrations table, else user_version, else none."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (MIGRATIONS_TABLE,)
    ).fetchone()
    if has_table:
        cols = {r[0].lower() for r in conn.execute("SELECT name FROM pragma_table_info(?)",
                                                   (MIGRATIONS_TABLE,))}
        if "version" in cols:
            (version,) = conn.execute(
                f"SELECT max(CAST(version AS INTEGER)) FROM {quote(MIGRATIONS_TABLE)} "
                "WHERE CAST(version AS INTEGER) > 0"
            ).fetchone()
            if version is not None:
                return int(version), VersionSource.MIGRATIONS
    (user_version,) = conn.execute("PRAGMA user_version").fetchone()
    if user_version:
        return int(user_version), VersionSource.USER_VERSION
    return None, None


def read_schema(conn: sqlite3.Connection, *, database: str, wal_frames: int = 0,
                journal_mode: str | None = None, count_rows: bool = True) -> DatabaseInfo:
    """Everything `inspect` reports, read from an open connection."""
    # creation order (a view may name an earlier view; a trigger, its view); tables by name
    objects = _rows(conn, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid")
    table_rows = sorted((o for o in objects if o["type"] == "table" and not o["name"].startswith("sqlite_")),
                        key=lambda o: o["name"])
    existing = {o["name"].lower(): o["name"] for o in table_rows}
    # SQLite's own flag, not a text search of the SQL (a comment or a default could spell it)
    without_rowid = {r[0] for r in conn.execute("SELECT name FROM pragma_table_list WHERE schema = 'main' AND wr")}
    index_sql = {o["name"]: o["sql"] for o in objects if o["type"] == "index"}
    indexes = {o["name"]: read_indexes(conn, o["name"], index_sql) for o in table_rows}
    tables = []
    for o in table_rows:
        name = o["name"]
        tables.append(TableInfo(
            name=name,
            row_count=row_count(conn, name) if count_rows else None,
            columns=read_columns(conn, name),
            foreign_keys=read_foreign_keys(conn, name, existing, indexes, o["sql"]),
            indexes=indexes[name],
            sql=o["sql"],
            without_rowid=name in without_rowid,
        ))
    version, source = recorded_version(conn)
    return DatabaseInfo(
        database=database,
        sqlite_version=sqlite3.sqlite_version,
        journal_mode=journal_mode or conn.execute("PRAGMA journal_mode").fetchone()[0],
        page_size=conn.execute("PRAGMA page_size").fetchone()[0],
        page_count=conn.execute("PRAGMA page_count").fetchone()[0],
        recorded_version=version,
        version_source=source,
        wal_frames=wal_frames,
        tables=tables,
        triggers=[TriggerInfo(o["name"], o["tbl_name"], o["sql"]) for o in objects if o["type"] == "trigger"],
        views=[ViewInfo(o["name"], o["sql"]) for o in objects if o["type"] == "view"],
    )


def inspect(path: str | Path) -> DatabaseInfo:
    """Inspect a customer's database (on a safe copy; the original is proven unchanged)."""
    with safe_connection(path) as (work, conn):
        return read_schema(conn, database=str(path), wal_frames=work.wal_frames, journal_mode=work.journal_mode)
