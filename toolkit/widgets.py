"""ipywidgets for notebooks and the triage app: pick a database, simulate the app's insert or
explain a pasted statement or error message, apply 030 to a copy, see before and after.

Results are rendered into `HTML` widgets (escaped pandas Styler tables), not `Output`
panes, so they show the same in JupyterLab, Voilà and a plain kernel, and tests can read
them after `.click()`.  Every action goes through the package's API on safe copies; bad
files show the toolkit's one sentence, never a traceback.
"""
from __future__ import annotations

import base64
import html
import sqlite3
import shutil
import tempfile
import weakref
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from . import appmodel as app
from . import errors
from .casebook import sample_paths
from .comparison import Comparison, compare
from .diagnosis import Diagnosis, State, diagnose
from .diagram import diagram_html
from .migration import MigrationResult, apply_030
from .safe_access import SIDECAR_SUFFIXES, WorkCopy, copy_database, verify_unchanged
from .schema import DatabaseInfo
from .samples import HEADLINE
from .sqlnames import quote

CHANGED = "background-color: #fff3cd"
BAD = "background-color: #fdecea"
GOOD = "background-color: #e8f5e9"
PAGE = 20
#: wide enough for the upload button's icon and "Upload .db (+ -wal) (2)" (ipywidgets' default cuts it)
UPLOAD_WIDTH = "260px"
#: what an empty value field means, shown in the field itself
NULL_HINT = "empty: NULL (no value)"


# --------------------------------------------------------------------------- rendering
def short(value: Any, limit: int | None = None) -> Any:
    """A cell as a person can read it: blobs as a hex preview, text past `limit` cut, with sizes."""
    if limit is not None and isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}… ({len(value):,} characters)"
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return f"x'{raw[:16].hex()}{'…' if len(raw) > 16 else ''}' ({len(raw):,} bytes)"
    return value


def frame_html(df: pd.DataFrame, row_style: Callable[[pd.Series], str] | None = None, table_id: str = "",
               limit: int | None = None) -> str:
    """An escaped HTML table (values and column names); `row_style(row)` returns CSS for a whole
    row; `limit` cuts long text (customer data can hold megabytes in one cell)."""
    styler = (df.style.format(lambda v: short(v, limit), escape="html", na_rep="").format_index(escape="html", axis=1)
              .hide(axis="index"))
    if row_style is not None:
        styler = styler.apply(lambda row: [row_style(row)] * len(row), axis=1)
    # Styler gives the table an id of its own, so ours is a data attribute: data-fk="after"
    styler = styler.set_table_attributes(
        f'class="fk-table" data-fk="{html.escape(table_id)}"' if table_id else 'class="fk-table"')
    styler = styler.set_table_styles(
        [{"selector": "td, th", "props": "border: 1px solid #ddd; padding: 2px 6px; text-align: left;"}])
    return styler.to_html()


def message_html(text: str, ok: bool | None = None) -> str:
    color = {True: "#2e7d32", False: "#c62828", None: "#555"}[ok]
    return (f'<div class="fk-answer" data-fk="answer" style="border-left: 5px solid {color}; padding: 6px 10px; '
            f'font-size: 1.05em; background: #fafafa">{html.escape(text)}</div>')


def outcome_html(m: MigrationResult) -> str:
    """What `apply_030` did: skipped and why, or the proof's own list of checks (`Proof.lines`)."""
    if m.skipped or m.proof is None:
        return message_html(f"Skipped: {m.reason}", True)
    p = m.proof
    checks = "".join(f'<li data-ok="{str(ok).lower()}">{"✔" if ok else "✘"} {html.escape(label)}</li>'
                     for label, ok in p.lines())
    return (message_html("Fixed copy written and proven, check by check:", p.ok)
            + f'<ul class="fk-proof" data-fk="proof" style="list-style: none; padding-left: 10px">{checks}</ul>')


