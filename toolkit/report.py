"""A shareable case record: one self-contained HTML file (or Markdown for a ticket).

The answer comes first, then the findings, the app's insert before and after, the schema
side by side with changes highlighted, the SQL of the fix and its proof.  No CDN, no script:
it opens offline, and every value from the customer's file is escaped (Jinja2 autoescape).
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, UTC
from enum import StrEnum
from pathlib import Path
from typing import TypedDict

import jinja2

from . import __version__, errors
from . import appmodel as app
from .comparison import Comparison, compare
from .diagnosis import Diagnosis, State, diagnose
from .migration import MigrationResult, apply_030
from .safe_access import work_folder


class Format(StrEnum):
    """The record's formats (`report --format`)."""

    HTML = "html"
    MD = "md"


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
                               version=__version__, md=_md)


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


def build_report(path: str | Path, *, full_check: bool = False, fixed: str | Path | None = None,
                 force: bool = False) -> Report:
    """The main job on one file: diagnose it, apply 030 to a copy, compare before and after.
    The fixed copy is written to `fixed` (kept) or to a temporary folder (removed)."""
    path = Path(path)
    diagnosis = diagnose(path, full_check=full_check)
    migration = comparison = None
    if diagnosis.state != State.NO_UPSCALES_TABLE:
        tmp = work_folder("report")
        try:
            migration = apply_030(path, fixed or tmp / "fixed.db", full_check=full_check, force=force)
            comparison = compare(path, migration.output) if migration.output else None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Report(diagnosis, migration, comparison, diagnosis.original_hashes,
                  datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


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


def write_report(path: str | Path, out: str | Path, *, fmt: Format = Format.HTML, full_check: bool = False) -> Path:
    path, out = Path(path), Path(out)
    _check_out(path, out)  # refused before any work is done
    return save_report(build_report(path, full_check=full_check), out, fmt=fmt)
