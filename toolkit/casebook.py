"""Case records for notebooks and the triage app: whole answers as data, never tracebacks.

`triage_case(path)` runs the main job on one file (diagnose, fix a temporary copy, compare)
and returns a `Case` whose `error` is the toolkit's one sentence when the file is bad.
`scenario_table()` diagnoses every bundled sample for the walk-through notebooks.

For notebooks: `whole(frame)` shows a table with every text in full (pandas cuts cells at 50
characters), `customer_file(db_path)` finds a papermill parameter's file from the checkout's root
or the kernel's folder, and `show_or_stop(case)` shows the case's summary and, for a bad file,
stops the notebook there without a traceback.
"""
from __future__ import annotations

import logging
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import errors
from .bundled import CHECKOUT, IN_CHECKOUT
from .comparison import Comparison
from .diagnosis import Diagnosis, Reason, diagnose
from .migration import MigrationResult
from .report import build_report
from .safe_access import work_folder
from .samples import SCENARIOS, samples_dir

if TYPE_CHECKING:
    import pandas as pd

    from .diagram import Diagram, DiagramPair


@dataclass(frozen=True)
class Case:
    path: str
    diagnosis: Diagnosis | None = None
    migration: MigrationResult | None = None
    comparison: Comparison | None = None
    error: str | None = None
    error_type: str | None = None
    fixed_path: str | None = None
    workdir: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def answer(self) -> str:
        if self.error:
            return self.error
        assert self.diagnosis is not None  # a case without an error has its diagnosis
        return self.diagnosis.answer

    def proof_frame(self) -> pd.DataFrame:
        import pandas as pd

        p = self.migration.proof if self.migration else None
        if p is None:
            return pd.DataFrame(columns=["check", "ok"])
        rows = p.lines()
        return pd.DataFrame(rows, columns=["check", "ok"])

    # Every view works for a bad file too (empty), so a notebook cell never raises.
    def summary(self) -> str:
        """Markdown: the one-sentence answer (or what is wrong with the file) and the state."""
        name = Path(self.path).name
        if self.error:
            return f"**Cannot triage `{name}`** ({self.error_type}): {self.error}"
        d = self.diagnosis
        assert d is not None  # a case without an error has its diagnosis
        lines = [f"**{d.answer}**", ""]
        if d.profile is None:
            lines.append(f"- no application profile applies (state `{d.state}`): the general checks answered")
        else:
            lines += [f"- profile `{d.profile}`; state: `{d.state}`; needs migration 030: "
                      f"**{'yes' if d.needs_migration_030 else 'no'}**",
                      f"- recorded version: {d.recorded_version if d.recorded_version is not None else 'none'}"
                      + (f" ({d.version_source})" if d.version_source else "")]
        if self.migration is not None:
            m = self.migration
            lines.append(f"- migration 030 on a copy: {'skipped: ' + m.reason if m.skipped else 'applied and proven'}")
        return "\n".join(lines)

    @staticmethod
    def _frame(part: object, method: str) -> pd.DataFrame:
        """`part.method()`, or an empty frame when the part is absent (bad file, no table, skip)."""
        import pandas as pd

        return getattr(part, method)() if part is not None else pd.DataFrame()

    def findings_frame(self) -> pd.DataFrame:
        return self._frame(self.diagnosis, "findings_frame")

    def references_frame(self) -> pd.DataFrame:
        return self._frame(self.diagnosis, "references_frame")

    def schema_changes_frame(self) -> pd.DataFrame:
        return self._frame(self.comparison, "schema_frame")

    def data_frame(self) -> pd.DataFrame:
        return self._frame(self.comparison, "data_frame")

    def insert_frame(self) -> pd.DataFrame:
        return self._frame(self.comparison, "insert_frame")

    def diagram(self) -> Diagram | DiagramPair | Whole:
        """The picture of the case: before and after migration 030 when it ran, else the file's
        references; a sentence when there is nothing to draw."""
        from .diagram import drawing_of

        after = self.comparison.schema_after if self.comparison is not None else None
        drawing = drawing_of(self.diagnosis, after) if self.diagnosis is not None else None
        if drawing is None:
            import pandas as pd

            reason = self.error or "no table of this file has a foreign key"
            return Whole(pd.DataFrame({"nothing to draw": [reason]}))
        return drawing

    @property
    def sql(self) -> str:
        return self.migration.sql if self.migration and self.migration.sql else "-- no fix applied"

    def cleanup(self) -> None:
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def triage_case(path: str | Path, *, keep_fixed: bool = False) -> Case:
    """The full case record for one file; a bad file gives `Case.error`, not an exception."""
    workdir = work_folder("case")
    try:
        report = build_report(path, fixed=workdir / "fixed.db")
        fixed = report.migration.output if report.migration and keep_fixed else None
        case = Case(str(path), report.diagnosis, report.migration, report.comparison, fixed_path=fixed,
                    workdir=str(workdir))
    except errors.ToolkitError as exc:
        case = Case(str(path), error=exc.message, error_type=type(exc).__name__, workdir=str(workdir))
    finally:
        if not keep_fixed:
            shutil.rmtree(workdir, ignore_errors=True)
    return case


