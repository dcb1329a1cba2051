"""Diagnosis: which of the three references makes the app's insert fail, and why.

SQLite only ever says `FOREIGN KEY constraint failed`.  `diagnose(path)` works on a safe
copy and says exactly which reference fails and why (a missing row, a near miss, a type
mismatch, a parent table a rename left behind, a parent key that is not unique), together
with every finding about the file's foreign keys, its recorded version and its health.
"""
from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Callable, Iterator

from . import appmodel as app
# Reason and the value helpers moved to keymatch with the key rules; still importable from here
from .keymatch import LEFTOVER_SUFFIXES as LEFTOVER_SUFFIXES
from .keymatch import Reason as Reason
from .keymatch import converts_alike, explain_key, fmt
from .keymatch import leftover_base as _leftover_base
from .keymatch import sql_type as sql_type
from .keymatch import stored_as as stored_as
from .safe_access import Check, check_indexes, index_damage, safe_connection
from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo, VersionSource, read_schema
from .sqlite_codes import PROPAGATED, Kind, full_by_the_file, kind_of, kind_of_name
from .sqlnames import quote

if TYPE_CHECKING:
    import pandas as pd


class State(StrEnum):
    """Where the upscale table stands with respect to migration 030 (`diagnose --json`'s "state")."""

    STRICT = "strict"
    PARTIALLY_RELAXED = "partially-relaxed"
    FIXED = "fixed"
    NO_UPSCALES_TABLE = "no-upscales-table"


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


STATES = tuple(State)
REASONS = tuple(Reason)
EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
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


@dataclass(frozen=True)
class ReferenceCheck:
    column: str
    parent_table: str
    parent_column: str
    value: Any
    parent_exists: bool
    reason: Reason
    #: One sentence explaining `reason`, with the evidence.
    explanation: str = ""
    #: The parent key that nearly matches (near-miss / type-mismatch), as stored.
    candidate: Any = None
    #: Whether a FOREIGN KEY is declared on the column (no constraint, no failure).
    constrained: bool = True


@dataclass(frozen=True)
class InsertSimulation:
    attempted: bool
    ok: bool
    error: str | None
    values: dict[str, Any]
    references: list[ReferenceCheck]
    failing: list[str]
    error_code: str | None = None
    note: str = ""

    @property
    def fails_on_foreign_key(self) -> bool:
        """Whether SQLite's own error is a foreign-key one (not NOT NULL, UNIQUE, CHECK, FULL...)."""
        return self.error is not None and is_foreign_key_error(self.error, self.error_code)

    @property
    def fails_otherwise(self) -> bool:
        return self.error is not None and not self.fails_on_foreign_key


def is_foreign_key_error(message: str | None, code: str | None = None) -> bool:
    """SQLite's errors for a foreign key: the constraint itself, a parent key that is not unique
    (`foreign key mismatch`) and a parent table that does not exist (`no such table`)."""
    kind = kind_of_name(code)
    if kind is Kind.CONSTRAINT_FOREIGNKEY:
        return True
    if code and kind is not Kind.ERROR:  # RAISE(ABORT, 'FOREIGN KEY constraint failed') is a trigger's
        return False
    # the other two are SQLITE_ERROR, as a syntax error is: the code decides the kind, the text which one
    text = (message or "").lower()
    return "foreign key" in text or "no such table" in text


