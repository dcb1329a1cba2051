"""The command line: a thin layer over the package's functions.

Exit codes: 0 success / healthy, 1 a problem was found, 2 bad input or refused,
3 a proof failed, 4 a program the command needs is missing (Graphviz's dot), 70 an internal
error (a bug: please report it), 75 the machine failed (a full disk, a folder that cannot be
written), 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import errors

if TYPE_CHECKING:  # the command line's start-up imports only what the command runs
    from types import FrameType

    from .diagnosis import Diagnosis
    from .diagram import Diagram, DiagramPair
    from .migration import MigrationResult
    from .report import Report
    from .schema import DatabaseInfo, ForeignKeyInfo
    from .triage import TriageRow


def _print_json(data: object) -> None:
    import json  # here: only --json needs it, and every import is start-up

    print(json.dumps(data, indent=2, default=str))


def _table(rows: list[dict[str, Any]], headers: str = "keys") -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="simple", missingval="")


@contextlib.contextmanager
def _writing_into(folder: Path) -> Iterator[None]:
    """A command that writes several files into `folder` leaves none of them when it fails part way
    (what the folder held before stays), and a full or failing disk there is exit 75."""
    before = set(folder.iterdir()) if folder.is_dir() else None
    created = folder  # the outermost folder the command will create (mkdir parents=True)
    while not created.parent.exists() and created.parent != created:
        created = created.parent
    try:
        yield
    except BaseException as exc:
        if before is None:
            shutil.rmtree(created, ignore_errors=True)
        else:
            for entry in set(folder.iterdir()) - before:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        if isinstance(exc, errors.EnvironmentFailureError) and not Path(exc.path or folder).is_dir():
            raise exc.relocated(folder) from None  # name a folder that is still there
        failure = errors.as_environment_failure(exc, folder)
        if failure is not None:
            raise failure from None
        raise


# --------------------------------------------------------------------------- commands
def cmd_samples(args: argparse.Namespace) -> int:
    with _writing_into(Path(args.out)):
        return _samples(args)


def _samples(args: argparse.Namespace) -> int:
    if args.large is not None:
        import time

        from .largefile import large_database

        Path(args.out).mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        path = large_database(Path(args.out) / f"app_{args.large}.db", args.large)
        print(f"Wrote {path} ({args.large:,} upscale rows, {path.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s.")
        return errors.EXIT_OK
    from .samples import build_samples

    written = build_samples(args.out)
    print(f"Wrote {len(written)} files to {args.out} (manifest: {Path(args.out) / 'README.md'}).")
    return errors.EXIT_OK


def _foreign_key_row(fk: ForeignKeyInfo, siblings: list[ForeignKeyInfo]) -> dict[str, Any]:
    """One key of `inspect`'s table; ON UPDATE and DEFERRABLE get a column when a key of the table
    differs from SQLite's default (NO ACTION, checked at each statement)."""
    from .ddl import Deferral

    row: dict[str, Any] = {"foreign key": ", ".join(fk.columns),
                           "references": f"{fk.parent_table}({', '.join(fk.parent_columns)})",
                           "on delete": fk.on_delete}
    if any(k.on_update.upper() != "NO ACTION" for k in siblings):
        row["on update"] = fk.on_update
    if any(k.deferrable in (Deferral.INITIALLY_DEFERRED, Deferral.UNKNOWN) for k in siblings):
        row["checked"] = {Deferral.INITIALLY_DEFERRED: "at COMMIT (DEFERRABLE INITIALLY DEFERRED)",
                          Deferral.UNKNOWN: "unknown (declaration not read)"}.get(fk.deferrable, "at each statement")
    return {**row, "parent exists": fk.parent_table_exists, "parent key unique": fk.parent_key_unique}


def render_inspection(info: DatabaseInfo) -> str:
    out = [
        f"Database:          {info.database}",
        f"SQLite:            {info.sqlite_version}   journal mode: {info.journal_mode}   page size: {info.page_size}",
        f"Recorded version:  {info.recorded_version if info.recorded_version is not None else 'none'}"
        + (f" (from {info.version_source})" if info.version_source else ""),
        f"Un-checkpointed -wal frames: {info.wal_frames}",
        "",
        _table([{"table": t.name, "rows": t.row_count, "columns": len(t.columns),
                 "foreign keys": len(t.foreign_keys), "indexes": len(t.indexes)} for t in info.tables]),
    ]
    for t in info.tables:
        out += ["", f"== {t.name} ({t.row_count} rows)",
                _table([{"column": c.name, "type": c.type, "not null": c.notnull, "default": c.default,
                         "pk": c.pk or ""} for c in t.columns])]
        if t.foreign_keys:
            out += ["", _table([_foreign_key_row(fk, t.foreign_keys) for fk in t.foreign_keys])]
        if t.indexes:
            out += ["", _table([{"index": i.name, "columns": ", ".join(i.columns), "unique": i.unique,
                                 "partial": i.partial} for i in t.indexes])]
    if info.triggers:
        out += ["", _table([{"trigger": t.name, "on table": t.table} for t in info.triggers])]
    if info.views:
        out += ["", _table([{"view": v.name} for v in info.views])]
    return "\n".join(out)