def references_html(d: Diagnosis) -> str:
    return frame_html(d.references_frame(), lambda r: "" if r["reason"] == "ok" else BAD, "references")


def findings_html(d: Diagnosis) -> str:
    df = d.findings_frame()
    return frame_html(df, lambda r: BAD if r["severity"] == "error" else ("" if r["severity"] == "info" else CHANGED),
                      "findings") if len(df) else "<p>No findings.</p>"


def _declaration(info: DatabaseInfo | None, name: str) -> pd.DataFrame:
    table = info.table(name) if info else None
    rows = table.declarations().items() if table else []
    return pd.DataFrame(rows, columns=["column", "declaration"])


def before_after_html(c: Comparison, table: str = app.UPSCALES) -> tuple[str, str, str]:
    """(before pane, after pane, rows pane) with changed rows highlighted."""
    before, after = _declaration(c.schema_before, table), _declaration(c.schema_after, table)
    changed = set(before.merge(after, on="column", how="outer", suffixes=("_b", "_a"))
                  .query("declaration_b != declaration_a")["column"])
    mark = lambda r: CHANGED if r["column"] in changed else ""  # noqa: E731
    rows = c.data_frame()
    rows_html = frame_html(rows, lambda r: CHANGED if (r["only_before"] or r["only_after"]) else "", "rows")
    return frame_html(before, mark, "before"), frame_html(after, mark, "after"), rows_html


def save_uploads(files: list[Mapping[str, Any]], folder: Path) -> Path:
    """Write uploaded files (as ipywidgets gives them) side by side in `folder`, which is
    emptied first; return the database among them.  From here on the upload is treated as
    the customer's file: only read, through safe copies."""
    for old in folder.iterdir():
        old.unlink()
    main = None
    for f in files:
        name = Path(str(f["name"])).name or "upload.db"
        target = folder / name
        with open(target, "wb") as fh:
            fh.write(f["content"])
        if not name.endswith(SIDECAR_SUFFIXES):
            main = target
    if main is None:  # only sidecars: let safe access explain what is missing
        main = folder / Path(str(files[0]["name"])).name.rsplit("-", 1)[0]
    return main


