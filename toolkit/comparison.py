"""Before and after: what migration 030 changed in the schema, the data and the app's insert;
and what each of SQLite's two procedures for the change rewrites in the file (`page_changes`) and
how the 12-step script differs from lang_altertable.html's steps (`rebuild_steps`)."""
from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .appmodel import VIDEO_APP, default_values
from .pages import page_digests, read_layout
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
        """The schema changes; a removed foreign key says in `after` what no longer happens (its
        ON DELETE action too), since an empty cell would hide what the fix gives up."""
        import pandas as pd

        rows = [asdict(c) for c in self.schema_changes]
        for row, change in zip(rows, self.schema_changes, strict=True):
            if change.kind is Kind.FOREIGN_KEY and change.change is Change.REMOVED:
                row["after"] = _removed_key_text(self._foreign_key(change))
        return pd.DataFrame(rows, columns=["kind", "table", "name", "change", "before", "after"])

    def _foreign_key(self, change: SchemaChange) -> ForeignKeyInfo | None:
        table = self.schema_before.table(change.table) if self.schema_before else None
        return next((fk for fk in (table.foreign_keys if table else []) if ", ".join(fk.columns) == change.name),
                    None)

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


def _removed_key_text(fk: ForeignKeyInfo | None) -> str:
    """What a removed foreign key no longer does, its actions named."""
    text = "no foreign key: SQLite no longer checks the value"
    if fk is None:
        return text
    actions = [f"ON {event} {action}" for event, action in (("DELETE", fk.on_delete), ("UPDATE", fk.on_update))
               if action.upper() != "NO ACTION"]
    if actions:
        text += f", and {' / '.join(actions)} no longer runs (a parent's change leaves this row as it is)"
    return text


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


# --------------------------------------------------------------------------- the two procedures
@dataclass(frozen=True)
class PageChange:
    """One edited copy read against the file it was copied from, page by page (its bytes, not SQLite)."""

    file: str
    pages: int
    #: pages whose bytes differ from the original's, or that the original lacks (page 1 after its header)
    changed: int
    #: of those, pages of the schema's b-tree (sqlite_schema, rooted at page 1)
    schema: int
    #: of those, pages of the tables named to `page_changes` (and their indexes)
    written: int

    @property
    def other(self) -> int:
        return self.changed - self.schema - self.written


def _roots(path: Path, tables: Sequence[str]) -> list[int]:
    """Root pages of `tables` and their indexes in the file at `path` (a copy, opened read-only)."""
    if not tables:
        return []
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        marks = ", ".join("?" for _ in tables)
        return [r[0] for r in conn.execute(
            f"SELECT rootpage FROM sqlite_schema WHERE tbl_name IN ({marks}) AND rootpage > 0", tuple(tables))]
    finally:
        conn.close()


def page_changes(original: str | Path, edited: str | Path, tables: Sequence[str] = ()) -> PageChange:
    """Which pages of `edited` differ from `original`'s: how many hold the schema, how many the
    `tables` (rows a script writes on purpose, such as a recorded version), how many anything else."""
    before, after = page_digests(original), page_digests(edited)
    changed = {n for n in range(1, after.count + 1) if before.page(n) != after.page(n)}
    layout = read_layout(edited, _roots(Path(edited), tables))
    schema = changed & layout.schema_pages
    return PageChange(Path(edited).name, after.count, len(changed), len(schema),
                      len((changed - schema) & layout.written_pages))


def page_frame(changes: Sequence[PageChange], tables: str = "the version's table") -> pd.DataFrame:
    import pandas as pd

    columns = ["file", "pages", "pages changed", "the schema's", tables, "other pages"]
    return pd.DataFrame([dict(zip(columns, (c.file, c.pages, c.changed, c.schema, c.written, c.other), strict=True))
                         for c in changes], columns=columns)


@dataclass(frozen=True)
class StepRow:
    """One step of lang_altertable.html's 12-step procedure beside what the script does for it."""

    step: str
    doc: str
    statements: tuple[str, ...]
    why: str


