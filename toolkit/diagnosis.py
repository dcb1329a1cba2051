"""Diagnosis of any SQLite file: which reference fails, and why.

SQLite only ever says `FOREIGN KEY constraint failed`.  `diagnose(path)` works on a safe copy and
answers in one sentence, from what it was given:
- a failing statement or transaction (`sql`), or a table and values (`table`, `values`): it is
  replayed as the app ran it, and every row it leaves violating a key is named, with why and when;
- the message the customer saw (`error_message`): the declarations of this file that can raise it;
- nothing: the file's health (broken declarations, orphan rows, leftovers, cycles, unindexed keys).
An application profile (the video app's is the first) adds what is known about that app when its
table is there: the app's own insert, simulated with the values it would use, and its fix.
"""
from __future__ import annotations

import dataclasses
import shlex
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import profile as profiles
from .appmodel import VIDEO_APP
from .findings import (
    Finding,
    FindingCode,
    Severity,
    declaration_findings,
    non_deferrable_cycles,
    orphan_findings,
    unindexed_child_keys,
    wal_not_checkpointed,
)
from .keymatch import Reason as Reason
from .messages import Declaration, ErrorMessage, MessageKind, declarations_for, parse_error
from .profile import InsertSimulation, Profile, ReferenceCheck, State
from .replay import StatementSimulation, replay
from .safe_access import Check, check_indexes, safe_connection
from .schema import DatabaseInfo, VersionSource, read_schema
from .statements import Script, Statement, StatementKind, parse_script
from .values import parse_values, insert_for
from .violations import EXAMPLES, Violation, foreign_key_violations

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXAMPLES", "Diagnosis", "ErrorAnswer", "Finding", "FindingCode", "InsertSimulation", "PROFILES",
           "Reason", "ReferenceCheck", "Request", "Severity", "State", "Violation", "diagnose",
           "diagnose_connection"]

#: The applications the toolkit knows; a file gets the first whose table it has.
PROFILES: tuple[Profile, ...] = (VIDEO_APP,)
STATES = tuple(State)
REASONS = tuple(Reason)


@dataclass(frozen=True)
class ErrorAnswer:
    """The customer's error message, read, and the declarations of this file that can raise it."""

    message: ErrorMessage
    declarations: tuple[Declaration, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.message.text, "kind": str(self.message.kind), "tables": list(self.message.tables),
                "columns": list(self.message.columns), "constraint": self.message.constraint,
                "declarations": [{"table": d.table, "columns": list(d.columns), "parent_table": d.parent_table,
                                  "parent_columns": list(d.parent_columns), "on_delete": d.on_delete,
                                  "on_update": d.on_update, "parent_table_exists": d.parent_table_exists,
                                  "parent_key_unique": d.parent_key_unique} for d in self.declarations]}


@dataclass(frozen=True)
class Request:
    """What the support engineer asks about, checked before the file is copied: a script to replay,
    or a table and values to insert (built into a script once the table's columns are read), and an
    error message."""

    script: Script | None = None
    table: str | None = None
    values: str | None = None
    error_message: str | None = None

    @classmethod
    def of(cls, *, sql: str | None = None, sql_source: str = "--sql", table: str | None = None,
           values: str | None = None, error_message: str | None = None) -> Request:
        from . import errors

        if sql is not None and values is not None:
            raise errors.RefusedError("give either the statements (--sql / --sql-file) or --table with --values, "
                                      "not both.")
        if (table is None) != (values is None):
            raise errors.RefusedError("--table and --values go together: name the table and give its values "
                                      "(col=value,...).")
        if values is not None:
            parse_values(values)  # one sentence now, before any copy is made
        return cls(parse_script(sql, sql_source) if sql is not None else None, table, values, error_message)

    @property
    def asks_statement(self) -> bool:
        return self.script is not None or self.table is not None

    def script_for(self, info: DatabaseInfo) -> Script | None:
        from . import errors

        if self.script is not None or self.table is None or self.values is None:
            return self.script
        table = info.table(self.table)
        if table is None:
            have = ", ".join(t.name for t in info.tables[:20])
            raise errors.BadStatementError(f"--table: the file has no table {self.table!r} (its tables: {have}).")
        sql, params = insert_for(table, parse_values(self.values))
        return Script("--values", (Statement(1, sql, StatementKind.INSERT, params=params),))


