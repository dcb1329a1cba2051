"""Application profiles: what the toolkit knows about one app's database, applied when its table exists.

A `Profile` is data: the table whose insert the app's users see fail, the references of that
insert, the default values the app would use, the fix the app ships and the recorded versions that
claim it ran.  The functions here apply any profile to any file; the video app's profile is
`appmodel.VIDEO_APP`, and nothing here names its tables.
"""
from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from .findings import Finding, FindingCode, Severity
from .keymatch import Reason, explain_key, fmt, stored_as
from .safe_access import index_damage
from .schema import DatabaseInfo, TableInfo
from .sqlite_codes import PROPAGATED, Kind, full_by_the_file, kind_of, kind_of_name
from .sqlnames import quote
from .violations import Violation, foreign_key_violations, rollback


class State(StrEnum):
    """Where the profile's table stands with respect to the app's fix (`diagnose --json`'s "state")."""

    STRICT = "strict"
    PARTIALLY_RELAXED = "partially-relaxed"
    FIXED = "fixed"
    NO_UPSCALES_TABLE = "no-upscales-table"


@dataclass(frozen=True)
class Reference:
    """One foreign key of the profile's insert, as the app declared it."""

    column: str
    parent_table: str
    parent_column: str


@dataclass(frozen=True)
class VersionClaim:
    """A recorded version at or above `version` claims the app's migration `migration` ran, which
    the table contradicts when it is in one of `contradicted_by`."""

    version: int
    migration: int
    contradicted_by: frozenset[State]


@dataclass(frozen=True)
class Profile:
    """An application's knowledge as data: its table, its references, its fix and its insert."""

    name: str
    #: How sentences name the app ("the video app").
    app: str
    #: The table the app inserts into when users see the failure; the profile applies when it exists.
    table: str
    references: tuple[Reference, ...]
    #: Tables the app creates (a leftover `*_old` of one counts even when the file lacks it).
    known_tables: tuple[str, ...]
    #: Tables whose presence without `table` says the file is the app's, from before `table` existed.
    sibling_tables: tuple[str, ...]
    #: The migration that created the table with its foreign keys ("migration 026").
    introduced_by: str
    #: The app's fix ("migration 030") and the toolkit command that applies it to a copy.
    fix: str
    fix_command: str
    claims: tuple[VersionClaim, ...]
    #: The values the app would insert, read from the file (None: the app has nothing to insert yet).
    default_values: Callable[[sqlite3.Connection, DatabaseInfo], dict[str, Any] | None]
    #: The app's INSERT for these values, limited to the given columns of the table.
    insert: Callable[[Mapping[str, Any], list[str]], tuple[str, tuple[Any, ...]]]
    #: Why the app has nothing to insert yet (a note), and the answer's start saying so for file `{name}`.
    nothing_to_insert: str
    nothing_to_insert_answer: str
    #: The row the insert creates, in prose ("upscale").
    row_noun: str

    @property
    def reference_columns(self) -> tuple[str, ...]:
        return tuple(r.column for r in self.references)

    def applies(self, info: DatabaseInfo) -> bool:
        return info.table(self.table) is not None

    def looks_like(self, info: DatabaseInfo) -> bool:
        """The file is the app's, with or without the profile's table."""
        return self.applies(info) or any(info.table(t) is not None for t in self.sibling_tables)


@dataclass(frozen=True)
class ReferenceCheck:
    """One reference of the app's insert, checked: the value, its parent, and why it fails."""

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

    @property
    def parent_shown(self) -> str:
        """`parent_exists` as a table shows it: a NULL key is never looked up, so for it neither
        yes nor no would be true."""
        if self.value is None:
            return "not checked (NULL)"
        return "yes" if self.parent_exists else "no"


@dataclass(frozen=True)
class InsertSimulation:
    """The app's insert tried on a copy and rolled back: SQLite's verdict and each reference's."""

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


NOT_SIMULATED = InsertSimulation(False, False, None, {}, [], [])


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