def cmd_inspect(args: argparse.Namespace) -> int:
    from .schema import inspect

    info = inspect(args.db)
    if args.json:
        _print_json(info.to_dict())
    else:
        print(render_inspection(info))
    return errors.EXIT_OK


def render_fix(result: MigrationResult) -> str:
    if result.skipped:
        return f"Skipped: {result.reason}"
    p = result.proof
    assert p is not None  # a fix that was not skipped carries its proof
    lines = [f"Fixed copy written: {result.output} ({result.state_before} -> {result.state_after}, "
             f"recorded version {result.recorded_version_after}).", "Proof:"]
    lines += [f"  [{'ok' if ok else 'FAILED'}] {text}" for text, ok in p.lines()]
    return "\n".join(lines)


def cmd_fix(args: argparse.Namespace) -> int:
    if args.sql and not args.out:
        from .migration import plan_for

        plan, state, _ = plan_for(args.db, rebuild=args.rebuild)
        if plan is None:
            print(f"-- {args.db} is already {state}: migration 030 has nothing to do.")
        else:
            print(plan.script(), end="")
        return errors.EXIT_OK
    if not args.out:
        raise errors.RefusedError(
            "fix needs --out FIXED.db (the fix only ever writes a copy), or --sql to print the script.")
    from .output import copying_beside_output

    with copying_beside_output(Path(args.db), Path(args.out), args.force, "fix") as started:
        with _loading():
            from .migration import apply_030  # loaded here: Python imports it while the kernel copies the file

        result = apply_030(args.db, args.out, force=args.force, full_check=args.full_check, rebuild=args.rebuild,
                           started=started)
    if args.json:
        _print_json(result.to_dict())
    elif args.sql:
        print(result.sql, end="")
    else:
        print(render_fix(result))
    # proven, yet the app's insert still fails for a reason 030 does not touch: a problem remains
    still_fails = result.proof is not None and not result.proof.insert_after_ok
    return errors.EXIT_PROBLEM_FOUND if still_fails else errors.EXIT_OK


def cmd_repair(args: argparse.Namespace) -> int:
    """`repair PLAN DB ...`: each plan by name, applied only to a copy (or printed with --sql)."""
    handler = _REPAIRS.get(args.plan)
    if handler is None:
        raise errors.RefusedError(f"The {args.plan} plan is not part of this build of the toolkit; "
                                  f"the plans here are: {', '.join(sorted(_REPAIRS))}.")
    return handler(args)


def _repair_relax(args: argparse.Namespace) -> int:
    from .relax import RelaxRequest, parse_columns
    from .repair import apply_relax, plan_on_copy, relax_lines

    if not args.table or not args.columns:
        raise errors.RefusedError("repair relax needs --table TABLE and --columns COL[,COL...]: the columns whose "
                                  "FOREIGN KEY clauses (and, with --not-null, NOT NULL) are dropped.")
    request = RelaxRequest(args.table, parse_columns(args.columns), not_null=args.not_null, rebuild=args.rebuild)
    if args.sql and not args.out:
        plan, _ = plan_on_copy(args.db, request)
        print(plan.script() if plan else f"-- {args.db}: {args.table} has nothing to relax on {args.columns}.\n",
              end="")
        return errors.EXIT_OK
    if not args.out:
        raise errors.RefusedError("repair needs --out FIXED.db (a repair only ever writes a copy), or --sql to print "
                                  "the script.")
    outcome = apply_relax(args.db, args.out, request, force=args.force, full_check=args.full_check)
    if args.json:
        _print_json(outcome.to_dict())
    elif args.sql:
        print(outcome.plan.script() if outcome.plan else "", end="")
    elif outcome.proof is None or outcome.plan is None:
        print(f"Skipped: {args.table} has no FOREIGN KEY{' or NOT NULL' if args.not_null else ''} constraint on "
              f"{args.columns}; nothing to do, no copy was written.")
    else:
        print(f"Repaired copy written: {outcome.output} ({outcome.plan.plan.summary} "
              f"Procedure: {outcome.plan.plan.procedure.value}.)\nProof:")
        print("\n".join(f"  [{'ok' if ok else 'FAILED'}] {text}" for text, ok in relax_lines(outcome.proof, request)))
    return errors.EXIT_OK


