"""The `relax` plan: drop the FOREIGN KEY clauses (and, if asked, NOT NULL) on chosen columns of any table.

Migration 030 is this plan with the video app's defaults (appmodel.VIDEO_APP: its table, its
three reference columns, NOT NULL dropped too) plus the version it records.  Removing those
constraints changes no stored byte, so the plan takes SQLite's simpler procedure (`fastpath`)
whenever `fastpath.storage_change` allows it, and the 12-step rebuild (`migration.plan_rebuild`)
otherwise or when asked (`--rebuild`).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from . import errors, fastpath
from .ddl import relax_columns
from .migration import Plan, _refuse_foreign_functions, plan_rebuild, record_version_statements, upscales_table
from .plan import PlanKind, Procedure, RepairPlan
from .schema import MIGRATIONS_TABLE, DatabaseInfo, TableInfo
from .scripts import check_statement, render


@dataclass(frozen=True)
class RelaxRequest:
    """What `repair relax` is asked to do: which table and columns, and how."""

    table: str
    columns: tuple[str, ...]
    #: also drop the columns' NOT NULL constraints
    not_null: bool = False
    #: force the 12-step rebuild
    rebuild: bool = False
    #: migration 030: record its version the way the file records versions
    record_version: bool = False


@dataclass(frozen=True)
class RelaxPlan:
    """The relax plan for one file: the new declaration, the procedure, the rebuild if needed."""

    plan: RepairPlan
    #: the table's declaration as the file stores it now
    old_declaration: str
    #: the rebuild's plan (the 12-step procedure), else None
    rebuild: Plan | None
    #: the statements that record migration 030's version (fast path: run after the edit, same transaction)
    versioning: tuple[str, ...]
    #: why the fast path was not taken (empty when it was)
    why_rebuild: str = ""

    def script(self) -> str:
        if self.rebuild is not None:
            return self.rebuild.script()
        return render(list(self.plan.statements), _header(self.plan))


def _header(plan: RepairPlan) -> str:
    return (f"-- {plan.summary}\n-- SQLite's simpler procedure (lang_altertable.html#otheralter): no stored byte "
            "changes, so the declaration is edited in place, in one transaction.\n")


def relaxed_table(info: DatabaseInfo, request: RelaxRequest) -> TableInfo:
    """The table to relax, with every asked-for column, or a refusal in one sentence."""
    if request.record_version:  # migration 030: its own refusal names the video app's file
        upscales_table(info)
    table = info.table(request.table)
    if table is None:
        raise errors.RefusedError(
            f"{info.database} has no table {request.table!r}; `inspect` lists its tables.", info.database)
    if not table.sql or not table.sql.lstrip().upper().startswith("CREATE TABLE"):
        raise errors.RefusedError(f"{info.database}: {table.name} has no declaration of its own to relax.",
                                  info.database)
    names = {c.name.lower() for c in table.columns}
    missing = [c for c in request.columns if c.lower() not in names]
    if missing or not request.columns:
        raise errors.RefusedError(
            f"{info.database}: {table.name} has no column {', '.join(map(repr, missing)) or '(none given)'}; "
            f"its columns are {', '.join(c.name for c in table.columns)}.", info.database)
    return table


def needs_relaxing(table: TableInfo, request: RelaxRequest) -> bool:
    wanted = {c.lower() for c in request.columns}
    constrained = {c.lower() for fk in table.foreign_keys for c in fk.columns} & wanted
    not_null = {c.name.lower() for c in table.columns if c.notnull} & wanted
    return bool(constrained or (request.not_null and not_null))


def _summary(table: TableInfo, request: RelaxRequest) -> str:
    what = "FOREIGN KEY and NOT NULL constraints" if request.not_null else "FOREIGN KEY clauses"
    if request.record_version:
        return f"Migration 030 for this file: relax {table.name} (drop the {what} on {', '.join(request.columns)}" \
               "), recording version 30; everything else as declared."
    return f"Relax {table.name}: drop the {what} on {', '.join(request.columns)}; everything else as declared."


def plan_relax(conn: sqlite3.Connection, info: DatabaseInfo, request: RelaxRequest) -> RelaxPlan:
    """The relax plan for this file (read on a copy): the fast path when it is allowed."""
    table = relaxed_table(info, request)
    assert table.sql is not None  # relaxed_table refuses a table without one
    summary = _summary(table, request)
    try:
        new_sql = relax_columns(table.sql, set(request.columns), table.name, not_null=request.not_null)
    except errors.RefusedError as exc:
        raise errors.RefusedError(f"{info.database}: {exc.message}", info.database) from None
    check_statement(new_sql, info.database)  # one statement, nothing after it a shell would run
    why = "--rebuild was asked for" if request.rebuild else fastpath.storage_change(table.sql, new_sql, table.name,
                                                                                     info.database)
    if why is None and table.name.lower() == "sqlite_sequence":
        why = "SQLite's own table"
    if why is not None:
        return _rebuild(conn, info, table, request, summary, why)
    versioning = record_version_statements(conn, info) if request.record_version else []
    (version,) = conn.execute("PRAGMA schema_version").fetchone()
    statements = [*fastpath.statements(table.name, new_sql, version), *versioning, "COMMIT", "PRAGMA quick_check"]
    for statement in statements:
        check_statement(statement, info.database)
    # the script's quick_check evaluates the table's CHECKs, and recording the version writes a row:
    # in the shell (which loads extensions) whatever they call runs, so only SQLite's own functions may be there
    _refuse_foreign_functions(info, [table, *([info.table(MIGRATIONS_TABLE)] if versioning else [])])
    plan = RepairPlan(PlanKind.RELAX, table.name, Procedure.WRITABLE_SCHEMA, tuple(statements), summary,
                      new_declaration=new_sql, source=info.database)
    return RelaxPlan(plan, table.sql, None, tuple(versioning))


def _rebuild(conn: sqlite3.Connection, info: DatabaseInfo, table: TableInfo, request: RelaxRequest,
             summary: str, why: str) -> RelaxPlan:
    assert table.sql is not None
    header = "" if request.record_version else f"-- {summary}\n-- The 12-step rebuild ({why}).\n"
    rebuild = plan_rebuild(conn, info, table, request.columns, not_null=request.not_null,
                           record=request.record_version, header=header)
    new_sql = relax_columns(table.sql, set(request.columns), table.name, not_null=request.not_null)
    plan = RepairPlan(PlanKind.RELAX, table.name, Procedure.REBUILD, tuple(rebuild.statements), summary,
                      new_declaration=new_sql, source=info.database)
    return RelaxPlan(plan, table.sql, rebuild, (), why_rebuild=why)


def parse_columns(text: str) -> tuple[str, ...]:
    """`--columns a,b` as names (surrounding spaces dropped; a name may itself hold spaces or quotes)."""
    return tuple(c.strip() for c in text.split(",") if c.strip())