# --------------------------------------------------------------------------- state
def parent_tables(table: TableInfo | None) -> list[str]:
    """The existing tables `table`'s foreign keys reference (an insert reads their key indexes)."""
    return [fk.parent_table for fk in (table.foreign_keys if table else []) if fk.parent_table_exists]


def table_state(profile: Profile, table: TableInfo | None) -> State:
    if table is None:
        return State.NO_UPSCALES_TABLE
    refs = set(profile.reference_columns)
    constrained = {c for fk in table.foreign_keys for c in fk.columns} & refs
    not_null = {c.name for c in table.columns if c.notnull} & refs
    if constrained == refs and not_null == refs:
        return State.STRICT
    if not constrained and not not_null:
        return State.FIXED
    return State.PARTIALLY_RELAXED


def needs_fix(state: State) -> bool:
    return state in (State.STRICT, State.PARTIALLY_RELAXED)


# --------------------------------------------------------------------------- the profile's findings
def _missing_table(profile: Profile, info: DatabaseInfo) -> list[Finding]:
    # Only a file that is the app's without the table says anything: another app's file is not a problem.
    if profile.applies(info) or not profile.looks_like(info):
        return []
    return [Finding(
        FindingCode.NO_UPSCALES_TABLE, Severity.ERROR,
        f"{info.database} has {', '.join(t for t in profile.sibling_tables if info.table(t))} but no {profile.table} "
        f"table, so it is {profile.app}'s database from before {profile.introduced_by}; ask the customer for the "
        "app's current database file.", profile.table)]


def _constraints_present(profile: Profile, info: DatabaseInfo) -> list[Finding]:
    table = info.table(profile.table)
    return [Finding(
        FindingCode.FK_CONSTRAINTS_PRESENT, Severity.ERROR,
        f"{profile.table}.{column} still has FOREIGN KEY REFERENCES {fk.parent_table}"
        f"({', '.join(fk.parent_columns) or '?'}) ON DELETE {fk.on_delete}, so with foreign keys on every new "
        f"{profile.row_noun} whose {column} is not NULL needs a matching {fk.parent_table} row; {profile.fix} "
        "removes it.", profile.table, column)
        for fk in (table.foreign_keys if table else []) for column in fk.columns
        if column in profile.reference_columns]


def _columns_not_null(profile: Profile, info: DatabaseInfo) -> list[Finding]:
    table = info.table(profile.table)
    return [Finding(
        FindingCode.FK_COLUMNS_NOT_NULL, Severity.WARNING,
        f"{profile.table}.{column.name} is NOT NULL, so an {profile.row_noun} cannot be saved without a "
        f"{column.name} (a constraint of its own, failing as 'NOT NULL constraint failed': NOT NULL plays no part "
        f"in the foreign-key check); {profile.fix} makes it nullable.", profile.table, column.name)
        for column in (table.columns if table else []) if column.name in profile.reference_columns and column.notnull]


def _recorded_version_mismatch(profile: Profile, info: DatabaseInfo, state: State) -> list[Finding]:
    if info.recorded_version is None:
        return []
    claim = next((c for c in profile.claims if info.recorded_version >= c.version), None)
    if claim is None or state not in claim.contradicted_by:
        return []
    return [Finding(
        FindingCode.RECORDED_VERSION_MISMATCH, Severity.WARNING,
        f"The file records version {info.recorded_version} (in {info.version_source}), which claims migration "
        f"{claim.migration:03d} ran, but {profile.table} is {state}: the schema is the truth, and the migration "
        "was recorded without taking effect.", profile.table)]


def profile_findings(profile: Profile, info: DatabaseInfo, state: State) -> list[Finding]:
    """What the profile says about the file, before the generic findings."""
    return (_missing_table(profile, info) + _constraints_present(profile, info) + _columns_not_null(profile, info)
            + _recorded_version_mismatch(profile, info, state))


# --------------------------------------------------------------------------- the app's insert
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