#: What each of SQLite's other refusals of an insert means, for the answer.
OTHER_FAILURES = {
    "SQLITE_FULL": "SQLite reports the database full: a table's AUTOINCREMENT counter (sqlite_sequence) may "
                   "have reached the largest rowid, or the file its max_page_count",
    "SQLITE_CONSTRAINT_NOTNULL": "a NOT NULL column gets no value from the app's insert",
    "SQLITE_CONSTRAINT_UNIQUE": "a row with the same unique value already exists",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "a row with the same primary key already exists",
    "SQLITE_CONSTRAINT_CHECK": "a CHECK constraint of the table rejects the row",
    "SQLITE_CONSTRAINT_TRIGGER": "a trigger of the file refuses the row (RAISE)",
}


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

    @property
    def answer(self) -> str:
        return answer_sentence(self)

    @property
    def healthy(self) -> bool:
        sim = self.insert_simulation
        return (not self.needs_migration_030 and (sim.ok or not sim.attempted)
                and self.state != State.NO_UPSCALES_TABLE
                and not any(f.severity == Severity.ERROR for f in self.findings))

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
        }

    def findings_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"severity": f.severity, "code": f.code, "table": f.table, "column": f.column,
                              "message": f.message} for f in self.findings],
                            columns=["severity", "code", "table", "column", "message"])

    def references_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"column": r.column, "value": r.value, "parent": f"{r.parent_table}.{r.parent_column}",
                              "parent exists": r.parent_exists, "reason": r.reason, "why": r.explanation}
                             for r in self.insert_simulation.references],
                            columns=["column", "value", "parent", "parent exists", "reason", "why"])

    def to_frame(self) -> pd.DataFrame:
        return self.findings_frame()


# --------------------------------------------------------------------------- state
def parent_tables(table: TableInfo | None) -> list[str]:
    """The existing tables `table`'s foreign keys reference (an insert reads their key indexes)."""
    return [fk.parent_table for fk in (table.foreign_keys if table else []) if fk.parent_table_exists]


def table_state(table: TableInfo | None) -> State:
    if table is None:
        return State.NO_UPSCALES_TABLE
    refs = set(app.REFERENCE_COLUMNS)
    constrained = {c for fk in table.foreign_keys for c in fk.columns} & refs
    not_null = {c.name for c in table.columns if c.notnull} & refs
    if constrained == refs and not_null == refs:
        return State.STRICT
    if not constrained and not not_null:
        return State.FIXED
    return State.PARTIALLY_RELAXED


def leftover_base(name: str, existing: set[str]) -> str | None:
    """The table a leftover like `profiles_old` was made from, if it is one (the app's tables count
    even when the file lacks them)."""
    return _leftover_base(name, existing, app.KNOWN_TABLES)


def rollback(conn: sqlite3.Connection) -> None:
    # An interrupted or failed statement may already have rolled the transaction back.
    if conn.in_transaction:
        conn.execute("ROLLBACK")





# --------------------------------------------------------------------------- schema findings
def _no_upscales_table(info: DatabaseInfo, state: State) -> list[Finding]:
    if info.table(app.UPSCALES) is not None:
        return []
    return [Finding(
        FindingCode.NO_UPSCALES_TABLE, Severity.ERROR,
        f"{info.database} has no {app.UPSCALES} table, so it is not the video app's database "
        "(or predates migration 026); ask the customer for the app's database file.", app.UPSCALES)]


def _fk_constraints_present(info: DatabaseInfo, state: State) -> list[Finding]:
    up = info.table(app.UPSCALES)
    return [Finding(
        FindingCode.FK_CONSTRAINTS_PRESENT, Severity.ERROR,
        f"{app.UPSCALES}.{column} still has FOREIGN KEY REFERENCES {fk.parent_table}"
        f"({', '.join(fk.parent_columns) or '?'}) ON DELETE {fk.on_delete}, so every new upscale "
        f"needs a matching {fk.parent_table} row; migration 030 removes it.", app.UPSCALES, column)
        for fk in (up.foreign_keys if up else []) for column in fk.columns if column in app.REFERENCE_COLUMNS]


def _fk_columns_not_null(info: DatabaseInfo, state: State) -> list[Finding]:
    up = info.table(app.UPSCALES)
    return [Finding(
        FindingCode.FK_COLUMNS_NOT_NULL, Severity.WARNING,
        f"{app.UPSCALES}.{column.name} is NOT NULL, so an upscale cannot be saved without a "
        f"{column.name}; migration 030 makes it nullable.", app.UPSCALES, column.name)
        for column in (up.columns if up else []) if column.name in app.REFERENCE_COLUMNS and column.notnull]


