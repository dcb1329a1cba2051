"""A shareable case record: one self-contained HTML file (or Markdown for a ticket).

The answer comes first, then the findings, the app's insert before and after, the schema
side by side with changes highlighted, the SQL of the fix and its proof.  No CDN, no script:
it opens offline, and every value from the customer's file is escaped (Jinja2 autoescape).
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, UTC
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import jinja2

from . import __version__, errors
from . import appmodel as app
from .comparison import Comparison, compare
from .diagnosis import Diagnosis, State, diagnose
from .migration import MigrationResult, apply_030
from .safe_access import work_folder

from .replay import FailsAt

if TYPE_CHECKING:
    from .replay import BrokenReference


class Format(StrEnum):
    """The record's formats (`report --format`)."""

    HTML = "html"
    MD = "md"


class BrokenRow(TypedDict):
    """One broken reference of the failing statement, as the report's table shows it."""
    table: str
    rowid: str
    key: str
    parent: str
    reason: str
    explanation: str
    actions: str
    deferred: str
    when: str


class ColumnRow(TypedDict):
    """One column of the upscale table, before and after the fix."""
    name: str
    before: str
    after: str
    changed: bool


@dataclass(frozen=True)
class Report:
    diagnosis: Diagnosis
    migration: MigrationResult | None
    comparison: Comparison | None
    hashes: dict[str, str]
    generated: str
    #: The statements asked about, as given, and the name sentences call them by (None: none given).
    sql: str | None = None
    sql_source: str = "--sql"

    @property
    def failed_statement_sql(self) -> str | None:
        """The text of the statement SQLite refused (None when none failed, or the failure came at COMMIT)."""
        stmt = self.diagnosis.statement_simulation
        if self.sql is None or stmt is None or stmt.failed_statement is None or stmt.fails_at == FailsAt.COMMIT:
            return None
        from .statements import parse_script

        # diagnose() parsed the same text already: this cannot refuse it now
        return next((s.sql for s in parse_script(self.sql, self.sql_source).statements
                     if s.number == stmt.failed_statement), None)

    @property
    def fails_where(self) -> str:
        """Where SQLite refused the statements: "at statement N", "at COMMIT (statement N)", or ""."""
        stmt = self.diagnosis.statement_simulation
        if stmt is None or stmt.ok:
            return ""
        number = f"statement {stmt.failed_statement}" if stmt.failed_statement else ""
        if stmt.fails_at == FailsAt.COMMIT:
            return f"at COMMIT ({number})" if number else "at COMMIT"
        return f"at {number}" if number else ""

    @property
    def broken_references(self) -> list[BrokenRow]:
        """The rows the statements leave violating a key, every explanation whole."""
        stmt = self.diagnosis.statement_simulation
        return [broken_row(v) for v in (stmt.violations if stmt else ())]

    @property
    def pre_existing_total(self) -> int:
        stmt = self.diagnosis.statement_simulation
        return sum(p.count for p in stmt.pre_existing) if stmt else 0

    @property
    def error_sentence(self) -> str | None:
        """The answer to the error message given (None when none was)."""
        from .diagnosis import error_sentence

        return error_sentence(self.diagnosis)

    @property
    def upscale_columns(self) -> list[ColumnRow]:
        """The upscale table's columns before and after, side by side."""
        if self.comparison is None:
            return []
        schema_before, schema_after = self.comparison.schema_before, self.comparison.schema_after
        b = schema_before.table(app.UPSCALES) if schema_before else None
        a = schema_after.table(app.UPSCALES) if schema_after else None
        before = b.declarations() if b else {}
        after = a.declarations() if a else {}
        return [{"name": name, "before": text, "after": after.get(name, "(missing)"),
                 "changed": text != after.get(name)} for name, text in before.items()]

    @property
    def diagram_html(self) -> str:
        """The references around the upscale table, before and after the fix when it ran."""
        from .diagram import diagram_html

        return diagram_html(self.diagnosis, self.comparison.schema_after if self.comparison else None)

    def render(self, fmt: Format = Format.HTML) -> str:
        template = _templates().get_template(TEMPLATES[Format(fmt)])
        return template.render(r=self, d=self.diagnosis, m=self.migration, c=self.comparison,
                               proof=self.migration.proof if self.migration else None,
                               version=__version__, md=_md, fence=_fence)