def download_link(path: Path, name: str, mime: str, label: str, link_id: str) -> str:
    """A link that downloads `path` from the page itself (no file server needed, works offline)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<a id="{html.escape(link_id)}" download="{html.escape(name)}" href="data:{mime};base64,{data}" '
            f'style="margin-right: 1.5em">{html.escape(label)}</a>')


# --------------------------------------------------------------------------- widgets
class DatabasePicker(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Choose a bundled sample, type a path, or upload a customer's file (with its -wal)."""

    def __init__(self, value: str = HEADLINE, on_change: Callable[[Path], Any] | None = None):
        self._samples = sample_paths(include_bad=True)
        self.dropdown = widgets.Dropdown(options=list(self._samples), value=value, description="Sample",
                                         layout=widgets.Layout(width="420px"))
        self.path_text = widgets.Text(placeholder="/path/to/customer.db", description="or path",
                                      layout=widgets.Layout(width="420px"))
        self.upload = widgets.FileUpload(accept="", multiple=True, description="Upload .db (+ -wal)",
                                         layout=widgets.Layout(width=UPLOAD_WIDTH))
        self.status = widgets.HTML()
        self._uploaded: Path | None = None
        self._upload_dir = Path(tempfile.mkdtemp(prefix="toolkit-upload-"))
        weakref.finalize(self, shutil.rmtree, self._upload_dir, True)
        self._on_change = on_change
        self.dropdown.observe(self._changed, names="value")
        self.path_text.observe(self._changed, names="value")
        self.upload.observe(self._uploaded_files, names="value")
        super().__init__([widgets.HBox([self.dropdown, self.upload]), self.path_text, self.status])
        self._show()

    @property
    def path(self) -> Path:
        if self._uploaded is not None:
            return self._uploaded
        if self.path_text.value.strip():
            return Path(self.path_text.value.strip()).expanduser()
        return self._samples[self.dropdown.value]

    def _show(self) -> None:
        self.status.value = f"<small>Database: <code>{html.escape(str(self.path))}</code></small>"

    def _changed(self, change: dict[str, Any]) -> None:
        if change["owner"] is self.dropdown:
            self.path_text.value = ""
        self._uploaded = None
        self._show()
        if self._on_change:
            self._on_change(self.path)

    def save_uploads(self, files: list[Mapping[str, Any]]) -> Path:
        return save_uploads(files, self._upload_dir)

    def _uploaded_files(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        self._uploaded = self.save_uploads(list(change["new"]))
        self._show()
        if self._on_change:
            self._on_change(self.path)


class ValueType(StrEnum):
    """How the insert form binds a typed value: INTEGER 17 and TEXT '17' are different values; SQLite
    stores either with the child column's affinity, then compares with the parent column's."""

    TEXT = "text"
    INTEGER = "integer"

    @classmethod
    def of(cls, value: Any) -> ValueType:
        return cls.INTEGER if isinstance(value, int) and not isinstance(value, bool) else cls.TEXT


def typed_value(column: str, text: str, kind: ValueType) -> str | int | None:
    """A field's value as the insert binds it: an empty field is NULL, else text or an integer."""
    if text == "":
        return None
    if kind is ValueType.TEXT:
        return text
    try:
        return int(text.strip())
    except ValueError:
        raise errors.BadStatementError(f"{column}: {text!r} is not an integer; type a whole number such as 17, "
                                       "or choose text.") from None


class InsertForm(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """The app's insert, pre-filled with the values the app would use; a button simulates it.
    Each value has a type (text or integer), so SQLite's affinity rules can be tried; an empty
    field is NULL."""

    def __init__(self, path: str | Path | None = None):
        self.fields = {c: widgets.Text(description=c, placeholder=NULL_HINT, style={"description_width": "150px"},
                                       layout=widgets.Layout(width="560px")) for c in app.REFERENCE_COLUMNS}
        self.types = {c: widgets.Dropdown(options=[t.value for t in ValueType], value=ValueType.TEXT.value,
                                          layout=widgets.Layout(width="100px"))
                      for c in app.REFERENCE_COLUMNS}
        self.simulate = widgets.Button(description="Simulate insert", button_style="primary")
        self.answer = widgets.HTML()
        self.references = widgets.HTML()
        self.diagnosis: Diagnosis | None = None
        self.simulate.on_click(lambda _: self.run())
        rows = [widgets.HBox([self.fields[c], self.types[c]]) for c in app.REFERENCE_COLUMNS]
        hint = widgets.HTML("<small>An empty field is NULL. Choose integer or text for each value: SQLite stores it "
                            "with the child column's affinity (a TEXT column turns 17 into '17'), then applies the "
                            "parent column's affinity to compare it with the parent's keys.</small>")
        super().__init__([hint, *rows, self.simulate, self.answer, self.references])
        if path is not None:
            self.load(path)

    def load(self, path: str | Path, diagnosis: Diagnosis | None = None) -> None:
        """Pre-fill from `diagnosis` of `path` (diagnosed here when not given)."""
        self.path = Path(path)
        self.answer.value = self.references.value = ""
        try:
            values = (diagnosis or diagnose(self.path)).insert_simulation.values
        except errors.ToolkitError as exc:
            values = {}
            self.answer.value = message_html(exc.message, False)
        for column, field in self.fields.items():
            v = values.get(column)
            field.value = "" if v is None else str(v)
            self.types[column].value = ValueType.of(v).value

    def run(self) -> Diagnosis | None:
        try:
            values = {c: typed_value(c, f.value, ValueType(self.types[c].value)) for c, f in self.fields.items()}
            self.diagnosis = diagnose(self.path, values)
        except errors.ToolkitError as exc:
            self.answer.value, self.references.value = message_html(exc.message, False), ""
            return None
        sim = self.diagnosis.insert_simulation
        self.answer.value = message_html(self.diagnosis.answer, sim.ok)
        self.references.value = references_html(self.diagnosis)
        return self.diagnosis


#: What the statement form's sentences call the pasted SQL (the CLI says --sql).
PASTED = "The pasted SQL"


def violations_html(d: Diagnosis) -> str:
    """The references the statements broke, every explanation whole; '' when they broke none."""
    df = d.violations_frame()
    return frame_html(df, lambda _: BAD, "violations") if len(df) else ""


def error_answer_html(d: Diagnosis) -> str:
    """The pasted error message's answer beside the statement's (the answer leads with the statement)."""
    from .diagnosis import error_sentence

    sentence = error_sentence(d)
    if sentence is None or d.statement_simulation is None:
        return ""  # without a statement, the error's answer is the diagnosis' answer itself
    return message_html(sentence, None)


class StatementForm(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Paste what the app ran (one statement or its transaction) or the error it showed; "Explain"
    replays it on a copy and names each reference it breaks, and why."""

    def __init__(self, path: str | Path | None = None, on_explained: Callable[[Diagnosis], Any] | None = None):
        wide = widgets.Layout(width="760px")
        style = {"description_width": "230px"}
        self.sql = widgets.Textarea(description="Statements the app ran (SQL)", style=style,
                                    placeholder="BEGIN; INSERT INTO orders (customer_id) VALUES ('ALFKI'); COMMIT;",
                                    layout=widgets.Layout(width="760px", height="110px"))
        self.error = widgets.Text(description="…or the error message it showed", style=style, layout=wide,
                                  placeholder="FOREIGN KEY constraint failed")
        self.explain = widgets.Button(description="Explain", button_style="primary")
        self.answer = widgets.HTML()
        self.violations = widgets.HTML()
        self.path: Path | None = None
        self.diagnosis: Diagnosis | None = None
        self._on_explained = on_explained
        self.explain.on_click(lambda _: self.run())
        super().__init__([self.sql, self.error, self.explain, self.answer, self.violations])
        self.add_class("fk-statement")  # its answer is told apart from the file's on a page
        if path is not None:
            self.load(path)

    def load(self, path: str | Path | None) -> None:
        """Switch files: what was pasted stays (to ask the next file the same), the answer goes."""
        self.path = Path(path) if path is not None else None
        self.diagnosis = None
        self.answer.value = self.violations.value = ""

    def run(self) -> Diagnosis | None:
        self.diagnosis, self.violations.value = None, ""
        sql, message = self.sql.value.strip(), self.error.value.strip()
        if self.path is None:
            self.answer.value = message_html("Pick or upload a database first, then explain.", None)
            return None
        if not sql and not message:
            self.answer.value = message_html("Paste the statements the app ran, or the error message it showed, "
                                             "then press Explain.", None)
            return None
        try:
            d = diagnose(self.path, sql=sql or None, sql_source=PASTED, error_message=message or None)
        except errors.ToolkitError as exc:  # a refused or unreadable statement: its one sentence
            self.answer.value = message_html(exc.message, False)
            return None
        stmt = d.statement_simulation
        self.diagnosis = d
        self.answer.value = message_html(d.answer, stmt.ok if stmt is not None else None)
        self.violations.value = violations_html(d) + error_answer_html(d)
        if self._on_explained is not None:
            self._on_explained(d)
        return d


class BeforeAfterView(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """The upscale table's declaration before and after, side by side, changes highlighted."""

    def __init__(self, comparison: Comparison | None = None):
        self.before = widgets.HTML()
        self.after = widgets.HTML()
        self.rows = widgets.HTML()
        self.insert = widgets.HTML()
        panes = widgets.HBox([widgets.VBox([widgets.HTML("<b>Before</b>"), self.before]),
                              widgets.VBox([widgets.HTML("<b>After</b>"), self.after])])
        super().__init__([panes, widgets.HTML("<b>Rows per table</b>"), self.rows, self.insert])
        self.clear()
        if comparison is not None:
            self.show(comparison)

    def clear(self) -> None:
        self.before.value = self.after.value = self.rows.value = self.insert.value = ""
        self.layout.display = "none"  # no empty headings before there is something to compare

    def show(self, c: Comparison) -> None:
        self.layout.display = None
        self.before.value, self.after.value, self.rows.value = before_after_html(c)
        frame = c.insert_frame()
        self.insert.value = frame_html(frame, lambda r: GOOD if r["ok"] else BAD, "insert") if len(frame) else ""


class FixPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Apply migration 030 to a copy, show the proof and the before/after view."""

    def __init__(self, path: str | Path):
        self.apply = widgets.Button(description="Apply migration 030 to a copy", button_style="warning",
                                    layout=widgets.Layout(width="300px"))
        self.result = widgets.HTML()
        self.view = BeforeAfterView()
        self.migration: MigrationResult | None = None
        self.comparison: Comparison | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="toolkit-fix-"))
        weakref.finalize(self, shutil.rmtree, self._dir, True)
        self.apply.on_click(lambda _: self.run())
        super().__init__([self.apply, self.result, self.view])
        self.load(path)

    @property
    def fixed_path(self) -> Path | None:
        return Path(self.migration.output) if self.migration and self.migration.output else None

    def load(self, path: str | Path) -> None:
        self.path = Path(path)
        self.migration = self.comparison = None
        self.result.value = ""
        self.view.clear()

    def run(self) -> MigrationResult | None:
        out = self._dir / f"{self.path.stem}.fixed.db"
        try:
            self.migration = apply_030(self.path, out, force=True)
            if self.migration.output:
                self.comparison = compare(self.path, self.migration.output)
        except errors.ToolkitError as exc:
            self.result.value = message_html(exc.message, False)
            return None
        self.result.value = outcome_html(self.migration)
        if not self.migration.skipped and self.comparison is not None:
            self.view.show(self.comparison)
        return self.migration


class DataPager(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A table's rows, a page at a time, read from one private copy (never all in memory)."""

    def __init__(self, path: str | Path | None = None, table: str = app.UPSCALES):
        self._dir = Path(tempfile.mkdtemp(prefix="toolkit-pager-"))
        weakref.finalize(self, shutil.rmtree, self._dir, True)
        self.table_name = table
        self.page = widgets.BoundedIntText(value=0, min=0, max=0, description="Page")
        self.rows = widgets.HTML()
        self.page.observe(lambda _: self.show(), names="value")
        super().__init__([self.page, self.rows])
        self.work: WorkCopy | None = None
        if path is not None:
            self.load(path)

    def load(self, path: str | Path) -> None:
        self.work = None
        try:
            self.work = copy_database(path, self._dir / "pager.db")
            verify_unchanged(self.work.fingerprint)
            conn = self.work.connect()
            try:
                n = conn.execute(f"SELECT count(*) FROM {quote(self.table_name)}").fetchone()[0]
            finally:
                conn.close()
            self.page.max = max(0, (n - 1) // PAGE)
            self.show()
        except errors.ToolkitError as exc:
            self.rows.value = message_html(exc.message, False)
        except sqlite3.OperationalError as exc:  # e.g. no such table: shown, not raised
            self.rows.value = message_html(f"No {self.table_name} rows to show ({exc}).", None)

    def show(self) -> None:
        if self.work is None:
            return
        conn = self.work.connect()
        try:
            df = pd.read_sql_query(f"SELECT rowid AS rowid_, * FROM {quote(self.table_name)} ORDER BY rowid "
                                   f"LIMIT {PAGE} OFFSET ?", conn, params=(self.page.value * PAGE,))
        finally:
            conn.close()
        self.rows.value = frame_html(df, table_id="data", limit=200)


class SchemaPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Tables, the upscale table's columns, every foreign key and index, as tables."""

    def __init__(self, path: str | Path):
        self.html = widgets.HTML()
        super().__init__([self.html])
        self.load(path)

    def load(self, path: str | Path) -> None:
        from .schema import inspect

        try:
            info = inspect(path)
        except errors.ToolkitError as exc:
            self.html.value = message_html(exc.message, False)
            return
        parts = ["<b>Tables</b>", frame_html(info.tables_frame(), table_id="tables")]
        if info.table(app.UPSCALES):
            parts += [f"<b>{app.UPSCALES}</b>", frame_html(info.columns_frame(app.UPSCALES), table_id="columns")]
        parts += ["<b>Foreign keys</b>",
                  frame_html(info.foreign_keys_frame(),
                             lambda r: "" if r["parent exists"] and r["parent key unique"] else BAD, "foreign-keys"),
                  "<b>Indexes</b>", frame_html(info.indexes_frame(), table_id="indexes")]
        self.html.value = "".join(parts)


class Explorer(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A database picker driving one panel (anything with `.load(path)`)."""

    def __init__(self, panel_type: type, value: str = HEADLINE):
        self.picker = DatabasePicker(value=value, on_change=lambda path: self.panel.load(path))
        self.panel = panel_type(self.picker.path)
        super().__init__([self.picker, self.panel])


def schema_explorer(value: str = HEADLINE) -> Explorer:
    return Explorer(SchemaPanel, value)


def simulate_explorer(value: str = HEADLINE) -> Explorer:
    return Explorer(InsertForm, value)


def fix_explorer(value: str = HEADLINE) -> Explorer:
    return Explorer(FixPanel, value)


def statement_explorer(value: str = HEADLINE) -> Explorer:
    return Explorer(StatementForm, value)


class TriageApp(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Everything for one file: the answer, then tabs for findings, schema, data, the insert, the fix."""

    def __init__(self, path: str | Path | None = None, picker: bool = True):
        self.picker = DatabasePicker(on_change=self.load) if picker else None
        self.answer = widgets.HTML()
        self.findings = widgets.HTML()
        self.schema = widgets.HTML()
        start = Path(path) if path else (self.picker.path if self.picker else None)
        if start is None:
            raise ValueError("TriageApp needs a path when it has no picker")
        # the panels are loaded once, below, from one diagnosis of the file
        self.form = InsertForm()
        self.fix = FixPanel(start)
        self.data = DataPager()
        self.tabs = widgets.Tab([self.findings, self.schema, self.data, self.form, self.fix])
        for i, title in enumerate(["Findings", "Schema", "Data", "Simulate insert", "Apply 030"]):
            self.tabs.set_title(i, title)
        super().__init__([w for w in (self.picker, self.answer, self.tabs) if w is not None])
        self.load(start)

    def load(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fix.load(self.path)
        self.data.load(self.path)
        try:
            d = diagnose(self.path)
        except errors.ToolkitError as exc:
            self.form.load(self.path)  # shows the same sentence; a bad file fails fast
            self.answer.value = message_html(exc.message, False)
            self.findings.value = self.schema.value = ""
            return
        self.form.load(self.path, d)
        self.answer.value = message_html(d.answer, d.healthy)
        self.findings.value = findings_html(d)
        info = d.schema
        assert info is not None  # diagnose() keeps the schema it read
        self.schema.value = (frame_html(info.columns_frame(app.UPSCALES), table_id="columns")
                             + frame_html(info.foreign_keys_frame(), table_id="foreign-keys")
                             + frame_html(info.indexes_frame(), table_id="indexes"))


class TriageWebApp(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """The support engineer's page: upload a customer's file, read the answer and the findings,
    apply 030 to a copy, download the fixed copy and the HTML report."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="toolkit-webapp-"))
        self._uploads = self._dir / "upload"
        self._outputs = self._dir / "outputs"
        self._uploads.mkdir()
        self._outputs.mkdir()
        weakref.finalize(self, shutil.rmtree, self._dir, True)
        self.upload = widgets.FileUpload(accept="", multiple=True, description="Upload .db (+ -wal)",
                                         layout=widgets.Layout(width=UPLOAD_WIDTH))
        self.file_label = widgets.HTML("<i>No file yet: upload the customer's database (and its -wal, if any).</i>")
        self.answer = widgets.HTML()
        self.findings = widgets.HTML()
        self.diagram = widgets.HTML()
        self.apply = widgets.Button(description="Apply migration 030 to a copy", button_style="warning",
                                    disabled=True, layout=widgets.Layout(width="300px"))
        self.result = widgets.HTML()
        self.view = BeforeAfterView()
        self.downloads = widgets.HTML()
        self.statement = StatementForm(on_explained=self._explained)
        self.path: Path | None = None
        self.upload.observe(self._on_upload, names="value")
        self.apply.on_click(lambda _: self.run_fix())
        super().__init__([widgets.HBox([self.upload, self.file_label]),
                          self.answer, self.statement, self.diagram, self.findings, self.apply, self.result,
                          self.view, self.downloads])

    def _explained(self, d: Diagnosis) -> None:
        """A pasted statement's broken references are drawn in red in the file's diagram."""
        if d.statement_simulation is not None:
            self.diagram.value = diagram_html(d)

    def _on_upload(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.load_upload(list(change["new"]))
            self.upload.value = ()  # the bytes now live in one file; do not keep a second copy in memory

    def load_upload(self, files: list[Mapping[str, Any]]) -> None:
        self.path = save_uploads(files, self._uploads)
        self.statement.load(self.path)
        for old in self._outputs.iterdir():
            old.unlink()
        names = ", ".join(html.escape(Path(str(f["name"])).name) for f in files)
        self.file_label.value = f"Uploaded: <code>{names}</code>"
        self.result.value = self.downloads.value = self.diagram.value = ""
        self.view.clear()
        self.apply.disabled = True  # until this file's answer is shown: never fix the previous upload's
        try:
            d = diagnose(self.path)
        except errors.ToolkitError as exc:
            self.answer.value, self.findings.value = message_html(exc.message, False), ""
            return
        self.answer.value = message_html(d.answer, d.healthy)
        self.findings.value = findings_html(d)
        self.diagram.value = diagram_html(d)
        self.apply.disabled = d.state == State.NO_UPSCALES_TABLE
        # migration 030 is the video app's fix: another app's page does not offer it at all
        self.apply.layout.display = "none" if d.profile is None else None

    def run_fix(self) -> MigrationResult | None:
        from .report import build_report, save_report

        if self.path is None:
            return None
        stem = self.path.stem
        fixed = self._outputs / f"{stem}.fixed.db"
        try:  # one pass of the main job gives the fixed copy, the comparison and the report
            record = build_report(self.path, fixed=fixed, force=True)
            report = save_report(record, self._outputs / f"{stem}.report.html")
        except errors.ToolkitError as exc:
            self.result.value = message_html(exc.message, False)
            return None
        m = record.migration
        links = [download_link(report, report.name, "text/html", "Download the HTML report", "fk-download-report")]
        if m is None:  # no upscale table: nothing to fix, the report says why
            self.result.value = message_html(record.diagnosis.answer, False)
        else:
            self.result.value = outcome_html(m)
        if m is not None and not m.skipped and record.comparison is not None:
            self.view.show(record.comparison)
            self.diagram.value = record.diagram_html
            links.insert(0, download_link(fixed, fixed.name, "application/vnd.sqlite3", "Download the fixed copy",
                                          "fk-download-fixed"))
        self.downloads.value = "".join(links)
        return m