#: lang_altertable.html section 7, step by step (abridged), and why the script does what it does there.
TWELVE_STEPS: tuple[tuple[str, str, str], ...] = (
    ("1", "If foreign key constraints are enabled, disable them using PRAGMA foreign_keys=OFF.",
     "As the doc says, before BEGIN: the pragma is a no-op inside a transaction. The script cannot know "
     "whether they were on, so it always turns them off."),
    ("2", "Start a transaction.", "As the doc says: every change below is one transaction, all or nothing."),
    ("3", "Remember the format of all indexes, triggers, and views associated with table X "
     "(SELECT type, sql FROM sqlite_schema WHERE tbl_name='X').",
     "No statement: the toolkit read them from the file when it made the script, and wrote each one "
     "into the script verbatim (steps 6 and 8)."),
    ("4", 'Use CREATE TABLE to construct a new table "new_X" that is in the desired revised format of table X.',
     "The file's own declaration with only the three FOREIGN KEY clauses and their columns' NOT NULL removed "
     "(nothing retyped from a model), under a name no table or view of the file has."),
    ("5", "Transfer content from X into new_X using a statement like: INSERT INTO new_X SELECT ... FROM X.",
     "SELECT * lets SQLite move each stored record whole, rowid kept (its transfer optimization); the next "
     "two statements copy the rows again with their rowids named only if SQLite numbered them anew."),
    ("6", "Drop the old table X: DROP TABLE X.",
     "Preceded by a DROP of each view and trigger that names X, if any: DROP TABLE drops X's own triggers "
     "but not a view, and step 8 recreates both verbatim, which CREATE refuses while one of that name exists."),
    ("7", "Change the name of new_X to X using: ALTER TABLE new_X RENAME TO X.",
     "Between legacy_alter_table ON and OFF: otherwise the rename re-reads every view and trigger of the "
     "schema and fails on one that names X, which step 6 dropped (error in view ...: no such table)."),
    ("8", "Use CREATE INDEX, CREATE TRIGGER, and CREATE VIEW to reconstruct indexes, triggers, and views "
     "associated with table X.",
     "The indexes verbatim, then the AUTOINCREMENT counter (sqlite_sequence) if X has one, then migration "
     "030's version recorded, then any views and triggers verbatim: the version row is written before a "
     "trigger exists that could fire on it."),
    ("9", "If any views refer to table X in a way that is affected by the schema change, drop those views and "
     "recreate them with whatever changes are necessary.",
     "Nothing more: no column is renamed or removed, so each view is recreated as it was (step 8)."),
    ("10", "If foreign key constraints were originally enabled then run PRAGMA foreign_key_check to verify "
     "that the schema change did not break any foreign key constraints.",
     "Always, and for X only: in the shell it lists any row of X the change broke; the rest of the file is "
     "not this repair's to check."),
    ("11", "Commit the transaction started in step 2.", "As the doc says."),
    ("12", "If foreign keys constraints were originally enabled, reenable them now.",
     "Always on: the script cannot know how the shell was set, and the app runs with them on."),
)

#: Which step a statement of the 12-step script belongs to, by its first words.
_STEP_OF: tuple[tuple[str, str], ...] = (
    (r"PRAGMA foreign_keys = OFF", "1"), (r"BEGIN", "2"), (r"CREATE TABLE", "4"),
    (r"(INSERT INTO|DELETE FROM) \S+_030_new", "5"), (r"DROP (VIEW|TRIGGER)", "6"), (r"DROP TABLE", "6"),
    (r"PRAGMA legacy_alter_table|ALTER TABLE", "7"),
    (r"CREATE (UNIQUE )?INDEX|UPDATE sqlite_sequence|INSERT|PRAGMA user_version|DROP TRIGGER|"
     r"CREATE (VIEW|TRIGGER|TEMP)", "8"),
    (r"PRAGMA foreign_key_check", "10"), (r"COMMIT", "11"), (r"PRAGMA foreign_keys = ON", "12"))


def _code(statement: str) -> str:
    """The statement without its leading comment lines."""
    return "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--")).strip()


def step_of(statement: str) -> str:
    """The documented step a statement of the 12-step script does (by its first words)."""
    code = _code(statement)
    step = next((step for pattern, step in _STEP_OF if re.match(pattern, code, re.IGNORECASE)), None)
    if step is None:
        raise ValueError(f"no step of the 12-step procedure starts like {code[:60]!r}")
    return step


def rebuild_steps(statements: Sequence[str]) -> list[StepRow]:
    """The 12-step script's statements (`migration.Plan.statements`) under the documented step each one does."""
    steps: dict[str, list[str]] = {}
    dropped = False
    for statement in statements:
        step = step_of(statement)
        # after DROP TABLE, a DROP TRIGGER sets a migrations-table trigger aside while the version is recorded
        step = "8" if step == "6" and dropped else step
        dropped = dropped or _code(statement).upper().startswith("DROP TABLE")
        steps.setdefault(step, []).append(_code(statement))
    return [StepRow(step, doc, tuple(steps.get(step, ())), why) for step, doc, why in TWELVE_STEPS]


def steps_frame(rows: Sequence[StepRow]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{"step": r.step, "lang_altertable.html says": r.doc,
                          "the script does": "".join(f"{x};\n" for x in r.statements) or "(no statement)",
                          "why": r.why}
                         for r in rows], columns=["step", "lang_altertable.html says", "the script does", "why"])