def _unjudged(ref: Reference, parent_table: str, parent_column: str,
              value: Any, exists: bool, constrained: bool, notnull: bool) -> ReferenceCheck:
    # NOT NULL is a constraint of its own; a column without a foreign key is not checked at all
    reason = Reason.NULL_NOT_ALLOWED if value is None and notnull else Reason.OK
    check = ReferenceCheck(ref.column, parent_table, parent_column, value, exists, reason, constrained=constrained)
    return dataclasses.replace(check, explanation=_explain(check))


def _check_reference(conn: sqlite3.Connection, info: DatabaseInfo, table: TableInfo, ref: Reference,
                     values: dict[str, Any], flagged: set[int] | None) -> ReferenceCheck:
    fk = next((f for f in table.foreign_keys if ref.column in f.columns), None)
    column = table.column(ref.column)
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
        return _unjudged(ref, parent_table, parent_column, value, exists, fk is not None,
                         column is not None and column.notnull)
    # the same rules, sentences and reasons as any other key (keymatch), the app's values in the key
    verdict = explain_key(conn, info, table.name, fk, tuple(values.get(c) for c in fk.columns))
    if verdict.reason == Reason.MISSING_ROW and parent_info is not None and value is not None \
            and _lookup(conn, parent_info.name, parent_column, value, indexed=False):
        # the row is there but the key index SQLite reads does not lead to it
        raise index_damage(info.database, parent_info.name, "on its key",
                           f"lacks the row whose {parent_column} is {fmt(value)}")
    if flagged is not None and value is not None and verdict.reason not in DECLARATION_REASONS:
        exists = fk.id not in flagged  # SQLite's own verdict on the probe row
    return ReferenceCheck(ref.column, parent_table, parent_column, value, exists, verdict.reason,
                          verdict.explanation, verdict.candidate)


#: Reasons the declaration alone gives (every insert fails, whatever its values).
DECLARATION_REASONS = (Reason.PARENT_TABLE_MISSING, Reason.PARENT_KEY_NOT_UNIQUE)