@dataclass(frozen=True)
class Diagnosis:
    database: str
    sqlite_version: str
    recorded_version: int | None
    version_source: VersionSource | None
    state: State
    needs_migration_030: bool
    findings: list[Finding]
    insert_simulation: InsertSimulation
    wal_frames: int = 0
    schema: DatabaseInfo | None = field(default=None, repr=False)
    #: SHA-256 of the original and its sidecars, as read, and proven unchanged after the diagnosis.
    original_hashes: dict[str, str] = field(default_factory=dict, repr=False)
    #: The application profile that applied ("video-app"), or None for any other file.
    profile: str | None = None
    #: The replay of the statements asked about (None when none was given).
    statement_simulation: StatementSimulation | None = None
    #: The error message asked about, and the declarations that can raise it.
    error_answer: ErrorAnswer | None = None

    @property
    def answer(self) -> str:
        return answer_sentence(self)

    @property
    def healthy(self) -> bool:
        stmt, sim = self.statement_simulation, self.insert_simulation
        if stmt is not None:  # the question asked decides
            return stmt.ok
        if self.needs_migration_030 or (sim.attempted and not sim.ok):
            return False
        return not any(f.severity == Severity.ERROR for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.healthy else 1

    def finding(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def to_dict(self) -> dict[str, Any]:
        """The pinned JSON shape of `diagnose --json`."""
        sim = self.insert_simulation
        return {
            "database": self.database,
            "sqlite_version": self.sqlite_version,
            "recorded_version": self.recorded_version,
            "profile": self.profile,
            "state": self.state,
            "needs_migration_030": self.needs_migration_030,
            "answer": self.answer,
            "findings": [asdict(f) for f in self.findings],
            "insert_simulation": {
                "attempted": sim.attempted,
                "ok": sim.ok,
                "error": sim.error,
                "values": sim.values,
                "references": [
                    {"column": r.column, "parent_table": r.parent_table, "parent_column": r.parent_column,
                     "value": r.value, "parent_exists": r.parent_exists, "reason": r.reason,
                     "explanation": r.explanation}
                    for r in sim.references
                ],
                "failing": sim.failing,
            },
            "statement_simulation": self.statement_simulation.to_dict() if self.statement_simulation else None,
            "error_message": self.error_answer.to_dict() if self.error_answer else None,
        }

    def findings_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"severity": f.severity, "code": f.code, "table": f.table, "column": f.column,
                              "message": f.message} for f in self.findings],
                            columns=["severity", "code", "table", "column", "message"])

    def references_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"column": r.column, "value": r.value, "parent": f"{r.parent_table}.{r.parent_column}",
                              "parent exists": r.parent_shown, "reason": r.reason, "why": r.explanation}
                             for r in self.insert_simulation.references],
                            columns=["column", "value", "parent", "parent exists", "reason", "why"])

    def violations_frame(self) -> pd.DataFrame:
        """The rows the statements leave violating a key, one per row and key."""
        import pandas as pd

        columns = ["table", "rowid", "columns", "values", "parent", "reason", "when", "why"]
        sim = self.statement_simulation
        return pd.DataFrame([{"table": v.table, "rowid": v.rowid, "columns": ", ".join(v.columns),
                              "values": ", ".join(map(repr, v.values)),
                              "parent": v.parent, "reason": v.reason, "when": v.when,
                              "why": v.explanation} for v in (sim.violations if sim else ())], columns=columns)

    def to_frame(self) -> pd.DataFrame:
        return self.findings_frame()


def profile_of(info: DatabaseInfo) -> Profile | None:
    return next((p for p in PROFILES if p.applies(info)), None)


# --------------------------------------------------------------------------- the diagnosis
def _general_findings(conn: sqlite3.Connection, info: DatabaseInfo, violations: list[Violation], notes: list[str],
                      known: tuple[str, ...], focus: str | None) -> list[Finding]:
    findings = declaration_findings(info, known=known, focus=focus) + wal_not_checkpointed(info)
    findings += orphan_findings(info, violations) + non_deferrable_cycles(info) + unindexed_child_keys(conn, info)
    explained = (FindingCode.DANGLING_REFERENCE, FindingCode.PARENT_KEY_NOT_UNIQUE)
    if notes and not any(f.code in explained for f in findings):
        findings.append(Finding(FindingCode.INTEGRITY_ERROR, Severity.ERROR,
                                f"PRAGMA foreign_key_check failed: {'; '.join(notes)}."))
    return findings