_REPAIRS: dict[str, Callable[[argparse.Namespace], int]] = {
    "relax": _repair_relax,
    **dict.fromkeys(("repoint", "unique-parent", "orphans", "retype"), lambda args: _repair_rows(args)),
}


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    sql, source = _statement_arg(args) or (None, "--sql")
    out = write_report(args.db, args.out, fmt=args.format, sql=sql, sql_source=source, error_message=args.error,
                       full_check=args.full_check)
    print(f"Report written: {out}")
    return errors.EXIT_OK


def cmd_notebooks(args: argparse.Namespace) -> int:
    from .nbrun import build_all

    with _writing_into(Path(args.out)):
        written = build_all(args.out)
    for path in written:
        print(f"Executed: {path}")
    return errors.EXIT_OK


#: Characters of a finding's sentence per line in triage's table (it wraps, the path never does).
TRIAGE_MESSAGE_WIDTH = 60


def _triage_table(rows: list[TriageRow]) -> str:
    from tabulate import tabulate

    table = [{"file": r.file, "state": r.state, "needs 030": r.needs_030, "failing": r.failing, "reason": r.reason,
              "top finding": r.top_finding or r.reason, "top message": r.top_message} for r in rows]
    widths = [None] * 6 + [TRIAGE_MESSAGE_WIDTH]
    return tabulate(table, headers="keys", tablefmt="simple", missingval="", maxcolwidths=widths)


def cmd_triage(args: argparse.Namespace) -> int:
    from .triage import NOT_A_DATABASE, run_exit_code, triage, write_csv

    rows = triage(args.paths, jobs=args.jobs, progress=sys.stderr.isatty(), scheduler=args.scheduler,
                  full_check=args.full_check)
    if not rows:
        raise errors.RefusedError(
            f"No files found in {', '.join(args.paths)}; give database files or folders holding them.")
    for row in rows:
        if row.error:  # a file that is no database is passed over, not an error of the run
            print(f"{'note' if row.state == NOT_A_DATABASE else 'error'}: {row.error}", file=sys.stderr)
    if args.csv:
        try:
            write_csv(rows, args.csv)
        except OSError as exc:
            raise errors.from_os_error(exc, Path(args.csv).parent) or errors.RefusedError(
                f"Cannot write --csv {args.csv} ({exc.strerror}); choose a writable path.") from None
    if args.json:
        from dataclasses import asdict

        _print_json([asdict(r) for r in rows])
    else:
        print(_triage_table(rows))
        if args.csv:
            print(f"CSV: {args.csv}")
    return run_exit_code(rows)


def cmd_diagram(args: argparse.Namespace) -> int:
    import shutil

    from .diagnosis import diagnose
    from .diagram import before_after, reference_diagram, require_dot, write
    from .migration import apply_030
    from .safe_access import work_folder

    require_dot()  # say so before the work, not after it
    statement = _statement_arg(args)
    if statement is not None and args.before_after:
        raise errors.RefusedError("--before-after draws migration 030 on the file as it is; "
                                  "draw a statement's broken references without it.")
    sql, source = statement or (None, "--sql")
    before = diagnose(args.db, sql=sql, sql_source=source)
    simulation = before.statement_simulation if statement is not None else None
    options = {"table": args.table, "depth": args.depth, "max_tables": args.max_tables}
    drawing: Diagram | DiagramPair
    if args.before_after:
        tmp = work_folder("diagram")
        try:
            fixed = apply_030(args.db, tmp / "fixed.db")
            after = diagnose(fixed.output) if fixed.output else before
            drawing = before_after(before, after, **options)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        drawing = reference_diagram(before, statement=simulation, **options)
    out = write(drawing, args.out)
    print(f"Diagram written: {out}")
    return errors.EXIT_OK