def _recorded_version_mismatch(info: DatabaseInfo, state: State) -> list[Finding]:
    if info.recorded_version is None or state not in (State.STRICT, State.PARTIALLY_RELAXED):
        return []
    claim = 30 if info.recorded_version >= 30 else 28 if info.recorded_version >= 28 else None
    if not (claim == 30 or (claim == 28 and state == State.STRICT)):
        return []
    return [Finding(
        FindingCode.RECORDED_VERSION_MISMATCH, Severity.WARNING,
        f"The file records version {info.recorded_version} (in {info.version_source}), which claims migration "
        f"{claim:03d} ran, but {app.UPSCALES} is {state}: the schema is the truth, and the migration "
        "was recorded without taking effect.", app.UPSCALES)]


def _leftover_migration_table(table: TableInfo, existing: set[str]) -> list[Finding]:
    base = leftover_base(table.name, existing)
    if not base:
        return []
    return [Finding(
        FindingCode.LEFTOVER_MIGRATION_TABLE, Severity.WARNING,
        f"{table.name} ({table.row_count} rows) looks like a leftover of a migration that rebuilt "
        f"{base}; it was never dropped, so check which table holds the live rows before removing it.",
        table.name, count=table.row_count)]


def _table_findings(info: DatabaseInfo, state: State) -> list[Finding]:
    """Each table's foreign-key findings, then whether it is a leftover, table by table."""
    existing = {t.name.lower() for t in info.tables}
    findings: list[Finding] = []
    for table in info.tables:
        for fk in table.foreign_keys:
            findings += _foreign_key_findings(info, table, fk, existing)
        findings += _leftover_migration_table(table, existing)
    return findings


def _wal_not_checkpointed(info: DatabaseInfo, state: State) -> list[Finding]:
    if not info.wal_frames:
        return []
    return [Finding(
        FindingCode.WAL_NOT_CHECKPOINTED, Severity.INFO,
        f"{Path(info.database).name}-wal holds {info.wal_frames} un-checkpointed pages that the app sees "
        "(included in this diagnosis); a copy of the .db without its -wal would miss them.",
        count=info.wal_frames)]


#: The schema's findings, in the order they are reported.
_SCHEMA_FINDERS: tuple[Callable[[DatabaseInfo, State], list[Finding]], ...] = (
    _no_upscales_table, _fk_constraints_present, _fk_columns_not_null, _recorded_version_mismatch,
    _table_findings, _wal_not_checkpointed,
)


def schema_findings(info: DatabaseInfo, state: State) -> list[Finding]:
    return [finding for finder in _SCHEMA_FINDERS for finding in finder(info, state)]