def scenario_table(folder: str | Path | None = None) -> pd.DataFrame:
    """Every bundled sample diagnosed: state, the failing reference and why, in one table."""
    import pandas as pd

    rows = []
    folder = samples_dir() if folder is None else Path(folder)
    for s in SCENARIOS:
        path = folder / s.filename
        try:
            d = diagnose(path)
        except errors.ToolkitError as exc:
            rows.append({"file": s.filename, "scenario": s.title, "state": "bad file", "failing": "—",
                         "reason": type(exc).__name__, "answer": exc.message})
            continue
        failing = [r for r in d.insert_simulation.references if r.reason != Reason.OK]
        rows.append({"file": s.filename, "scenario": s.title, "state": d.state,
                     "failing": ", ".join(r.column for r in failing) or "—",
                     "reason": ", ".join(r.reason for r in failing) or "—", "answer": d.answer})
    return pd.DataFrame(rows)


def what_the_customer_saw(path: str | Path) -> dict[str, Any]:
    """The app's `create_upscale` (its error handling mirrored) run on a copy with the values
    the app would use: the message the customer saw."""
    from .appmodel import default_values
    from .safe_access import safe_connection
    from .schema import read_schema
    from .service import create_upscale

    with safe_connection(path) as (_, conn):
        values = default_values(conn, read_schema(conn, database=str(path), count_rows=False))
        if values is None:
            return {"success": None, "error": "no generation to upscale"}
        records: list[logging.LogRecord] = []
        log = logging.getLogger("toolkit.service.customer_view")
        log.propagate = False
        handler = _ListHandler(records)
        log.addHandler(handler)
        try:
            result = create_upscale(conn, log=log, **values)
        finally:
            log.removeHandler(handler)
        # what the app's log holds: the engineer's side of the same failure
        result["logged"] = [{"message": r.getMessage(), "error": getattr(r, "error", None),
                             "sourceGenerationId": getattr(r, "sourceGenerationId", None),
                             "profileId": getattr(r, "profileId", None), "projectId": getattr(r, "projectId", None)}
                            for r in records]
        return result


class _ListHandler(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]):
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def sample_paths(include_bad: bool = False) -> dict[str, Path]:
    """Bundled samples by file name (for pickers and loops)."""
    return {s.filename: samples_dir() / s.filename for s in SCENARIOS if include_bad or s.error is None}


# --------------------------------------------------------------------------- notebook display
@dataclass(frozen=True, eq=False)
class Whole:
    """A frame shown whole: every text in full (SQL, findings, explanations), left-aligned and
    escaped; pandas' own display cuts each cell at `display.max_colwidth` characters."""

    frame: pd.DataFrame

    def _repr_html_(self) -> str:
        from .widgets import frame_html

        if self.frame.empty:  # a bad file, a skipped fix: say so rather than draw an empty grid
            return '<p class="fk-empty"><em>Nothing to show for this file.</em></p>'
        return frame_html(self.frame)

    def __repr__(self) -> str:
        text: str = self.frame.to_string(index=False, max_colwidth=None)
        return text


def whole(frame: pd.DataFrame) -> Whole:
    return Whole(frame)


def customer_file(db_path: str | Path | None) -> Path:
    """A notebook parameter's file: the bundled headline sample when None; a relative path that is
    not there from the kernel's folder (papermill --cwd notebooks) is taken from the checkout's root."""
    from .samples import HEADLINE

    if db_path is None or str(db_path) == "":
        return samples_dir() / HEADLINE
    path = Path(db_path).expanduser()
    if path.is_absolute() or path.exists() or not IN_CHECKOUT:
        return path
    from_root = CHECKOUT / path
    # a path that exists nowhere stays as given, so the message names what the person typed
    return from_root if from_root.exists() else path


def show_or_stop(case: Case) -> None:
    """Show the case's summary; for a bad file, stop the notebook right after its one sentence.

    The stop is papermill's graceful exit, `SystemExit` with no code: IPython shows it as two lines
    (no traceback), no later cell runs (in papermill or a notebook's Run All), papermill exits 0 and
    adds no error banner, so the executed notebook reads as the answer for that file."""
    from IPython.display import Markdown, display

    display(Markdown(case.summary()))  # type: ignore[no-untyped-call]  # IPython is untyped
    if not case.ok:
        # IPython would add a UserWarning on how to quit an interactive shell
        warnings.filterwarnings("ignore", message="To exit: use")
        raise SystemExit()