def _statement_arg(args: argparse.Namespace) -> tuple[str, str] | None:
    """The statements given with --sql or --sql-file, and the name sentences call them by."""
    if args.sql is not None:
        return args.sql, "--sql"
    if args.sql_file is None:
        return None
    from .statements import MAX_SCRIPT_CHARS

    try:
        with open(args.sql_file, "rb") as f:
            data = f.read(4 * MAX_SCRIPT_CHARS + 1)  # a character is at most 4 bytes: no more is ever needed
        if len(data) > 4 * MAX_SCRIPT_CHARS:
            raise errors.BadStatementError(f"--sql-file {args.sql_file} holds more than the {MAX_SCRIPT_CHARS:,} "
                                           "characters the toolkit replays: give only the failing transaction.")
        return data.decode("utf-8"), f"--sql-file {args.sql_file}"
    except UnicodeDecodeError:
        raise errors.BadStatementError(f"--sql-file {args.sql_file} is not UTF-8 text; save the statements the app "
                                       "ran as UTF-8 and give that file.") from None
    except OSError as exc:
        raise errors.BadStatementError(f"--sql-file {args.sql_file} cannot be read ({exc.strerror or exc}); give "
                                       "the file holding the statements the app ran.") from None


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run

    rows = [int(r) for r in args.rows.split(",") if r.strip()]
    command = "make bench" if args.rows == "10000,100000,1000000" else f"python -m toolkit bench --rows {args.rows}"
    print(run(rows, Path(args.out), repeat=args.repeat, triage_files=args.triage_files, command=command))
    return errors.EXIT_OK


