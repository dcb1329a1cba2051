"""Apply a repair plan to a copy of a customer's file, prove it, and only then write it to --out.

prepare --out, copy (the kernel's copy, started before the planning code is loaded), plan on
the copy, execute, prove, move into place in one atomic rename: a failure or a SIGKILL at any
moment leaves --out absent or complete, and the original is only ever read.  It is proven as it
was copied at the end, in one read that compares it with the copy byte for byte (the pages an edit
wrote against what the copy held there before it) and takes its SHA-256: a copy into which a log
was replayed is not the original's bytes, so then the original is hashed as it is copied and again
at the end.

Two proofs, by procedure:
- SQLite's simpler procedure (`fastpath`): every page of the copy other than the schema's and
  the free-list bookkeeping is byte-identical to the copy taken before the edit (`pages`), the
  header differs only in the fields a schema change moves, the table's declaration differs only
  in what the plan removes, every index, trigger and view is as it was, and the integrity check
  passes.  Nothing reads a table the plan does not touch.
- The 12-step rebuild: the row-by-row comparison in SQL of `migration.prove`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import appmodel as app
from . import errors, fastpath, pages
from .guards import own_writes
from .migration import (Proof, check_copy_integrity, damage_first, execute_for, execution_failure, inject_disk_limit,
                        integrity_messages, integrity_pragma, prove, still_not_null, tune_work_copy)
from .output import Started, copying_beside_output, fsync_file, move_into_place, work_bytes
from .plan import Procedure
from .profile import parent_tables, simulate_insert
from .relax import RelaxPlan, RelaxRequest, needs_relaxing, plan_relax, relaxed_table
from .sqlite_codes import is_interrupt
from .safe_access import (Check, Fingerprint, WorkCopy, check_indexes, connect, copy_database, fingerprint,
                          sqlite_errors, stamps, verify_copied)
from .schema import MIGRATIONS_TABLE, DatabaseInfo, read_schema
from .sqlnames import quote


@dataclass(frozen=True)
class RelaxOutcome:
    """What applying a relax plan did (`fix` and `repair relax` render it)."""

    source: str
    output: str | None
    #: the file as it was (the copy's schema before the change)
    info: DatabaseInfo
    plan: RelaxPlan | None
    proof: Proof | None
    recorded_version_after: int | None = None
    seconds: float = 0.0
    #: the proof's page comparison (fast path): pages compared, pages the edit may rewrite
    pages_compared: int = 0
    pages_rewritable: int = 0

    @property
    def skipped(self) -> bool:
        return self.plan is None

    def to_dict(self) -> dict[str, Any]:
        """`repair relax --json`."""
        p, plan = self.proof, self.plan
        return {
            "output": self.output,
            "skipped": self.skipped,
            "plan": plan.plan.kind.value if plan else "relax",
            "table": plan.plan.table if plan else None,
            "procedure": plan.plan.procedure.value if plan else None,
            "why_rebuild": plan.why_rebuild if plan else None,
            "summary": plan.plan.summary if plan else None,
            "new_declaration": plan.plan.new_declaration if plan else None,
            "pages_compared": self.pages_compared,
            "pages_rewritable": self.pages_rewritable,
            "ok": p.ok if p else None,
            "seconds": round(self.seconds, 3),
            "proof": dataclasses.asdict(p) if p else None,
        }


def relax_lines(proof: Proof, request: RelaxRequest) -> list[tuple[str, bool]]:
    """A relax proof as (check, passed) pairs, as `repair relax` prints it."""
    lines = proof.lines()
    removed = "FOREIGN KEY and NOT NULL constraints" if request.not_null else "FOREIGN KEY clauses"
    return [lines[0], lines[1],
            ("every other column and foreign key unchanged", proof.other_columns_unchanged),
            (f"the {removed} on {', '.join(request.columns)} removed",
             proof.foreign_keys_removed and proof.columns_nullable),
            ("every other table as it was", proof.other_tables_unchanged), lines[5], lines[7]]


def plan_on_copy(src: str | Path, request: RelaxRequest) -> tuple[RelaxPlan | None, DatabaseInfo]:
    """The plan for `src` (None when the columns are already relaxed), made on a safe copy."""
    from .safe_access import safe_connection

    with safe_connection(src) as (work, conn):
        info = read_schema(conn, database=str(src), wal_frames=work.wal_frames, journal_mode=work.journal_mode)
        table = relaxed_table(info, request)
        return (plan_relax(conn, info, request) if needs_relaxing(table, request) else None), info


def apply_relax(src: str | Path, dest: str | Path, request: RelaxRequest, *, force: bool = False,
                full_check: bool = False, app_insert: bool = False, started: Started | None = None) -> RelaxOutcome:
    """Relax a copy of `src`, prove it, and write it to `dest` (`app_insert`: also run the video
    app's insert before and after, as migration 030's proof does; `started`: --out prepared and
    the copy begun by the caller, `output.copying_beside_output`)."""
    began = time.perf_counter()
    src, dest = Path(src), Path(dest)
    with contextlib.nullcontext(started) if started else copying_beside_output(src, dest, force, "fix") as work:
        outcome = _Run(src, dest, work, request, full_check, app_insert).run()
    return dataclasses.replace(outcome, seconds=time.perf_counter() - began)


@dataclass(frozen=True)
class _Context:
    """What the run learned from the copy before changing it."""

    work: WorkCopy
    info: DatabaseInfo
    plan: RelaxPlan
    values: dict[str, Any] | None
    insert_before_ok: bool
    #: the tables the app's insert looks its keys up in (their indexes are checked)
    parents: tuple[str, ...] = ()


class _Run:
    """One application of a relax plan, in its own work folder beside --out."""

    def __init__(self, src: Path, dest: Path, started: Started, request: RelaxRequest, full_check: bool,
                 app_insert: bool):
        self.src, self.dest, self.started, self.request = src, dest, started, request
        self.workdir, self.copy_path = started.workdir, started.path
        self.full_check, self.app_insert = full_check, app_insert

    def run(self) -> RelaxOutcome:
        with ThreadPoolExecutor(max_workers=3) as background, sqlite_errors(self.src, self.workdir):
            try:
                work = self.started.copy.result()
            except OSError as exc:
                raise self._no_room(exc) from None
            # Started when a path needs them: the fast path checks the whole file once, after its
            # edit (as SQLite's procedure does), and hashes the original in the pass that compares
            # the pages; the rebuild and an error while planning check the input first.
            input_check = _Later(background, check_copy_integrity, self.copy_path, self.src, self.full_check)
            closing_hash = _Later(background, self._closing, work)
            # the fast path's "before" when the copy is not the original's bytes (a -wal or journal
            # was replayed into it): read while the plan is made (nothing writes the copy until the
            # edit; a page the plan's rolled-back insert spilled would fail the proof, not pass it)
            before_pages = None if work.verbatim else background.submit(pages.page_digests, self.copy_path)
            conn = connect(self.copy_path)
            try:
                with damage_first(input_check):
                    context = self._plan(conn, work)
                if context is None:
                    input_check.result()
                    closing_hash.result()
                    info = read_schema(conn, database=str(self.src), wal_frames=work.wal_frames,
                                       journal_mode=work.journal_mode)
                    return RelaxOutcome(str(self.src), None, info, None, None, info.recorded_version)
                parent_indexes = _Later(background, _check_parent_indexes, self.copy_path, self.src, context.parents)
                if context.plan.plan.procedure is Procedure.WRITABLE_SCHEMA:
                    fast = self._fast(conn, context, input_check, background, before_pages, parent_indexes,
                                      closing_hash)
                    if fast is not None:
                        outcome, result_path = fast
                        parent_indexes.result()
                        return self._keep(outcome, result_path)
                    # this SQLite refuses writable_schema edits: the rebuild needs none
                    context = dataclasses.replace(context, plan=plan_relax(
                        conn, context.info, dataclasses.replace(self.request, rebuild=True)))
            finally:
                conn.close()
            input_check.start()
            closing_hash.start()
            parent_indexes.start()
            outcome, result_path = self._rebuild(context, input_check, background)
            parent_indexes.result()
            closing_hash.result()
            return self._keep(outcome, result_path)

    def _closing(self, work: WorkCopy) -> Fingerprint:
        """Prove the original as it was copied, while the work copy is as copied (the rebuild edits
        another): when its hash was left to the end, by comparing it with the copy (one read of
        each, the original hashed in it; any difference, the header's included, is a change)."""
        if not work.main_hash_deferred:
            return verify_copied(work, fingerprint(self.src))
        compared = pages.compare_with_original(self.src, self.copy_path, frozenset(), frozenset())
        return verify_copied(work, fingerprint(self.src, main_sha256=compared.original_sha256),
                             same_as_copied=not compared.problems)

    def _no_room(self, exc: OSError) -> errors.ToolkitError:
        return errors.from_os_error(exc, self.dest.parent, need=work_bytes(self.src)) or errors.RefusedError(
            f"Could not write the copy beside {self.dest} ({exc.strerror}); free some space or choose another "
            "folder.", self.src)

    def _plan(self, conn: sqlite3.Connection, work: WorkCopy) -> _Context | None:
        # rows are counted only where a proof compares them (the rebuild's, every table; the fast
        # path's, the edited table): counting every table reads most of the file
        info = read_schema(conn, database=str(self.src), wal_frames=work.wal_frames, journal_mode=work.journal_mode,
                           count_rows=False)
        table = relaxed_table(info, self.request)
        if not needs_relaxing(table, self.request):
            return None
        values, insert_before_ok = None, True
        if self.app_insert:
            values = app.default_values(conn, info)
            before = simulate_insert(app.VIDEO_APP, conn, info, values) if values else None
            insert_before_ok = before.ok if before else True
        # only the app's insert reads through the parents' indexes
        parents = tuple(parent_tables(table)) if values is not None else ()
        return _Context(work, info, plan_relax(conn, info, self.request), values, insert_before_ok, parents)

    # ----------------------------------------------------------------- the fast path
    def _fast(self, conn: sqlite3.Connection, context: _Context, input_check: _Later,
              background: ThreadPoolExecutor, before_pages: Future[pages.PageDigests] | None,
              parent_indexes: _Later, closing_hash: _Later) -> tuple[RelaxOutcome, Path] | None:
        plan, table = context.plan, context.plan.plan.table
        roots = _written_roots(conn) if plan.versioning else []
        schema_before = _schema_rows(conn)
        columns_before = _columns(conn, table)
        (rows_before,) = conn.execute(f"SELECT count(*) FROM main.{quote(table)}").fetchone()
        before_layout = pages.read_layout(self.copy_path, roots)
        # what the copy (the original's bytes) holds where the edit may write: the original must still hold it
        kept = pages.keep(self.copy_path, before_layout.may_change) if context.work.main_hash_deferred else None
        # the copy's pages to the disk from now (the edit's few more go with --out's rename)
        flushed = background.submit(fsync_file, self.copy_path)
        for pragma in ("synchronous = OFF", "secure_delete = OFF"):
            conn.execute(f"PRAGMA {pragma}").fetchall()
        inject_disk_limit(conn)
        try:
            with damage_first(input_check):
                _edit(conn, plan)
        except sqlite3.Error as exc:
            if fastpath.is_refused_edit(exc):
                return None
            raise execution_failure(exc, self.src, self.dest) from None
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        # the documented procedure ends with the whole file's integrity check: the edited copy's,
        # beside the page comparison (the input's own check would read every page once more)
        integrity = background.submit(integrity_messages, self.copy_path, self.full_check)
        parent_indexes.start()
        after_layout = pages.read_layout(self.copy_path, roots)
        rewritable = before_layout.rewritable | after_layout.rewritable
        allowed_fields = frozenset(pages.SCHEMA_EDIT_FIELDS
                                   | ({pages.HeaderField.USER_VERSION} if plan.versioning else set()))
        if before_pages is None:
            compared = pages.compare_with_original(self.src, self.copy_path, rewritable, allowed_fields, kept)
            page_problems, page_count = compared.problems, compared.pages_compared
            # a page that differs where the edit may not write: the original's doing if it was written since
            # the copy (its size, times or inode moved), else the edit's, and the proof fails
            verify_copied(context.work, fingerprint(self.src, main_sha256=compared.original_sha256),
                          same_as_copied=not compared.original_changed
                          and not (page_problems and stamps(self.src) != context.work.stamps))
        else:
            closing_hash.start()  # the original's closing hash beside the copy's digests
            after_digests = pages.page_digests(self.copy_path)
            page_problems = pages.unexpected_changes(before_pages.result(), after_digests, rewritable,
                                                     allowed_fields)
            page_count = after_digests.count
            closing_hash.result()
        after_info = read_schema(conn, database=str(self.dest), count_rows=False)
        # a damaged input explains a failing check; else the proof fails below
        try:
            if integrity.result() != ["ok"]:
                self._input_damage()
        except sqlite3.DatabaseError as exc:
            if is_interrupt(exc):
                raise
            self._input_damage()
            raise
        proof = _prove_edit(conn, context, _Before(schema_before, columns_before, rows_before), after_info,
                            page_problems, integrity, self.full_check, self.request)
        flushed.result()
        outcome = RelaxOutcome(str(self.src), str(self.dest), context.info, plan, proof,
                               after_info.recorded_version, pages_compared=page_count,
                               pages_rewritable=len(rewritable))
        return outcome, self.copy_path

    def _input_damage(self) -> None:
        """Raise CorruptDatabaseError when the input itself fails the check (on a fresh copy: the
        work copy has been edited)."""
        copy_database(self.src, self.workdir / "input.db", check=Check.chosen(self.full_check))

    # ----------------------------------------------------------------- the 12-step rebuild
    def _rebuild(self, context: _Context, input_check: _Later,
                 background: ThreadPoolExecutor) -> tuple[RelaxOutcome, Path]:
        before_path, after_path = self.copy_path, self.workdir / "after.db"
        try:
            shutil.copyfile(before_path, after_path)
        except OSError as exc:
            raise self._no_room(exc) from None
        rebuild = context.plan.rebuild
        assert rebuild is not None  # a plan not taking the fast path carries the rebuild's
        conn = connect(after_path)
        try:
            context = dataclasses.replace(context, info=read_schema(
                conn, database=str(self.src), wal_frames=context.work.wal_frames,
                journal_mode=context.work.journal_mode))
            tune_work_copy(conn)
            inject_disk_limit(conn)
            with damage_first(input_check):
                execute_for(conn, rebuild, self.src, self.dest)
            input_check.result()
            # the output keeps the journal mode the customer's file has
            mode = "WAL" if context.work.journal_mode == "wal" else "DELETE"
            conn.execute(f"PRAGMA journal_mode = {mode}").fetchall()
            flushed = background.submit(fsync_file, after_path)
            integrity = background.submit(integrity_messages, after_path, self.full_check)
            conn.execute("ATTACH DATABASE ? AS before", (str(before_path),))
            proof = prove(conn, context.info, values=context.values, full_check=self.full_check,
                          integrity=integrity, insert_before_ok=context.insert_before_ok,
                          table=context.plan.plan.table, relaxed=self.request.columns,
                          not_null=self.request.not_null)
            conn.execute("DETACH DATABASE before")
            after_version = read_schema(conn, database=str(self.dest), count_rows=False).recorded_version
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
        flushed.result()
        return RelaxOutcome(str(self.src), str(self.dest), context.info, context.plan, proof, after_version), after_path

    # ----------------------------------------------------------------- keep
    def _keep(self, outcome: RelaxOutcome, result_path: Path) -> RelaxOutcome:
        """Only once the original is proven as it was copied (else OriginalChangedError was raised)."""
        assert outcome.proof is not None
        proof = dataclasses.replace(outcome.proof, original_unchanged=True)
        if not proof.ok:
            raise errors.ProofFailedError(
                f"The repaired copy of {self.src} failed its proof ({'; '.join(proof.problems)}), so it was not "
                "kept; send the file to engineering.", self.src)
        move_into_place(result_path, self.dest)
        return dataclasses.replace(outcome, proof=proof)


class _Later:
    """A job for the background pool, started when a path first needs it (`start`, `result`)."""

    def __init__(self, pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any):
        self.pool, self.fn, self.args = pool, fn, args
        self.future: Future[Any] | None = None

    def start(self) -> _Later:
        if self.future is None:
            self.future = self.pool.submit(self.fn, *self.args)
        return self

    def result(self) -> Any:
        return self.start().future.result()  # type: ignore[union-attr]


def _check_parent_indexes(path: Path, src: Path, tables: Iterable[str]) -> None:
    """The app's insert looks its keys up through the parents' indexes, which quick_check does
    not compare with their tables: each counted against its table, on a connection of its own."""
    tables = list(tables)
    if not tables:
        return
    conn = connect(path)
    try:
        check_indexes(conn, src, tables)
    finally:
        conn.close()


def _edit(conn: sqlite3.Connection, plan: RelaxPlan) -> None:
    """The documented procedure in one transaction; the file's triggers fire none of their writes
    meanwhile (the authorizer refuses the statement instead)."""
    assert plan.plan.new_declaration is not None
    with own_writes(conn):
        conn.execute("BEGIN")
        fastpath.edit_declaration(conn, plan.plan.table, plan.plan.new_declaration)
        for statement in plan.versioning:
            conn.execute(statement)
        conn.execute("COMMIT")


def _written_roots(conn: sqlite3.Connection) -> list[int]:
    """Root pages of the migrations table and its indexes: the only b-trees recording a version writes."""
    rows = conn.execute("SELECT rootpage FROM sqlite_schema WHERE lower(tbl_name) = ? AND rootpage > 0",
                        (MIGRATIONS_TABLE,)).fetchall()
    return [int(r[0]) for r in rows]


def _schema_rows(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, int, str | None]]:
    rows = conn.execute("SELECT type, name, tbl_name, rootpage, sql FROM sqlite_schema").fetchall()
    return {(t, n): (tbl, root, sql) for t, n, tbl, root, sql in rows}


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = conn.execute(
        "SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid",
        (table,)).fetchall()
    return rows