def diagnose_connection(conn: sqlite3.Connection, *, database: str, insert: dict[str, Any] | None = None,
                        wal_frames: int = 0, journal_mode: str | None = None,
                        request: Request | None = None) -> Diagnosis:
    """Diagnose an open, already integrity-checked copy."""
    request = request or Request()
    info = read_schema(conn, database=database, wal_frames=wal_frames, journal_mode=journal_mode)
    script = request.script_for(info)
    profile = profile_of(info)
    # a profile's default insert is its question only when nothing else was asked
    simulate = profile is not None and (script is None or insert is not None)
    table = info.table(profile.table) if profile else None
    if simulate:
        # the answer reads the parents' key indexes: quick_check does not compare them with their rows
        check_indexes(conn, database, profiles.parent_tables(table))
    state = profiles.table_state(profile, table) if profile else State.NO_UPSCALES_TABLE
    findings = [f for p in PROFILES for f in profiles.profile_findings(p, info, state)
                if p is profile or not p.applies(info)]
    values = None
    if simulate and profile is not None:
        defaults = profile.default_values(conn, info)
        values = {**(defaults or {}), **insert} if insert else defaults
        violations, flagged, notes = profiles.probe_and_check(profile, conn, info, values)
    else:
        violations, _, notes = foreign_key_violations(conn, info)
        flagged = None
    findings += _general_findings(conn, info, violations, notes, profile.known_tables if profile else (),
                                  profile.table if profile else None)
    sim = profiles.simulate_insert(profile, conn, info, values, flagged) if simulate and profile else \
        dataclasses.replace(profiles.NOT_SIMULATED, note="a statement was given" if script else "no profile applies")
    statement = replay(conn, info, script, script.source, before=violations) if script is not None else None
    errors_answer = None
    if request.error_message is not None:
        message = parse_error(request.error_message)
        errors_answer = ErrorAnswer(message, declarations_for(info, message))
    return Diagnosis(
        database=database, sqlite_version=sqlite3.sqlite_version, recorded_version=info.recorded_version,
        version_source=info.version_source, state=state, needs_migration_030=profiles.needs_fix(state),
        findings=findings, insert_simulation=sim, wal_frames=wal_frames, schema=info,
        profile=profile.name if profile else None, statement_simulation=statement, error_answer=errors_answer)


def diagnose(path: str | Path, insert: dict[str, Any] | None = None, *, sql: str | None = None,
             sql_source: str = "--sql", table: str | None = None, values: str | None = None,
             error_message: str | None = None, full_check: bool = False) -> Diagnosis:
    """Diagnose a database (on a safe copy; the original is proven unchanged).

    `sql`: the statements the app ran (named `sql_source` in sentences); `table` and `values`: an
    INSERT built from `col=value,...` (`col:int=5`, `col:null`); `error_message`: the message the
    customer saw.  `insert` overrides values of the applying profile's own insert (its reference
    columns); by default the profile reads them from the file, as the app would.
    Statements and values are checked before the file is copied.  A damaged file (quick_check, or
    integrity_check with `full_check`) is refused as bad input."""
    request = Request.of(sql=sql, sql_source=sql_source, table=table, values=values, error_message=error_message)
    # the check and the closing hash beside the diagnosis: on a large file each is a pass of its own
    with safe_connection(path, check=Check.chosen(full_check), overlap=True) as (work, conn):
        # the two foreign_key_check passes look up random parent keys: 64 MiB of page cache instead of
        # SQLite's 2 MiB saves a read() per lookup (about a fifth of the CPU at a million rows), bounded
        conn.execute("PRAGMA cache_size = -65536")
        d = diagnose_connection(conn, database=str(path), insert=insert, wal_frames=work.wal_frames,
                                journal_mode=work.journal_mode, request=request)
    # the hashes as read; leaving safe_connection proved the original still has them
    return dataclasses.replace(d, original_hashes=dict(work.fingerprint.hashes))


# --------------------------------------------------------------------------- the answer
def _declaration_list(declarations: tuple[Declaration, ...], limit: int = 8) -> str:
    shown = "; ".join(d.text for d in declarations[:limit])
    return shown + (f"; and {len(declarations) - limit} more" if len(declarations) > limit else "")