def cmd_app(args: argparse.Namespace) -> int:
    import subprocess

    from .serve import require_voila, voila_command

    require_voila()
    print(f"Triage app on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)")
    return subprocess.call(voila_command(args.port, token=args.token))


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on one file (the headline sample by default): diagnose, fix a copy, report."""
    from .samples import HEADLINE, samples_dir

    db = Path(args.db) if args.db else samples_dir() / HEADLINE
    out = Path(args.out)
    with _writing_into(out):
        return _demo(db, out)


def _demo(db: Path, out: Path) -> int:
    import json

    from .report import build_report, save_report

    out.mkdir(parents=True, exist_ok=True)
    report = build_report(db, fixed=out / f"{db.stem}.fixed.db", force=True)
    d, result = report.diagnosis, report.migration
    (out / "diagnosis.json").write_text(json.dumps(d.to_dict(), indent=2, default=str))
    print(render_diagnosis(d))
    if result is not None:
        print()
        print(render_fix(result))
    html = save_report(report, out / "report.html")
    picture = _demo_picture(report, out / "references.svg")
    fixed = (result.output if result and result.output
             else "(no fixed copy: " + (result.reason if result else d.answer) + ")")
    print()
    print(f"Answer: {d.answer}")
    print(f"Original unchanged (SHA-256 checked, sidecars included): {db}")
    print(f"Outputs: {out / 'diagnosis.json'}, {fixed}, {html}, {picture}")
    print(f"Report: {html}")
    return errors.EXIT_OK


def _demo_picture(report: Report, out: Path) -> str:
    """The references before and after (or as they are), or why there is no picture."""
    from .diagram import drawing_of, write

    drawing = drawing_of(report.diagnosis, report.comparison.schema_after if report.comparison else None)
    if drawing is None:
        return "(no diagram: the file has no foreign key to draw)"
    try:
        return str(write(drawing, out))
    except errors.MissingProgramError as exc:
        return f"(no diagram: {exc})"


def parse_insert(text: str | None) -> dict[str, Any] | None:
    """`source_generation_id=A,profile_id=B,project_id=C` (or a JSON object, for typed values)."""
    if not text:
        return None
    if text.lstrip().startswith("{"):
        import json

        try:
            values: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise errors.RefusedError(
                f"--insert is not valid JSON ({exc.msg}); give column=value pairs or a JSON object.") from exc
    else:
        values = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise errors.RefusedError(f"--insert part {part!r} is not column=value; "
                                          "write source_generation_id=A,profile_id=B,project_id=C.")
            values[key.strip()] = value
    from .appmodel import REFERENCE_COLUMNS

    unknown = set(values) - set(REFERENCE_COLUMNS)
    if unknown:
        raise errors.RefusedError(f"--insert names unknown column(s) {', '.join(sorted(unknown))}; "
                                  f"use {', '.join(REFERENCE_COLUMNS)}.")
    return values


def _statement_lines(d: Diagnosis) -> list[str]:
    stmt = d.statement_simulation
    if stmt is None:
        return []
    out = ["", f"The statements, replayed (foreign keys ON, rolled back): "
               f"{'succeed' if stmt.ok else 'fail: ' + str(stmt.error or 'at COMMIT')}"]
    if stmt.violations:
        out.append(_table([{"table": v.table, "rowid": v.rowid, "key": ", ".join(v.columns),
                            "values": ", ".join(f"{x!r} ({c})" for x, c in zip(v.values, v.storage_classes,
                                                                               strict=True)),
                            "parent": v.parent, "fails at": v.when,
                            "reason": v.reason} for v in stmt.violations]))
        out += [f"  - {v.table} row {v.rowid}: {v.explanation}" for v in stmt.violations]
        if stmt.violations_total > len(stmt.violations):
            out.append(f"  ... {stmt.violations_total - len(stmt.violations)} more row(s) not listed")
    if stmt.pre_existing:
        out.append(f"Rows that already violated a key before the statements (not their doing): "
                   f"{sum(p.count for p in stmt.pre_existing)}")
    return out


def _error_lines(d: Diagnosis) -> list[str]:
    e = d.error_answer
    if e is None:
        return []
    out = ["", f"The message ({e.message.kind}): declarations of this file that can raise it: "
               f"{len(e.declarations)}"]
    return out + [f"  - {x.text} ON DELETE {x.on_delete} ON UPDATE {x.on_update}" for x in e.declarations]


def render_diagnosis(d: Diagnosis) -> str:
    sim = d.insert_simulation
    out = [d.answer, "", f"Database:          {d.database}"]
    if d.profile is not None:
        out.append(f"Profile:           {d.profile}   state: {d.state}   "
                   f"needs migration 030: {'yes' if d.needs_migration_030 else 'no'}")
    out.append(f"Recorded version:  {d.recorded_version if d.recorded_version is not None else 'none'}"
               + (f" (from {d.version_source})" if d.version_source else ""))
    if sim.attempted:
        out += ["", f"The app's insert (foreign keys ON, rolled back): "
                    f"{'succeeds' if sim.ok else 'fails: ' + str(sim.error)}",
                _table([{"reference": r.column, "value": r.value, "parent": f"{r.parent_table}.{r.parent_column}",
                         "parent exists": r.parent_shown, "reason": r.reason} for r in sim.references])]
    elif sim.note and d.profile is not None and d.statement_simulation is None:
        out += ["", f"The app's insert was not simulated: {sim.note}."]
    out += _statement_lines(d) + _error_lines(d)
    if d.findings:
        out += ["", "Findings:"] + [f"  [{f.severity}] {f.code}: {f.message}" for f in d.findings]
    return "\n".join(out)


def cmd_diagnose(args: argparse.Namespace) -> int:
    from .diagnosis import diagnose

    sql, source = _statement_arg(args) or (None, "--sql")
    d = diagnose(args.db, parse_insert(args.insert), sql=sql, sql_source=source, table=args.table,
                 values=args.values, error_message=args.error, full_check=args.full_check)
    if args.json:
        _print_json(d.to_dict())
    else:
        print(render_diagnosis(d))
    return d.exit_code


# --------------------------------------------------------------------------- repair: the row plans
def _row_options(args: argparse.Namespace) -> Any:
    from .plan import OrphanAction
    from .rowplans import RowOptions

    columns = tuple(c.strip() for c in args.columns.split(",") if c.strip()) if args.columns else None
    return RowOptions(table=args.table, columns=columns, to=args.to,
                      action=OrphanAction(args.action) if args.action else None)


def render_rows_plan(result: Any) -> str:
    """A row plan as the support engineer reads it: what it does, the rows, and the proof."""
    plan = result.plan
    lines = [plan.summary]
    lines += [f"  {r.table} {list(r.key)}: {r.change}" for r in plan.touched[:50]]
    if len(plan.touched) > 50:
        lines.append(f"  ... and {len(plan.touched) - 50} more (--json lists them all)")
    lines += [f"  skipped {r.table} {list(r.key)}: {r.change}" for r in plan.skipped[:20]]
    if result.output:
        lines.append(f"Repaired copy written: {result.output}")
    if result.proof is not None:
        lines.append("Proof:")
        lines += [f"  [{'ok' if ok else 'FAILED'}] {text}" for text, ok in result.proof.lines()]
    return "\n".join(lines)


def _refuse_other_options(args: argparse.Namespace, kind: Any) -> None:
    """Another plan's option is refused, not ignored: the engineer meant something by it."""
    from .plan import PlanKind

    if args.not_null:
        raise errors.RefusedError(f"--not-null belongs to repair relax, not to repair {kind}.")
    if args.rebuild:
        # the row plans write rows or an index; repoint's declaration edit moves no stored byte
        raise errors.RefusedError(f"--rebuild applies to repair relax; repair {kind} needs no rebuild of the table.")
    if args.to and kind is not PlanKind.REPOINT:
        raise errors.RefusedError(f"--to belongs to repair repoint, not to repair {kind}.")
    if args.action and kind is not PlanKind.ORPHANS:
        raise errors.RefusedError(f"--action belongs to repair orphans, not to repair {kind}.")