def app_insert(profile: Profile, table: TableInfo, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The app's INSERT for this file's table (generated columns are not inserted)."""
    return profile.insert(values, [c.name for c in table.columns if not c.generated])


def _run_insert(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> tuple[str | None, str | None]:
    """SQLite's error for the insert with foreign keys ON, rolled back (None: it succeeds)."""
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    try:
        conn.execute(sql, params)
    except sqlite3.DatabaseError as exc:
        if kind_of(exc) in PROPAGATED or (kind_of(exc) is Kind.FULL and not full_by_the_file(conn)):
            raise  # a full disk under the toolkit's copy is the machine's failure, not the insert's
        return str(exc), getattr(exc, "sqlite_errorname", None)
    finally:
        rollback(conn)
    return None, None


def simulate_insert(profile: Profile, conn: sqlite3.Connection, info: DatabaseInfo, values: dict[str, Any] | None,
                    flagged: set[int] | None = None) -> InsertSimulation:
    """Run the app's insert with foreign keys ON in a transaction that is rolled back."""
    table = info.table(profile.table)
    if table is None:
        return dataclasses.replace(NOT_SIMULATED, note=f"no {profile.table} table")
    if values is None:
        return dataclasses.replace(NOT_SIMULATED, note=profile.nothing_to_insert)
    refs = [_check_reference(conn, info, table, r, values, flagged) for r in profile.references]
    error, code = _run_insert(conn, *app_insert(profile, table, values))
    failing = [r.column for r in refs if r.reason != Reason.OK]
    note = ""
    if error and not failing:
        note = f"the insert fails for a reason other than its {_count(len(refs))} references"
    elif not error and failing:
        note = "the references look broken but SQLite accepted the insert"
    return InsertSimulation(True, error is None, error, dict(values), refs, failing, code, note)


def _count(n: int) -> str:
    return ("no", "one", "two", "three", "four", "five")[n] if n < 6 else str(n)


def probe_and_check(profile: Profile, conn: sqlite3.Connection, info: DatabaseInfo, values: dict[str, Any] | None
                    ) -> tuple[list[Violation], set[int] | None, list[str]]:
    """One pass of foreign_key_check answers both questions: the existing orphans, and
    which of the app's references fail (a probe row inserted with foreign keys off, so that
    SQLite itself judges each reference; everything is rolled back)."""
    table = info.table(profile.table)
    probe = None
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN")
    try:
        if table is not None and values is not None and not table.without_rowid:
            sql, params = app_insert(profile, table, values)
            try:
                probe = (table.name, conn.execute(sql, params).lastrowid)
            except sqlite3.DatabaseError as exc:  # NOT NULL, CHECK ...: the simulation reports it
                if kind_of(exc) in PROPAGATED:
                    raise
        violations, probe_fails, notes = foreign_key_violations(conn, info, probe)
    finally:
        rollback(conn)
    judged = probe is not None and not any(n.startswith(f"{profile.table}: ") for n in notes)
    return violations, (probe_fails if judged else None), notes


# --------------------------------------------------------------------------- the answer
def _other_failure_sentence(sim: InsertSimulation) -> str:
    """The insert fails for a reason other than a foreign key (and perhaps for its references too)."""
    meaning = OTHER_FAILURES.get(sim.error_code or "", "compare the app's insert with this table's columns, "
                                 "constraints and triggers")
    also = [r.explanation for r in sim.references if r.reason != Reason.OK]
    then = f"; once that is solved it would still fail because {'; and '.join(also)}" if also else ""
    return (f"The insert fails with '{sim.error}' ({sim.error_code or 'SQLite error'}), which is not a foreign "
            f"key: {meaning}{then}.")


def _failing_references_sentence(profile: Profile, sim: InsertSimulation) -> str:
    parts = [r.explanation for r in sim.references if r.reason != Reason.OK]
    fixes = []
    for r in sim.references:
        if r.reason == Reason.MISSING_ROW:
            fixes.append(f"restore the {r.parent_table} row")
        elif r.reason in (Reason.NEAR_MISS, Reason.TYPE_MISMATCH):
            fixes.append(f"correct the {r.parent_table} key")
    remedy = f"apply {profile.fix} ({profile.fix_command})"
    if fixes:
        remedy += f" or {' and '.join(dict.fromkeys(fixes))}"
    return f"The insert fails because {'; and '.join(parts)}; {remedy}."


def _succeeds_sentence(profile: Profile, name: str, state: State, findings: list[Finding]) -> str:
    if needs_fix(state):
        orphans = [f for f in findings if f.code == FindingCode.ORPHAN_ROWS]
        extra = f"; {sum(f.count or 0 for f in orphans)} existing rows already violate them" if orphans else ""
        return (f"The app's insert succeeds on {name} today, but {profile.table} is {state} (foreign keys still "
                f"on its reference columns{extra}); apply {profile.fix} before another parent goes missing.")
    errors_ = [f for f in findings if f.severity == Severity.ERROR]
    if errors_:
        return f"The app's insert succeeds and {profile.fix} is applied, but: {errors_[0].message}"
    return f"The app's insert succeeds and {profile.table} is already fixed ({profile.fix} applied); nothing to do."


def answer(profile: Profile, database: str, state: State, sim: InsertSimulation, findings: list[Finding]) -> str:
    """The profile's one-sentence answer for a file that has its table."""
    name = Path(database).name
    if not sim.attempted:
        then = f"so apply {profile.fix} before the first {profile.row_noun}." if needs_fix(state) \
            else "so nothing to do."
        return f"{profile.nothing_to_insert_answer.format(name=name)}; the table is {state}, " + then
    if sim.fails_otherwise:
        return _other_failure_sentence(sim)
    if sim.failing:
        return _failing_references_sentence(profile, sim)
    if not sim.ok:
        return (f"The insert fails with '{sim.error}', which is not one of its {_count(len(sim.references))} "
                "references; compare the app's insert with this table's columns and constraints.")
    return _succeeds_sentence(profile, name, state, findings)