def _error_sentence(e: ErrorAnswer, name: str) -> str:
    msg, found = e.message, e.declarations
    quoted = f"'{' '.join(msg.text.split())[:200]}'"
    if msg.kind is MessageKind.NOT_A_FOREIGN_KEY:
        return (f"{quoted} is a {msg.constraint or 'another'} constraint's error, not a foreign key's: "
                "look at that constraint, not at the references.")
    if msg.kind is MessageKind.UNKNOWN:
        return (f"{quoted} is none of SQLite's foreign-key errors (FOREIGN KEY constraint failed, foreign key "
                "mismatch, no such table); paste the message as the app logged it.")
    if not found:
        return (f"No foreign key of {name} can raise {quoted}: it comes from another file, or from the statement "
                "itself (a table it names), not from a declaration here.")
    if msg.kind is MessageKind.NO_SUCH_TABLE:
        return (f"{quoted} comes from {_declaration_list(found)}: the parent table does not exist in {name}, so "
                "SQLite refuses every INSERT into the child, every DELETE from it and every UPDATE of the key "
                "before it reads a row, NULL keys too.")
    if msg.kind is MessageKind.FOREIGN_KEY_MISMATCH:
        return (f"{quoted} comes from {_declaration_list(found)}: the parent columns are neither its PRIMARY KEY "
                "nor UNIQUE, so SQLite refuses every write that touches the key (an INSERT into or DELETE from the "
                "child, an UPDATE of the key, a DELETE from the parent or a change of its key) and "
                "PRAGMA foreign_key_check; a UNIQUE index on the parent columns, with their own collation, ends it.")
    return (f"{quoted} names no key; in {name} it can come from {len(found)} declaration(s): "
            f"{_declaration_list(found)}. Replay the failing statement (--sql) to name the row and why.")


def _health_sentence(d: Diagnosis, name: str) -> str:
    keys = sum(len(t.foreign_keys) for t in d.schema.tables) if d.schema else 0
    ranked = sorted(d.findings, key=lambda f: list(Severity).index(f.severity))
    if ranked and ranked[0].severity is Severity.ERROR:
        count = sum(f.severity is Severity.ERROR for f in ranked)
        return f"{name} has {count} foreign-key problem(s); the first: {ranked[0].message}" + _repair_clause(d)
    if not keys:
        return f"{name} declares no foreign keys, so SQLite checks none; nothing to do."
    warnings = [f for f in ranked if f.severity is Severity.WARNING]
    if warnings:
        return f"{name}'s {keys} foreign key(s) work, but: {warnings[0].message}" + _repair_clause(d)
    return f"{name} is healthy: its {keys} foreign key(s) are declared soundly and no row violates them."


def error_sentence(d: Diagnosis) -> str | None:
    """The answer to the error message asked about (None when none was), also when a replayed
    statement leads the diagnosis's answer."""
    return _error_sentence(d.error_answer, Path(d.database).name) if d.error_answer is not None else None


def _repair_clause(d: Diagnosis, *, statement: bool = False) -> str:
    """The command that repairs what the answer names (the file's first problem, or what made the
    replayed statement fail), when a repair plan applies."""
    from .rowplans import statement_repair, suggested_repair

    command = statement_repair(d) if statement else suggested_repair(d)
    return f" Repair with: {command}" if command else ""


def answer_sentence(d: Diagnosis) -> str:
    name = Path(d.database).name
    stmt = d.statement_simulation
    if stmt is not None:
        return stmt.summary + _repair_clause(d, statement=True)
    if d.error_answer is not None:
        return _error_sentence(d.error_answer, name)
    profile = next((p for p in PROFILES if p.name == d.profile), None)
    missing = d.finding(FindingCode.NO_UPSCALES_TABLE)
    if profile is None and missing:
        return missing[0].message
    if profile is None:
        return _health_sentence(d, name)
    sentence = profiles.answer(profile, d.database, d.state, d.insert_simulation, d.findings)
    if profiles.needs_fix(d.state):  # the profile's own repair, runnable as printed
        sentence += f" Repair with: {profile.fix_command} {shlex.quote(d.database)} --out FIXED.db"
    return sentence