def _repair_rows(args: argparse.Namespace) -> int:
    """`repair repoint|unique-parent|orphans|retype`: print the plan (--sql, or orphans without
    --action, which only lists), or apply it to a copy written to --out."""
    from .plan import PlanKind
    from .rowplans import RowsResult, apply_rows_plan, build_plan, script
    from .safe_access import safe_connection
    from .schema import read_schema

    kind, options = PlanKind(args.plan), _row_options(args)
    _refuse_other_options(args, kind)
    listing = kind is PlanKind.ORPHANS and options.action is None
    if listing or (args.sql and not args.out):
        with safe_connection(args.db) as (work, conn):
            info = read_schema(conn, database=str(args.db), wal_frames=work.wal_frames, journal_mode=work.journal_mode)
            plan = build_plan(kind, conn, info, options)
        result = RowsResult(str(args.db), None, plan)
        if args.json:
            _print_json(result.to_dict())
        elif args.sql and not listing:
            print(script(plan), end="")
        else:
            print(render_rows_plan(result))
        # a listing applies nothing: the rows still violate the key
        return errors.EXIT_PROBLEM_FOUND if listing else errors.EXIT_OK
    if not args.out:
        raise errors.RefusedError(
            f"repair {kind} needs --out FIXED.db (a repair only ever writes a copy), or --sql to print the script.")
    result = apply_rows_plan(args.db, args.out, lambda conn, info: build_plan(kind, conn, info, options),
                             force=args.force)
    if args.json:
        _print_json(result.to_dict())
    elif args.sql:
        print(script(result.plan), end="")
    else:
        print(render_rows_plan(result))
    return errors.EXIT_OK


# --------------------------------------------------------------------------- parser
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `command` (the first argument) only that command's arguments are
    built: the others' cost 25 ms of every start-up (argparse looks up translations for each)."""
    parser = argparse.ArgumentParser(
        prog="python -m toolkit",
        description="Diagnose and safely repair SQLite foreign-key failures in the video app's database. "
                    "Customers' files are only ever read; all work happens on a copy.")
    sub = parser.add_subparsers(dest="command", required=True)
    limits = argparse.ArgumentParser(add_help=False)
    limits.add_argument("--time-limit", type=float, metavar="SECONDS",
                        help="how long SQLite may work on one file "
                             "(default: 20 s plus 1 s per 5 MB, for the whole command)")

    for name, add in _COMMANDS.items():
        if command not in _COMMANDS or command == name:
            add(sub, limits)
    return parser


def _add_inspect_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("inspect", parents=[limits],
                       help="show a database's tables, columns, foreign keys, indexes, triggers")
    p.add_argument("db", help="the customer's database file")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=cmd_inspect)


def _add_diagnose_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("diagnose", parents=[limits],
                       help="say which reference a statement (or the video app's insert) breaks, and why")
    p.add_argument("db", help="the customer's database file")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    asked = p.add_mutually_exclusive_group()
    asked.add_argument("--sql", metavar="STATEMENTS",
                       help="the statement(s) the app ran, e.g. a BEGIN; ...; COMMIT; transaction from its log")
    asked.add_argument("--sql-file", metavar="FILE", help="the same, read from a UTF-8 file")
    asked.add_argument("--insert", metavar="COL=VALUE,...",
                       help="the video app's insert values (default: the newest generation's, as the app uses)")
    p.add_argument("--table", help="with --values: the table to insert into")
    p.add_argument("--values", metavar="COL=VALUE,...",
                   help="with --table: the row's values; type them as col:int=5, col:text=5, col:real=1.5, col:null")
    p.add_argument("--error", metavar="MESSAGE", help="the error message the customer saw, to name what raises it")
    p.add_argument("--full-check", action="store_true", help="run PRAGMA integrity_check instead of quick_check")
    p.set_defaults(func=cmd_diagnose)


def _add_fix_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("fix", parents=[limits],
                       help="apply migration 030 to a copy, prove it lossless, write it to --out")
    p.add_argument("db", help="the customer's database file (only read)")
    p.add_argument("--out", help="where to write the fixed copy (never overwritten without --force)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--sql", action="store_true",
                   help="print the exact SQL script of the fix for this file (alone: apply nothing)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--full-check", action="store_true",
                   help="prove with PRAGMA integrity_check (slower) instead of quick_check")
    p.add_argument("--rebuild", action="store_true",
                   help="use the 12-step rebuild even where SQLite's simpler procedure (no byte moves) applies")
    p.set_defaults(func=cmd_fix)