def _rowid(rowid: Any) -> str:
    return ", ".join(map(repr, rowid)) if isinstance(rowid, tuple) else repr(rowid)


def broken_row(v: BrokenReference) -> BrokenRow:
    key = ", ".join(f"{c} = {x!r} ({kind})" for c, x, kind in zip(v.columns, v.values, v.storage_classes, strict=True))
    return {"table": v.table, "rowid": _rowid(v.rowid), "key": key,
            "parent": v.parent, "reason": str(v.reason),
            "explanation": v.explanation, "actions": f"ON DELETE {v.on_delete} / ON UPDATE {v.on_update}",
            "deferred": "yes" if v.deferred else "no",
            "when": v.when}


#: The template of each format, in toolkit/templates/ (HTML escaped there by autoescape, Markdown by `md`).
TEMPLATES = {Format.HTML: "report.html.j2", Format.MD: "report.md.j2"}


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("toolkit", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _md(value: object) -> str:
    """A value safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _fence(text: str, info: str = "") -> str:
    """`text` as a Markdown code block, shown literally: its fence is longer than any run of
    backticks inside, so no line of the customer's text can close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def build_report(path: str | Path, *, sql: str | None = None, sql_source: str = "--sql",
                 error_message: str | None = None, full_check: bool = False, fixed: str | Path | None = None,
                 force: bool = False) -> Report:
    """The main job on one file: diagnose it (with the statements the app ran and the error message
    the customer saw, when given), apply 030 to a copy, compare before and after.
    The fixed copy is written to `fixed` (kept) or to a temporary folder (removed)."""
    path = Path(path)
    diagnosis = diagnose(path, sql=sql, sql_source=sql_source, error_message=error_message, full_check=full_check)
    migration = comparison = None
    if diagnosis.state != State.NO_UPSCALES_TABLE:
        tmp = work_folder("report")
        try:
            migration = apply_030(path, fixed or tmp / "fixed.db", full_check=full_check, force=force)
            comparison = compare(path, migration.output) if migration.output else None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Report(diagnosis, migration, comparison, diagnosis.original_hashes,
                  datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), sql, sql_source)


def _check_out(path: Path, out: Path) -> None:
    if out.resolve() == path.resolve():
        raise errors.RefusedError(f"--out {out} is the customer's file itself; write the report elsewhere.", path)
    if not out.parent.is_dir():
        raise errors.RefusedError(f"The folder of --out {out} does not exist; create it first.", path)


def save_report(report: Report, out: str | Path, *, fmt: Format = Format.HTML) -> Path:
    """Write the rendered record to `out`, whole or not at all, never over the customer's file."""
    path, out = Path(report.diagnosis.database), Path(out)
    _check_out(path, out)
    text = report.render(fmt)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".report-", dir=out.parent)
    except OSError as exc:
        raise errors.from_os_error(exc, out.parent) or errors.RefusedError(
            f"Cannot write the report beside {out} ({exc.strerror}); choose a writable folder.", path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)  # the report appears whole or not at all
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        failure = errors.from_os_error(exc, out.parent) if isinstance(exc, OSError) else None
        if failure is not None:
            raise failure from None
        raise
    return out


def write_report(path: str | Path, out: str | Path, *, fmt: Format = Format.HTML, sql: str | None = None,
                 sql_source: str = "--sql", error_message: str | None = None, full_check: bool = False) -> Path:
    path, out = Path(path), Path(out)
    _check_out(path, out)  # refused before any work is done
    record = build_report(path, sql=sql, sql_source=sql_source, error_message=error_message, full_check=full_check)
    return save_report(record, out, fmt=fmt)