def _foreign_key_findings(info: DatabaseInfo, table: TableInfo, fk: ForeignKeyInfo,
                          existing: set[str]) -> list[Finding]:
    findings = []
    cols = ", ".join(fk.columns)
    where = f"{table.name}({cols})"
    severity = Severity.ERROR if table.name == app.UPSCALES else Severity.WARNING
    if not fk.parent_table_exists:
        findings.append(Finding(
            FindingCode.DANGLING_REFERENCE, severity,
            f"{where} REFERENCES {fk.parent_table}, which does not exist (a rename or drop left the clause "
            "behind), so every insert of a non-NULL value fails with 'no such table'.", table.name, cols))
        return findings
    parent = info.table(fk.parent_table)
    if not fk.parent_key_unique:
        findings.append(Finding(
            FindingCode.PARENT_KEY_NOT_UNIQUE, severity,
            f"{where} REFERENCES {fk.parent_table}({', '.join(fk.parent_columns) or 'its primary key'}), which is "
            "neither a PRIMARY KEY nor UNIQUE, so SQLite raises 'foreign key mismatch' on every insert.",
            table.name, cols))
    base = leftover_base(fk.parent_table, existing)
    if base and base != fk.parent_table.lower():
        live = info.table(base)
        findings.append(Finding(
            FindingCode.STALE_PARENT_TABLE, severity,
            f"{where} REFERENCES {fk.parent_table} ({parent.row_count if parent else '?'} rows), "
            "a leftover of a rebuild, while the "
            f"live rows are in {live.name if live else base} ({live.row_count if live else '?'} rows): a rename "
            "rewrote the clause.", table.name, cols))
    # Not strict: a REFERENCES naming no columns, to a parent without a PRIMARY KEY, has no parent columns.
    for child_col, parent_col in zip(fk.columns, fk.parent_columns, strict=False):
        child = table.column(child_col)
        pcol = parent.column(parent_col) if parent else None
        if child and pcol and not converts_alike(child.affinity, pcol.affinity):
            findings.append(Finding(
                FindingCode.TYPE_AFFINITY_MISMATCH, severity,
                f"{table.name}.{child_col} is declared {child.type or 'with no type'} ({child.affinity} affinity) but "
                f"{fk.parent_table}.{parent_col} is declared {pcol.type or 'with no type'} ({pcol.affinity} affinity), "
                f"so a value that looks equal (text '5', integer 5) may not match.", table.name, child_col))
    return findings


# --------------------------------------------------------------------------- data checks
@dataclass(frozen=True)
class Violation:
    table: str
    fk: ForeignKeyInfo
    count: int = 0
    #: The rowids of the first few violating rows (EXAMPLES at most).
    examples: tuple[Any, ...] = ()


def _broken(fk: ForeignKeyInfo) -> bool:
    return not fk.parent_table_exists or not fk.parent_key_unique


def _emulated_violations(conn: sqlite3.Connection, table: TableInfo, fk: ForeignKeyInfo) -> Iterator[int]:
    """Rows of `table` violating a healthy `fk`, found in SQL when SQLite's own
    foreign_key_check cannot run on the table (another of its keys is broken)."""
    child = quote(table.name)
    not_null = " AND ".join(f"c.{quote(col)} IS NOT NULL" for col in fk.columns)
    match = " AND ".join(f"p.{quote(pc)} = c.{quote(cc)}" for cc, pc in zip(fk.columns, fk.parent_columns, strict=True))
    sql = (f"SELECT c.rowid FROM {child} AS c WHERE {not_null} AND NOT EXISTS "
           f"(SELECT 1 FROM {quote(fk.parent_table)} AS p WHERE {match})")
    for (rowid,) in conn.execute(sql):
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
        if _broken(fk) or table.without_rowid:
            continue
        for rowid in _emulated_violations(conn, table, fk):
            tally.add(fk.id, rowid)
    return tally


def orphan_findings(violations: list[Violation]) -> list[Finding]:
    findings = []
    for v in violations:
        count, examples = v.count, v.examples
        cols = ", ".join(v.fk.columns)
        findings.append(Finding(
            FindingCode.ORPHAN_ROWS, Severity.WARNING,
            f"{v.table} already has {count} row(s) whose {cols} has no matching row in {v.fk.parent_table} "
            f"(rowids {', '.join(map(str, examples))}{', ...' if count > len(examples) else ''}); they were written "
            "while foreign keys were off or broken by a later change to the parent, and PRAGMA foreign_key_check "
            "reports them.",
            v.table, cols, count=count, examples=examples))
    return findings


# --------------------------------------------------------------------------- the insert
def _lookup(conn: sqlite3.Connection, parent: str, column: str, value: Any, *, indexed: bool = True) -> bool:
    # A bound value has no affinity, so SQLite applies the parent column's affinity and
    # collation to it: the same comparison a foreign-key lookup makes.  `indexed=False` reads
    # the rows themselves (a scan), not the key index.
    hint = "" if indexed else " NOT INDEXED"
    return conn.execute(f"SELECT 1 FROM {quote(parent)}{hint} WHERE {quote(column)} = ? LIMIT 1",
                        (value,)).fetchone() is not None