def _add_report_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[limits], help="write a self-contained HTML (or Markdown) case record")
    p.add_argument("db", help="the customer's database file (only read)")
    p.add_argument("--out", required=True, help="the report file to write")
    p.add_argument("--format", choices=["html", "md"], default="html")
    given = p.add_mutually_exclusive_group()
    given.add_argument("--sql", metavar="STATEMENTS",
                       help="the statement(s) the app ran, replayed on a copy: the report says which reference "
                            "they break and why")
    given.add_argument("--sql-file", metavar="FILE", help="the same, read from a UTF-8 file")
    p.add_argument("--error", metavar="MESSAGE", help="the error message the customer saw, to name what raises it")
    p.add_argument("--full-check", action="store_true", help="use PRAGMA integrity_check")
    p.set_defaults(func=cmd_report)


def _add_diagram_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("diagram", parents=[limits],
                       help="draw a file's references, those a statement (or the app's insert) breaks in red "
                            "(Graphviz)")
    p.add_argument("db", help="the customer's database file (only read)")
    p.add_argument("--out", required=True, help="the picture to write: FILE.svg, FILE.png or FILE.html")
    p.add_argument("--table", help="the table of interest (default: the tables the statement breaks references "
                                   "of; else veo3_video_upscales when the file has it; else every table with a "
                                   "foreign key)")
    given = p.add_mutually_exclusive_group()
    given.add_argument("--sql", metavar="STATEMENTS",
                       help="statements the app ran (one, or BEGIN; ...; COMMIT;), replayed on a copy: "
                            "the references they leave broken are drawn in red")
    given.add_argument("--sql-file", metavar="FILE", help="the same, read from a UTF-8 file")
    p.add_argument("--depth", type=int, default=1, help="foreign-key steps out from the table (default: 1)")
    p.add_argument("--max-tables", type=int, default=30, help="draw at most this many tables (default: 30)")
    p.add_argument("--before-after", action="store_true",
                   help="draw the file before and after migration 030 (fixed on a copy), one layout (.svg/.html)")
    p.set_defaults(func=cmd_diagram)


def _add_demo_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", parents=[limits], help="run the main job on the headline sample (or --db FILE)")
    p.add_argument("--db", help="database to use instead of the headline sample")
    p.add_argument("--out", default="out/demo", help="folder for the outputs (default: out/demo)")
    p.set_defaults(func=cmd_demo)


def _add_triage_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("triage", parents=[limits],
                       help="diagnose many files (and folders) into one table, on every core")
    p.add_argument("paths", nargs="+", help="database files and folders")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes to use (default: every core)")
    p.add_argument("--csv", help="also write the rows to this CSV file")
    p.add_argument("--json", action="store_true", help="print JSON rows for scripts")
    p.add_argument("--scheduler", help="hand the files to a Dask scheduler at this address (tcp://host:8786)")
    p.add_argument("--full-check", action="store_true", help="use PRAGMA integrity_check")
    p.set_defaults(func=cmd_triage)


def _add_notebooks_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("notebooks", help="execute every notebook against the samples and write HTML copies")
    p.add_argument("--out", default="out/notebooks", help="folder for the executed notebooks and HTML")
    p.set_defaults(func=cmd_notebooks)


def _add_app_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("app", help="serve the triage web app (Voila) on 127.0.0.1")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--token", default=None, help="require this token in the URL")
    p.set_defaults(func=cmd_app)


def _add_samples_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("samples", help="build the sample databases and their manifest")
    p.add_argument("--out", default="sample_dbs", help="folder to write (default: sample_dbs)")
    p.add_argument("--large", type=int, nargs="?", const=1_000_000, default=None, metavar="N",
                   help="instead, build one large v26 database with N upscale rows (default 1,000,000)")
    p.set_defaults(func=cmd_samples)


def _add_bench_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    p = sub.add_parser("bench", help="benchmark the commands against sqlite3 and sqlite-utils (make bench)")
    p.add_argument("--rows", default="10000,100000,1000000", help="comma-separated sizes")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--triage-files", type=int, default=8, help="files in the batch-triage run (0: skip it)")
    p.add_argument("--out", default="BENCHMARKS.md")
    p.set_defaults(func=cmd_bench)


def _add_repair_parser(sub: Any, limits: argparse.ArgumentParser) -> None:
    from .plan import OrphanAction, PlanKind

    p = sub.add_parser("repair", parents=[limits],
                       help="apply a repair plan (relax, repoint, unique-parent, orphans, retype) to a copy, prove it, "
                            "write it to --out")
    p.add_argument("plan", choices=[k.value for k in PlanKind], help="the repair to make")
    p.add_argument("db", help="the customer's database file (only read)")
    p.add_argument("--out", help="where to write the repaired copy (never overwritten without --force)")
    p.add_argument("--sql", action="store_true",
                   help="print the exact SQL script for the sqlite3 shell (alone: apply nothing)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--full-check", action="store_true",
                   help="prove with PRAGMA integrity_check (slower) instead of quick_check")
    p.add_argument("--rebuild", action="store_true",
                   help="use the 12-step rebuild even where SQLite's simpler procedure (no byte moves) applies")
    p.add_argument("--table", help="the table the plan changes")
    p.add_argument("--columns", metavar="A,B", help="the columns the plan changes (comma-separated)")
    p.add_argument("--not-null", action="store_true", help="relax: also drop the columns' NOT NULL constraints")
    p.add_argument("--to", metavar="LIVE", help="repoint: the live table the REFERENCES clause should name")
    p.add_argument("--action", choices=[a.value for a in OrphanAction],
                   help="orphans: what to do with rows that violate a key (none by default: the plan only lists them)")
    p.set_defaults(func=cmd_repair)