def _foreign_keys(info: DatabaseInfo, table: str, relaxed: set[str]) -> list[tuple[Any, ...]]:
    t = info.table(table)
    return [(fk.columns, fk.parent_table, fk.parent_columns, fk.on_delete, fk.on_update)
            for fk in (t.foreign_keys if t else []) if not {c.lower() for c in fk.columns} & relaxed]


@dataclass(frozen=True)
class _Before:
    """What the fast path's proof keeps of the copy before the edit (besides its page digests)."""

    schema: dict[tuple[str, str], Any]
    columns: list[tuple[Any, ...]]
    rows: int


def _prove_edit(conn: sqlite3.Connection, context: _Context, before: _Before, after_info: DatabaseInfo,
                page_problems: list[str], integrity: Future[list[str]], full_check: bool,
                request: RelaxRequest) -> Proof:
    """The fast path's proof: the pages say every stored byte is as it was; the schema says only
    the declaration changed, and only as the plan says."""
    name = context.plan.plan.table
    schema_before, columns_before = before.schema, before.columns
    schema_after = _schema_rows(conn)
    relaxed = {c.lower() for c in request.columns}
    table_key = ("table", name)
    before_entry, after_entry = schema_before.get(table_key), schema_after.get(table_key)
    others_before = {k: v for k, v in schema_before.items() if k != table_key}
    others_after = {k: v for k, v in schema_after.items() if k != table_key}

    def of_kind(entries: dict[tuple[str, str], Any], kind: str, table: str | None = None) -> set[Any]:
        return {(k[1], v) for k, v in entries.items() if k[0] == kind and (table is None or v[0] == table)}

    indexes_ok = of_kind(others_before, "index", name) == of_kind(others_after, "index", name)
    triggers_ok = of_kind(others_before, "trigger") == of_kind(others_after, "trigger")
    views_ok = of_kind(others_before, "view") == of_kind(others_after, "view")
    # tables other than the one edited: same declarations and roots (the migrations table's rows aside)
    tables_ok = of_kind(others_before, "table") == of_kind(others_after, "table")
    declared_ok = (after_entry is not None and before_entry is not None and after_entry[:2] == before_entry[:2]
                   and after_entry[2] == context.plan.plan.new_declaration)
    after_table = after_info.table(name)
    fks_removed = after_table is not None and not (
        {c.lower() for fk in after_table.foreign_keys for c in fk.columns} & relaxed)
    nullable = after_table is not None and (not still_not_null(after_table, relaxed) if request.not_null else True)

    def strip(cols: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [c[:3] + ((0,) if request.not_null and c[1].lower() in relaxed else (c[3],)) + c[4:] for c in cols]

    others_same = (strip(columns_before) == strip(_columns(conn, name))
                   and _foreign_keys(context.info, name, relaxed) == _foreign_keys(after_info, name, relaxed))
    before_table = context.info.table(name)
    rows_before = before.rows
    (rows_after,) = conn.execute(f"SELECT count(*) FROM main.{quote(name)}").fetchone()
    messages = integrity.result()
    pragma = integrity_pragma(full_check)
    insert_after = (simulate_insert(app.VIDEO_APP, conn, after_info, context.values)
                    if context.values else None)
    identical = not page_problems
    checks = {
        f"{rows_before} rows before but {rows_after} after": rows_before == rows_after,
        "an index of the table changed or went missing": indexes_ok,
        "a trigger changed or went missing": triggers_ok,
        "a view changed or went missing": views_ok,
        "another table's declaration changed": tables_ok,
        "the table's stored declaration is not the plan's": declared_ok,
        "a foreign key on a relaxed column is still declared": fks_removed,
        "a relaxed column is still NOT NULL": nullable,
        "another column's declaration changed": others_same,
        f"PRAGMA {pragma} reports: {'; '.join(messages)}": messages == ["ok"],
        f"the app's insert still fails on a foreign key after the fix: {insert_after.error if insert_after else ''}":
            insert_after is None or not insert_after.fails_on_foreign_key,
    }
    problems = page_problems + [text for text, ok in checks.items() if not ok]
    return Proof(
        rows_before=rows_before, rows_after=rows_after, data_identical=identical,
        rowids_kept=identical and before_table is not None and not before_table.without_rowid,
        indexes_preserved=indexes_ok, triggers_preserved=triggers_ok, views_preserved=views_ok,
        other_columns_unchanged=others_same, foreign_keys_removed=fks_removed, columns_nullable=nullable,
        other_tables_unchanged=identical and tables_ok, integrity_ok=messages == ["ok"], integrity_check=pragma,
        insert_before_ok=context.insert_before_ok, insert_after_ok=insert_after.ok if insert_after else True,
        problems=tuple(problems), insert_after_error=insert_after.error if insert_after else None,
        insert_after_fails_on_foreign_key=insert_after is not None and insert_after.fails_on_foreign_key,
        procedure=Procedure.WRITABLE_SCHEMA.value)