def _explain(ref: ReferenceCheck) -> str:
    """The sentence for a reference the foreign-key rules do not judge (NOT NULL, no constraint)."""
    if ref.reason == Reason.NULL_NOT_ALLOWED:
        return f"{ref.column} is NULL but the column is NOT NULL"
    state = "exists" if ref.parent_exists else "is missing, which no longer matters"
    return f"{ref.column} has no foreign key; its {ref.parent_table} row {state}"


def default_values(conn: sqlite3.Connection, info: DatabaseInfo) -> dict[str, Any] | None:
    """The values the app would use: the newest generation with its profile and project."""
    gens = info.table(app.GENERATIONS)
    if gens is None or not {"id", "profile_id", "project_id"} <= {c.name for c in gens.columns}:
        return None
    row = app.newest_generation(conn)
    if row is None:
        return None
    return {"source_generation_id": row["id"], "profile_id": row["profile_id"], "project_id": row["project_id"]}


def _check_reference(conn: sqlite3.Connection, info: DatabaseInfo, up: TableInfo, ref: app.Reference,
                     values: dict[str, Any], flagged: set[int] | None) -> ReferenceCheck:
    fk = next((f for f in up.foreign_keys if ref.column in f.columns), None)
    column = up.column(ref.column)
    parent_table = fk.parent_table if fk else ref.parent_table
    parent_column = (fk.parent_columns[fk.columns.index(ref.column)]
                     if fk and len(fk.parent_columns) == len(fk.columns) else ref.parent_column)
    parent_info = info.table(parent_table)
    value = values.get(ref.column)
    if column is not None and value is not None:
        value = stored_as(conn, value, column.affinity)  # what the child row would hold
    exists = (parent_info is not None and value is not None and parent_info.column(parent_column) is not None
              and _lookup(conn, parent_info.name, parent_column, value))
    if fk is None or (value is None and column is not None and column.notnull):
        # NOT NULL is a constraint of its own; a column without a foreign key is not checked at all
        reason = Reason.OK if value is not None or column is None or not column.notnull else Reason.NULL_NOT_ALLOWED
        check = ReferenceCheck(ref.column, parent_table, parent_column, value, exists, reason,
                               constrained=fk is not None)
        return dataclasses.replace(check, explanation=_explain(check))
    # the same rules, sentences and reasons as any other key (keymatch), the app's values in the key
    verdict = explain_key(conn, info, up.name, fk, tuple(values.get(c) for c in fk.columns))
    if verdict.reason == Reason.MISSING_ROW and parent_info is not None and value is not None \
            and _lookup(conn, parent_info.name, parent_column, value, indexed=False):
        # the row is there but the key index SQLite reads does not lead to it
        raise index_damage(info.database, parent_info.name, "on its key",
                           f"lacks the row whose {parent_column} is {fmt(value)}")
    if flagged is not None and value is not None and verdict.reason not in _DECLARATION_REASONS:
        exists = fk.id not in flagged  # SQLite's own verdict on the probe row
    return ReferenceCheck(ref.column, parent_table, parent_column, value, exists, verdict.reason,
                          verdict.explanation, verdict.candidate)


#: Reasons the declaration alone gives (every insert fails, whatever its values).
_DECLARATION_REASONS = (Reason.PARENT_TABLE_MISSING, Reason.PARENT_KEY_NOT_UNIQUE)