_COMMANDS: dict[str, Callable[[Any, argparse.ArgumentParser], None]] = {
    "inspect": _add_inspect_parser,
    "diagnose": _add_diagnose_parser,
    "fix": _add_fix_parser,
    "repair": _add_repair_parser,
    "report": _add_report_parser,
    "diagram": _add_diagram_parser,
    "demo": _add_demo_parser,
    "triage": _add_triage_parser,
    "notebooks": _add_notebooks_parser,
    "app": _add_app_parser,
    "samples": _add_samples_parser,
    "bench": _add_bench_parser,
}


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    # Python code sees KeyboardInterrupt; SQLite, mid-statement, sees its progress handler stop
    # (an exception inside the handler would only be swallowed there).  Not loaded yet (or half
    # loaded: the signal can come while Python imports it), guards has no connection to stop.
    request = getattr(sys.modules.get(f"{__package__}.guards"), "request_interrupt", None)
    if request is not None:
        request()
    raise KeyboardInterrupt


def _start_budget(args: argparse.Namespace) -> None:
    """The whole command gets the time limit of the file it reads (not each of its steps)."""
    from . import guards

    db = getattr(args, "db", None)
    if db and args.command != "triage":
        try:
            size = Path(db).stat().st_size
        except OSError:
            return  # the command itself says what is wrong with the path
        guards.start_command(guards.default_time_limit(size))


@contextlib.contextmanager
def _loading() -> Iterator[None]:
    """Python's cyclic garbage collector paused while code loads (it allocates much and frees
    nothing, so a collection would only walk what was just made), then what was loaded moved out of
    its sight (`gc.freeze`): later collections, and the one at exit, do not walk it again (about
    15 ms of `fix`'s start-up here)."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    arguments = sys.argv[1:] if argv is None else argv
    with _loading():
        parser = build_parser(arguments[0] if arguments else None)
    args = parser.parse_args(argv)
    if getattr(args, "time_limit", None) is not None:
        if not args.time_limit > 0:
            parser.error("--time-limit must be a positive number of seconds")
        os.environ["TOOLKIT_TIME_LIMIT"] = str(args.time_limit)  # triage's workers inherit it
    return args


def main(argv: list[str] | None = None, *, interrupted: bool = False) -> int:
    """The command line (`interrupted`: a Ctrl-C came while `python -m toolkit` loaded it)."""
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        if interrupted:
            raise KeyboardInterrupt
        args = _parse(argv)
        _start_budget(args)
        code: int = args.func(args)
        return code
    except errors.ToolkitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (`| head`): the rest of the answer has nowhere to go, and the
        # interpreter's last flush must not report that again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return errors.EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return _interrupted()
    except OSError as exc:  # a disk or folder of the machine failing mid-command: full, read-only, I/O error
        failure = errors.from_os_error(exc)
        if failure is None:
            return _internal_error(exc)
        print(f"error: {failure.message}", file=sys.stderr)
        return failure.exit_code
    except Exception as exc:
        return _internal_error(exc)


def _interrupted() -> int:
    print("error: interrupted (Ctrl-C); nothing was written to the original file and the work folder "
          "was removed.", file=sys.stderr)
    # Python 3.11 remembers a KeyboardInterrupt that went through an exec() of source text (as
    # dataclasses' do while a module loads) and ends the process by SIGINT at exit, however it was
    # handled; the next exec() of text that completes forgets it (CPython's run_eval_code_obj).
    exec("pass")  # noqa: S102 - a constant: no input reaches it
    return errors.EXIT_INTERRUPTED


def _internal_error(exc: Exception) -> int:
    """A bug: say so in one sentence, keep the traceback for debugging."""
    if os.environ.get("TOOLKIT_DEBUG"):
        raise exc
    print(f"internal error ({type(exc).__name__}: {exc}); the original file was not modified; "
          "rerun with TOOLKIT_DEBUG=1 and report the traceback.", file=sys.stderr)
    return errors.EXIT_INTERNAL
