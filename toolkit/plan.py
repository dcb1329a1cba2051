"""Repair plans: what a repair changes, how, and what its proof must show, as data.

Every plan is built from the file's own declarations, printed as a script for the sqlite3 shell
(`--sql`), and applied only to a copy.  The procedure says how the change reaches the copy:
SQLite's documented simpler procedure (lang_altertable.html, "Making Other Kinds Of Table Schema
Changes": edit the declaration with writable_schema, bump schema_version) when the change leaves
every stored byte as it is; the 12-step rebuild otherwise; plain statements for plans that change rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class PlanKind(StrEnum):
    """The repairs, chosen by name (`repair PLAN DB ...`)."""

    RELAX = "relax"  # drop FOREIGN KEY clauses (and, if asked, NOT NULL) on chosen columns
    REPOINT = "repoint"  # a REFERENCES naming a dropped or stale table made to name the live one
    UNIQUE_PARENT = "unique-parent"  # a parent key that lost its uniqueness gets a unique index
    ORPHANS = "orphans"  # rows violating a key: deleted, key set to NULL, or placeholder parents
    RETYPE = "retype"  # child values matching only as another storage class converted to the parent's


class Procedure(StrEnum):
    """How a plan's change reaches the copy."""

    WRITABLE_SCHEMA = "writable-schema"  # the declaration edited in place: no stored byte moves
    REBUILD = "12-step"  # the table rebuilt: new table, rows copied, old dropped, new renamed
    STATEMENTS = "statements"  # plain SQL on rows or indexes (orphans, retype, unique-parent)


class OrphanAction(StrEnum):
    DELETE = "delete"
    SET_NULL = "set-null"
    PLACEHOLDER = "placeholder"


@dataclass(frozen=True)
class TouchedRow:
    """One row a plan changes, listed before it runs: the proof shows exactly these changed."""

    table: str
    #: rowid, or the primary key's values for WITHOUT ROWID
    key: tuple[Any, ...]
    #: what happens to it ("delete", "set customer_id = NULL", "insert placeholder", "customer_id '5' -> 5")
    change: str


@dataclass(frozen=True)
class RepairPlan:
    """A repair as data: which plan, on which table, by which procedure, and its statements."""

    kind: PlanKind
    #: the table the plan changes (its declaration or its rows)
    table: str
    procedure: Procedure
    #: the statements, as the shell runs them (each checked with scripts.check_statement)
    statements: tuple[str, ...]
    #: one sentence: what the plan does to this file
    summary: str
    #: the rows the plan changes (orphans, retype), listed before anything runs
    touched: tuple[TouchedRow, ...] = ()
    #: the table's declaration after the plan (relax, repoint), as stored in sqlite_schema
    new_declaration: str | None = None
    #: the file the plan was made for (named in refusals)
    source: str = ""
    #: the key the plan is about: the child table's columns and the parent table it references (row plans)
    columns: tuple[str, ...] = ()
    parent_table: str = ""
    #: what an orphans plan does to the rows it lists (None: it only lists them)
    action: OrphanAction | None = None
    #: rows of the key still violating it after the plan (the proof expects exactly this many)
    remaining: int = 0
    #: rows the plan leaves as they are, and why (retype: no exact conversion)
    skipped: tuple[TouchedRow, ...] = ()