def app_insert(table: TableInfo, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The app's INSERT for this file's upscale table (generated columns are not inserted)."""
    return app.upscale_insert(values, [c.name for c in table.columns if not c.generated])


def simulate_insert(conn: sqlite3.Connection, info: DatabaseInfo, values: dict[str, Any] | None,
                    flagged: set[int] | None = None) -> InsertSimulation:
    """Run the app's insert with foreign keys ON in a transaction that is rolled back."""
    up = info.table(app.UPSCALES)
    if up is None:
        return InsertSimulation(False, False, None, {}, [], [], note="no upscale table")
    if values is None:
        return InsertSimulation(False, False, None, {}, [], [],
                                note="no generation exists yet, so the app has nothing to upscale")
    refs = [_check_reference(conn, info, up, r, values, flagged) for r in app.REFERENCES]
    sql, params = app_insert(up, values)
    conn.execute("PRAGMA foreign_keys = ON")
    error = code = None
    conn.execute("BEGIN")
    try:
        conn.execute(sql, params)
    except sqlite3.DatabaseError as exc:
        if kind_of(exc) in PROPAGATED or (kind_of(exc) is Kind.FULL and not full_by_the_file(conn)):
            raise  # a full disk under the toolkit's copy is the machine's failure, not the insert's
        error, code = str(exc), getattr(exc, "sqlite_errorname", None)
    finally:
        rollback(conn)
    failing = [r.column for r in refs if r.reason != Reason.OK]
    note = ""
    if error and not failing:
        note = "the insert fails for a reason other than its three references"
    elif not error and failing:
        note = "the references look broken but SQLite accepted the insert"
    return InsertSimulation(True, error is None, error, dict(values), refs, failing, code, note)


def probe_and_check(conn: sqlite3.Connection, info: DatabaseInfo, values: dict[str, Any] | None
                    ) -> tuple[list[Violation], set[int] | None, list[str]]:
    """One pass of foreign_key_check answers both questions: the existing orphans, and
    which of the app's references fail (a probe row inserted with foreign keys off, so that
    SQLite itself judges each reference; everything is rolled back)."""
    up = info.table(app.UPSCALES)
    probe = None
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN")
    try:
        if up is not None and values is not None and not up.without_rowid:
            sql, params = app_insert(up, values)
            try:
                probe = (up.name, conn.execute(sql, params).lastrowid)
            except sqlite3.DatabaseError as exc:  # NOT NULL, CHECK ...: the simulation reports it
                if kind_of(exc) in PROPAGATED:
                    raise
        violations, probe_fails, notes = foreign_key_violations(conn, info, probe)
    finally:
        rollback(conn)
    judged = probe is not None and not any(n.startswith(f"{app.UPSCALES}: ") for n in notes)
    return violations, (probe_fails if judged else None), notes


def diagnose_connection(conn: sqlite3.Connection, *, database: str, insert: dict[str, Any] | None = None,
                        wal_frames: int = 0, journal_mode: str | None = None) -> Diagnosis:
    """Diagnose an open, already integrity-checked copy."""
    info = read_schema(conn, database=database, wal_frames=wal_frames, journal_mode=journal_mode)
    up = info.table(app.UPSCALES)
    # the answer reads the parents' key indexes: quick_check does not compare them with their rows
    check_indexes(conn, database, parent_tables(up))
    state = table_state(up)
    findings = schema_findings(info, state)
    defaults = default_values(conn, info)
    values = {**(defaults or {}), **insert} if insert else defaults
    violations, flagged, notes = probe_and_check(conn, info, values)
    findings += orphan_findings(violations)
    sim = simulate_insert(conn, info, values, flagged)
    explained = (FindingCode.DANGLING_REFERENCE, FindingCode.PARENT_KEY_NOT_UNIQUE)
    if notes and not any(f.code in explained for f in findings):
        findings.append(Finding(FindingCode.INTEGRITY_ERROR, Severity.ERROR,
                                f"PRAGMA foreign_key_check failed: {'; '.join(notes)}."))
    return Diagnosis(
        database=database, sqlite_version=sqlite3.sqlite_version, recorded_version=info.recorded_version,
        version_source=info.version_source, state=state,
        needs_migration_030=state in (State.STRICT, State.PARTIALLY_RELAXED), findings=findings,
        insert_simulation=sim, wal_frames=wal_frames, schema=info)


def diagnose(path: str | Path, insert: dict[str, Any] | None = None, *, full_check: bool = False) -> Diagnosis:
    """Diagnose a customer's database (on a safe copy; the original is proven unchanged).

    `insert` gives the values of the app's insert (`source_generation_id`, `profile_id`,
    `project_id`); by default the newest generation's, as the app would use.  A damaged
    file (quick_check, or integrity_check with `full_check`) is refused as bad input."""
    with safe_connection(path, check=Check.chosen(full_check)) as (work, conn):
        d = diagnose_connection(conn, database=str(path), insert=insert, wal_frames=work.wal_frames,
                                journal_mode=work.journal_mode)
    # the hashes as read; leaving safe_connection proved the original still has them
    return dataclasses.replace(d, original_hashes=dict(work.fingerprint.hashes))


# --------------------------------------------------------------------------- the answer
def _other_failure_sentence(sim: InsertSimulation) -> str:
    """The insert fails for a reason other than a foreign key (and perhaps for its references too)."""
    meaning = OTHER_FAILURES.get(sim.error_code or "", "compare the app's insert with this table's columns, "
                                 "constraints and triggers")
    also = [r.explanation for r in sim.references if r.reason != Reason.OK]
    then = f"; once that is solved it would still fail because {'; and '.join(also)}" if also else ""
    return (f"The insert fails with '{sim.error}' ({sim.error_code or 'SQLite error'}), which is not a foreign "
            f"key: {meaning}{then}.")


def _failing_references_sentence(sim: InsertSimulation) -> str:
    parts = [r.explanation for r in sim.references if r.reason != Reason.OK]
    fixes = []
    for r in sim.references:
        if r.reason == Reason.MISSING_ROW:
            fixes.append(f"restore the {r.parent_table} row")
        elif r.reason in (Reason.NEAR_MISS, Reason.TYPE_MISMATCH):
            fixes.append(f"correct the {r.parent_table} key")
    remedy = "apply migration 030 (python -m toolkit fix)"
    if fixes:
        remedy += f" or {' and '.join(dict.fromkeys(fixes))}"
    return f"The insert fails because {'; and '.join(parts)}; {remedy}."


def answer_sentence(d: Diagnosis) -> str:
    sim = d.insert_simulation
    name = Path(d.database).name
    if d.state == State.NO_UPSCALES_TABLE:
        return (f"{name} has no {app.UPSCALES} table, so it is not the video app's database; "
                "ask the customer for the app's database file.")
    if not sim.attempted:
        then = "so apply migration 030 before the first upscale." if d.needs_migration_030 else "so nothing to do."
        return f"No generation exists in {name} yet, so there is nothing to upscale; the table is {d.state}, " + then
    if sim.fails_otherwise:
        return _other_failure_sentence(sim)
    if sim.failing:
        return _failing_references_sentence(sim)
    if not sim.ok:
        return (f"The insert fails with '{sim.error}', which is not one of its three references; "
                "compare the app's insert with this table's columns and constraints.")
    if d.needs_migration_030:
        orphans = d.finding("orphan-rows")
        extra = f"; {sum(f.count or 0 for f in orphans)} existing rows already violate them" if orphans else ""
        return (f"The app's insert succeeds on {name} today, but {app.UPSCALES} is {d.state} (foreign keys still "
                f"on its reference columns{extra}); apply migration 030 before another parent goes missing.")
    errors_ = [f for f in d.findings if f.severity == Severity.ERROR]
    if errors_:
        return f"The app's insert succeeds and migration 030 is applied, but: {errors_[0].message}"
    return f"The app's insert succeeds and {app.UPSCALES} is already fixed (migration 030 applied); nothing to do."
