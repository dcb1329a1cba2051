"""A picture of a file's references, what was asked drawn in red, before and after.

`reference_diagram` turns a `Diagnosis` (or a bare schema) into a `Diagram`: one box per table
in the neighbourhood of the focus (its parents and children, `depth` steps out, at most
`max_tables` of them), one edge per foreign key, labelled with its columns and ON DELETE
action (and ON UPDATE and DEFERRABLE INITIALLY DEFERRED, when declared).  The focus is the
table asked for; else the tables a replayed statement breaks references of; else the video
app's upscale table; else every table with a foreign key, so any file gets a useful picture.

Red answers what was asked, and the legend says which question that was: the references a
replayed statement (replay.StatementSimulation) leaves broken, with how many rows, why and
when (statement N or COMMIT); or, on the video app's file with no statement, the references
its own insert fails on.  Purple marks keys rows already violated before; a REFERENCES clause
naming a table that does not exist points at a dashed ghost box; a parent key that is not
unique is marked in orange.  `before_after` draws two diagrams with one layout: the after
side keeps the references migration 030 dropped as invisible edges, so Graphviz places every
box where it was and the only difference is the missing arrows.

Graphviz (`dot`) does the layout.  Every name reaches it inside an escaped HTML-like label
and nodes are addressed by generated ids, so no name can break the picture or put markup
in it.  Without `dot`, building a `Diagram` still works and drawing it raises
`MissingProgramError` with one sentence on how to install it.
"""
from __future__ import annotations

import html
import re
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from . import appmodel as app
from . import errors
from .diagnosis import Diagnosis, Reason
from .schema import DatabaseInfo, TableInfo

if TYPE_CHECKING:
    import graphviz

    from .replay import BrokenReference, StatementSimulation

INSTALL_DOT = ("Graphviz's dot program is not installed, so no diagram was drawn; install it with "
               "`apt-get install graphviz` (Debian, Ubuntu), `brew install graphviz` or `conda install graphviz`.")
RED, ORANGE, GREY, INK = "#c0392b", "#d68910", "#9a9a9a", "#2c3e50"
PURPLE = "#7d3c98"  # rows already broken: apart from red (what was asked) and orange (a broken declaration)
NAME_LIMIT = 48
LEGEND = "red: the app's insert fails on this reference · dashed: no such table · orange: parent key not unique"
#: the after side of a pair, in place of the red entry (about as long, so the layout does not move)
AFTER_LEGEND = "struck-out FK: its reference dropped by 030, not drawn"


@dataclass(frozen=True)
class Box:
    """One table (or the ghost of a missing one) as drawn."""

    id: str
    name: str
    rows: int | None
    keys: list[str] = field(default_factory=list)  # primary-key columns
    references: list[str] = field(default_factory=list)  # columns of this table's drawn foreign keys
    referenced: list[str] = field(default_factory=list)  # columns other tables' drawn foreign keys point at
    not_unique: list[str] = field(default_factory=list)  # referenced columns with no unique key behind them
    released: list[str] = field(default_factory=list)  # after side of a pair: columns whose reference was dropped
    ghost: bool = False
    focus: bool = False

    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in [*self.keys, *self.referenced, *self.references]:
            seen.setdefault(c, None)
        return list(seen)


@dataclass(frozen=True)
class Edge:
    """One foreign key: from the child's columns to the parent's."""

    id: str
    child: str  # box ids
    parent: str
    columns: list[str]
    parent_columns: list[str]
    on_delete: str
    failing: str | None = None  # why what was asked fails on this reference (its reasons), else None
    ghost: bool = False
    not_unique: bool = False
    dropped: bool = False  # after side of a pair: migration 030 removed it (drawn invisible)
    on_update: str = "NO ACTION"
    deferred: bool = False  # DEFERRABLE INITIALLY DEFERRED: checked at COMMIT
    broken_rows: int | None = None  # rows the statements leave violating it (None: the app's one insert)
    when: str = ""  # when SQLite refuses them: "statement 2", "COMMIT"
    more: bool = False  # the simulation listed only some of the rows it broke: broken_rows is a floor
    already: int = 0  # rows that violated it before anything was asked

    @property
    def key(self) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
        return (self.child, tuple(c.lower() for c in self.columns), self.parent,
                tuple(c.lower() for c in self.parent_columns))


@dataclass(frozen=True)
class Diagram:
    table: str
    depth: int
    boxes: list[Box]
    edges: list[Edge]
    omitted: int = 0  # tables of the neighbourhood beyond max_tables, not drawn
    title: str = ""
    legend: str = LEGEND  # what each colour means for what was asked
    #: points; the two sides of a pair get the same, so their legends' lengths cannot move a box
    label_width: int = 0

    def box(self, name: str) -> Box | None:
        return next((b for b in self.boxes if b.name.lower() == name.lower()), None)

    @property
    def failing_edges(self) -> list[Edge]:
        return [e for e in self.edges if e.failing]

    def source(self) -> str:
        """The diagram in Graphviz's dot language."""
        source: str = self.graph().source
        return source

    def graph(self) -> graphviz.Digraph:
        import graphviz

        g = graphviz.Digraph("references", graph_attr={
            "rankdir": "LR", "bgcolor": "white", "pad": "0.3", "nodesep": "0.5", "ranksep": "1.1",
            "fontname": "Helvetica", "fontsize": "10", "labelloc": "b", "labeljust": "l",
            "label": f"<{self._label()}>"},
            node_attr={"shape": "plain", "fontname": "Helvetica", "fontsize": "11"},
            edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": INK, "arrowsize": "0.8"})
        for b in self.boxes:
            g.node(b.id, label=f"<{_box_label(b)}>", id=f"box-{b.id}", **{"class": _classes(
                "table", ghost=b.ghost, focus=b.focus)})
        for e in self.edges:
            g.edge(f"{e.child}:{_port(self.box_by_id(e.child), e.columns)}",
                   f"{e.parent}:{_port(self.box_by_id(e.parent), e.parent_columns)}",
                   **_edge_attrs(e))
        if self.omitted:
            more = f"+ {self.omitted} more tables not drawn (raise --depth or --max-tables)"
            g.node("more", label=f"<{_label_text(more)}>",
                   shape="note", color=GREY, fontcolor=GREY, id="omitted")
        return g

    def _label(self) -> str:
        """The title and the legend under the picture; in a box of fixed size when `label_width` is set
        (a label wider than the drawing widens it, and dot centres the boxes in the wider picture)."""
        text = f"{_label_text(self.title) + '<BR/>' if self.title else ''}{_label_text(self.legend)}"
        if not self.label_width:
            return text
        lines = 2 if self.title else 1
        return (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0" FIXEDSIZE="TRUE" '
                f'WIDTH="{self.label_width}" HEIGHT="{13 * lines}"><TR><TD ALIGN="LEFT" BALIGN="LEFT">{text}'
                "</TD></TR></TABLE>")

    def box_by_id(self, box_id: str) -> Box:
        return next(b for b in self.boxes if b.id == box_id)

    def svg(self) -> str:
        """The picture as an SVG element, ready to inline in HTML (no XML prolog)."""
        return _inline(self._pipe("svg").decode("utf-8"))

    def png(self) -> bytes:
        return self._pipe("png")

    def _pipe(self, fmt: str) -> bytes:
        require_dot()
        import graphviz

        try:
            picture: bytes = self.graph().pipe(format=fmt, quiet=True)  # its complaints go in our one sentence
            return picture
        except graphviz.ExecutableNotFound:
            raise errors.MissingProgramError(INSTALL_DOT) from None
        except graphviz.CalledProcessError as exc:
            raise errors.DiagramError(f"Graphviz could not draw the diagram of {self.table} "
                                      f"({(exc.stderr or b'').decode(errors='replace').strip()[:200]}); "
                                      "send the file to engineering.") from None

    def _repr_html_(self) -> str:
        return html_or_reason(self.svg)


@dataclass(frozen=True)
class DiagramPair:
    """The same layout twice: before migration 030 and after it."""

    before: Diagram
    after: Diagram

    @property
    def dropped(self) -> list[Edge]:
        return [e for e in self.after.edges if e.dropped]

    def html(self) -> str:
        return (f'<div class="fk-diagram-pair" style="display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start">'
                f'<figure class="fk-diagram" data-side="before" style="margin:0">{self.before.svg()}'
                f'<figcaption>Before: {_count(self.before.failing_edges, "failing reference")}</figcaption></figure>'
                f'<figure class="fk-diagram" data-side="after" style="margin:0">{self.after.svg()}'
                f'<figcaption>After migration 030: {_count(self.dropped, "reference")} dropped</figcaption>'
                "</figure></div>")

    def svg(self) -> str:
        """Both sides in one SVG document (for `diagram --before-after --out FILE.svg`)."""
        left, right = self.before.svg(), self.after.svg()
        (w1, h1), (w2, h2) = _size(left), _size(right)
        gap = 30
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w1 + gap + w2}pt" height="{max(h1, h2)}pt" '
                f'viewBox="0 0 {w1 + gap + w2} {max(h1, h2)}">'
                f'<g class="before">{_placed(left, 0)}</g><g class="after">{_placed(right, w1 + gap)}</g></svg>')

    def _repr_html_(self) -> str:
        return html_or_reason(self.html)


# --------------------------------------------------------------------------- what was asked
class Question(StrEnum):
    """What the red edges answer."""

    INSERT = "insert"  # the video app's own insert into its upscale table (the profile's question)
    STATEMENT = "statement"  # statements replayed (replay.StatementSimulation)
    NONE = "none"  # nothing asked: the file's references as they stand


@dataclass(frozen=True)
class Mark:
    """What one foreign key shows beyond its declaration (keyed by child table and key id)."""

    reasons: tuple[str, ...] = ()  # why the question fails on it (empty: it does not)
    rows: int | None = None  # rows the statements break (None for the app's insert: one row)
    when: str = ""  # "statement 2", "COMMIT"
    more: bool = False  # the simulation listed only some of the rows it broke
    already: int = 0  # rows that violated it before anything was asked


MarkKey = tuple[str, int]  # child table (lower case), foreign key id


def _statement_marks(sim: StatementSimulation) -> dict[MarkKey, Mark]:
    """The references the statements break: rows, reasons and when, per key."""
    grouped: dict[MarkKey, list[BrokenReference]] = {}
    for v in sim.violations:
        grouped.setdefault((v.table.lower(), v.key), []).append(v)
    more = sim.violations_total > len(sim.violations)
    return {k: Mark(reasons=tuple(_distinct(str(v.reason) for v in vs)), rows=len(vs),
                    when=", ".join(_distinct(v.when for v in vs)),
                    more=more)
            for k, vs in grouped.items()}


def _insert_marks(d: Diagnosis, schema: DatabaseInfo) -> dict[MarkKey, Mark]:
    """The app's insert: a key fails when the simulation judged one of its columns failing (a
    composite key fails with any of them)."""
    up = schema.table(app.UPSCALES)
    failing = {r.column.lower(): str(r.reason) for r in d.insert_simulation.references if r.reason != Reason.OK}
    if up is None or not failing:
        return {}
    marks = {}
    for fk in up.foreign_keys:
        reason = next((failing[c.lower()] for c in fk.columns if c.lower() in failing), None)
        if reason is not None:
            marks[(up.name.lower(), fk.id)] = Mark(reasons=(reason,))
    return marks


def _orphan_counts(d: Diagnosis | None, sim: StatementSimulation | None, schema: DatabaseInfo) -> dict[MarkKey, int]:
    """Rows that already violated each key: the replay's own count, else the diagnosis' findings."""
    if sim is not None:
        return {(p.table.lower(), p.key): p.count for p in sim.pre_existing}
    counts: dict[MarkKey, int] = {}
    for f in d.finding("orphan-rows") if d is not None else []:
        t = schema.table(f.table or "")
        keys = [fk for fk in (t.foreign_keys if t else []) if ", ".join(fk.columns).lower() == (f.column or "").lower()]
        # two keys over the same columns: the finding's sentence names its parent
        named = [fk for fk in keys if fk.parent_table in f.message] if len(keys) > 1 else keys
        for fk in named or keys:
            counts[(t.name.lower() if t else "", fk.id)] = f.count or 0
    return counts


def _marks(question: Question, d: Diagnosis | None, sim: StatementSimulation | None,
           schema: DatabaseInfo) -> dict[MarkKey, Mark]:
    failing = (_statement_marks(sim) if question is Question.STATEMENT and sim is not None
               else _insert_marks(d, schema) if question is Question.INSERT and d is not None else {})
    already = _orphan_counts(d, sim, schema)
    return {k: replace(failing.get(k, Mark()), already=already.get(k, 0)) for k in {*failing, *already}}


def _legend(question: Question, sim: StatementSimulation | None, edges: list[Edge]) -> str:
    """What each colour means for what was asked (only the colours the picture can hold)."""
    parts = [_red_meaning(question, sim), "dashed: no such table", "orange: parent key not unique"]
    if any(e.already for e in edges):
        parts.append("purple: rows already violate it")
    return " · ".join(parts)


def _red_meaning(question: Question, sim: StatementSimulation | None) -> str:
    if question is Question.INSERT:
        return "red: the app's insert fails on this reference"
    if question is Question.NONE or sim is None:
        return "nothing red: no statement given to replay (diagram --sql draws what one breaks)"
    if sim.violations:
        numbers = _distinct(str(v.statement) for v in sim.violations if v.statement)
        at_commit = any(v.statement is None for v in sim.violations)
        when = [f"statement{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}"] if numbers else []
        return f"red: a reference {' or '.join([*when, *(['COMMIT'] if at_commit else [])])} leaves broken"
    if sim.ok:
        return "nothing red: SQLite accepts the statements with foreign keys on"
    return (f"nothing red: statement {sim.failed_statement} fails, but not on a foreign key"
            if sim.failed_statement else "nothing red: the statements break no foreign key")


def _question(d: Diagnosis | None, sim: StatementSimulation | None, schema: DatabaseInfo) -> Question:
    if sim is not None:
        return Question.STATEMENT
    if d is not None and schema.table(app.UPSCALES) is not None:
        return Question.INSERT
    return Question.NONE


# --------------------------------------------------------------------------- building
def reference_diagram(diagnosis: Diagnosis | DatabaseInfo, *, table: str | None = None, depth: int = 1,
                      max_tables: int = 30, statement: StatementSimulation | None = None) -> Diagram:
    """The tables within `depth` foreign-key steps of the focus, what was asked drawn in red.

    The focus is `table` when given; else the tables the statement's broken references name;
    else the video app's upscale table when the file has it; else every table with a foreign key.
    `statement` defaults to the diagnosis' own `statement_simulation` when it carries one."""
    d = diagnosis if isinstance(diagnosis, Diagnosis) else None
    schema = d.schema if d is not None else diagnosis
    if not isinstance(schema, DatabaseInfo):
        raise errors.DiagramError("This diagnosis carries no schema to draw.")
    if depth < 0 or max_tables < 1:
        raise errors.DiagramError("--depth must be 0 or more and --max-tables 1 or more.")
    # a Diagnosis that replayed a statement (diagnose(statement=...)) carries its simulation
    sim = statement if statement is not None else getattr(d, "statement_simulation", None)
    seeds, title, highlight = _focus(schema, table, sim, depth)
    question = _question(d, sim, schema)
    names, omitted = _neighbourhood(schema, seeds, depth, max_tables)
    ids = {name.lower(): f"t{i}" for i, name in enumerate(names)}
    edges = _edges(schema, ids, _marks(question, d, sim, schema))
    focus = {s.lower() for s in seeds} if highlight else set()
    boxes = [_box(schema.table(name), name, ids[name.lower()], edges, focus=name.lower() in focus) for name in names]
    return Diagram(_few(seeds) or schema.database, depth, boxes, edges, omitted, title,
                   legend=_legend(question, sim, edges))


def _focus(schema: DatabaseInfo, table: str | None, sim: StatementSimulation | None,
           depth: int) -> tuple[list[str], str, bool]:
    """The tables to draw out from, the picture's title, and whether to highlight them."""
    out = f"{depth} step{'s' if depth != 1 else ''} out"
    if table is not None:
        focus = schema.table(table)
        if focus is None:
            raise errors.DiagramError(f"{schema.database} has no table named {table!r} to draw; "
                                      "run inspect to see the tables it has.")
        return [focus.name], f"{focus.name}, {out}", True
    if sim is not None and sim.violations:
        named = _distinct(_spelling(schema, n) for v in sim.violations for n in (v.table, v.parent_table))
        return named, f"what the statements break: {_few(named)}, {out}", True
    up = schema.table(app.UPSCALES)
    if up is not None:
        return [up.name], f"{up.name}, {out}", True
    with_keys = [t.name for t in schema.tables if t.foreign_keys]
    if with_keys:
        return with_keys, f"{Path(schema.database).name}: the tables with foreign keys", False
    if not schema.tables:
        raise errors.DiagramError(f"{schema.database} has no tables to draw.")
    return [t.name for t in schema.tables], f"{Path(schema.database).name}: no table has a foreign key", False


def _spelling(schema: DatabaseInfo, name: str) -> str:
    found = schema.table(name)
    return found.name if found else name


def _few(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _box(t: TableInfo | None, name: str, box_id: str, edges: list[Edge], *, focus: bool) -> Box:
    """A table as drawn: its key, and the columns the drawn edges leave from or point at."""
    return Box(box_id, t.name if t else name, t.row_count if t else None, keys=t.primary_key if t else [],
               references=_distinct(c for e in edges if e.child == box_id for c in e.columns),
               referenced=_distinct(c for e in edges if e.parent == box_id for c in e.parent_columns),
               not_unique=_distinct(c for e in edges if e.parent == box_id and e.not_unique for c in e.parent_columns),
               ghost=t is None, focus=focus)


def _edges(schema: DatabaseInfo, ids: dict[str, str], marks: dict[MarkKey, Mark]) -> list[Edge]:
    """Every foreign key between two drawn tables, with what was asked marked on it."""
    edges = []
    for t in schema.tables:
        child = ids.get(t.name.lower())
        if child is None:
            continue
        for fk in t.foreign_keys:
            parent = ids.get(fk.parent_table.lower())
            if parent is None:
                continue
            parent_table = schema.table(fk.parent_table)
            parent_cols = ([_spelled(parent_table, c) for c in fk.parent_columns]
                           or (parent_table.primary_key if parent_table else []))
            mark = marks.get((t.name.lower(), fk.id), Mark())
            edges.append(Edge(f"fk-{child}-{fk.id}", child, parent, [_spelled(t, c) for c in fk.columns], parent_cols,
                              fk.on_delete, failing=", ".join(mark.reasons) or None, ghost=not fk.parent_table_exists,
                              not_unique=fk.parent_table_exists and not fk.parent_key_unique,
                              on_update=fk.on_update, deferred=fk.deferred, broken_rows=mark.rows,
                              when=mark.when, more=mark.more, already=mark.already))
    return edges


def before_after(before: Diagnosis, after: Diagnosis | DatabaseInfo, *, table: str | None = None, depth: int = 1,
                 max_tables: int = 30) -> DiagramPair:
    """Before and after migration 030 with one layout (see the module's docstring); both sides
    centred on `table` (default: the upscale table, which the migration rebuilds)."""
    table = table or app.UPSCALES
    b = reference_diagram(before, table=table, depth=depth, max_tables=max_tables)
    a = reference_diagram(after, table=table, depth=depth, max_tables=max_tables)
    ids = {box.name.lower(): box.id for box in b.boxes}
    # the after side draws the before side's boxes (with the after counts), in the same order
    rows_after = {box.name.lower(): box.rows for box in a.boxes}
    renamed = {box.id: ids.get(box.name.lower()) for box in a.boxes}
    kept = {replace(e, child=child, parent=parent).key
            for e in a.edges if (child := renamed[e.child]) and (parent := renamed[e.parent])}
    # A dropped edge keeps its label (drawn invisible, like the edge) and the title stays the
    # same, so every label has the size it had and Graphviz computes the very same layout.
    edges = [replace(e, dropped=True) if e.key not in kept else
             replace(e, failing=None, broken_rows=None, when="", more=False) for e in b.edges]
    boxes = [replace(box, rows=rows_after.get(box.name.lower(), box.rows), released=_released(box, edges))
             for box in b.boxes]
    legend = _after_legend(b.legend)
    width = _label_points(b.title, b.legend, legend)
    after_side = Diagram(a.table, depth, boxes, edges, b.omitted, b.title, legend=legend, label_width=width)
    return DiagramPair(replace(b, label_width=width), after_side)


def _label_points(*lines: str) -> int:
    """A width in points that holds the longest of `lines` in 10-point Helvetica (6 points a
    character is more than its widest letters on average)."""
    return 6 * max(len(line) for line in lines) + 12


def _after_legend(before: str) -> str:
    """The after side's legend: nothing is red there (what was asked no longer fails on a dropped
    reference), so its first entry says what a struck-out FK means; the other colours stay."""
    _, *rest = before.split(" · ")
    return " · ".join([AFTER_LEGEND, *rest])


def _released(box: Box, edges: list[Edge]) -> list[str]:
    """The box's columns whose every reference migration 030 dropped."""
    still = {c for e in edges if e.child == box.id and not e.dropped for c in e.columns}
    return [c for e in edges if e.child == box.id and e.dropped for c in e.columns if c not in still]


def _spelled(table: TableInfo | None, column: str) -> str:
    """The column as its table declares it (SQLite matches names case-insensitively)."""
    found = table.column(column) if table else None
    return found.name if found else column


def _neighbourhood(schema: DatabaseInfo, seeds: list[str], depth: int, limit: int) -> tuple[list[str], int]:
    """Table names (ghosts included) in breadth-first order out from the `seeds`, and how many
    beyond `limit` were left out."""
    links: dict[str, list[str]] = {}
    for t in schema.tables:
        for fk in t.foreign_keys:
            links.setdefault(t.name.lower(), []).append(fk.parent_table)
            links.setdefault(fk.parent_table.lower(), []).append(t.name)
    order: list[str] = []
    seen: set[str] = set()
    for s in seeds:
        if s.lower() not in seen:
            seen.add(s.lower())
            order.append(s)
    queue = deque((s, 0) for s in order)
    while queue:
        name, d = queue.popleft()
        if d == depth:
            continue
        for other in links.get(name.lower(), []):
            if other.lower() not in seen:
                seen.add(other.lower())
                order.append(other)
                queue.append((other, d + 1))
    return order[:limit], max(0, len(order) - limit)


# --------------------------------------------------------------------------- drawing
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _label_text(text: str) -> str:
    """A name as HTML-like label text: control characters shown as escapes, markup escaped."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return html.escape(text, quote=True)


def _name(text: str) -> str:
    if not text.strip():  # SQLite allows "" and " " as names; show them, quoted, rather than nothing
        text = '"' + text + '"'
    return _label_text(text if len(text) <= NAME_LIMIT else text[:NAME_LIMIT - 1] + "…")


def _port(box: Box, columns: list[str]) -> str:
    cols = box.columns()
    return f"c{cols.index(columns[0])}" if columns and columns[0] in cols else "title"


def _box_label(b: Box) -> str:
    head = "#fcf3cf" if b.focus else ("#ffffff" if b.ghost else "#d6e4f0")  # red is kept for failures
    border = GREY if b.ghost else INK
    rows = ["missing table" if b.ghost
            else ("? rows" if b.rows is None else f"{b.rows:,} row{'s' if b.rows != 1 else ''}")]
    cells = [f'<TR><TD PORT="title" BGCOLOR="{head}"><B>{_name(b.name)}</B></TD></TR>',
             f'<TR><TD><FONT POINT-SIZE="9" COLOR="#555555">{rows[0]}</FONT></TD></TR>']
    for i, c in enumerate(b.columns()):
        # the same markup on both sides of a pair, so the box keeps its width to the point
        fk = f'<S><FONT COLOR="{GREY}">FK</FONT></S>' if c in b.released else f'<FONT COLOR="{INK}">FK</FONT>'

        tags = [t for t, on in (("PK", c in b.keys), (fk, c in b.references)) if on]
        text = "&#160;".join([*tags, _name(c)])  # a plain space next to markup is dropped by Graphviz
        if c in b.not_unique:
            cells.append(f'<TR><TD PORT="c{i}" ALIGN="LEFT" BGCOLOR="#fdebd0"><FONT COLOR="{ORANGE}">{text} '
                         "· not unique</FONT></TD></TR>")
        else:
            cells.append(f'<TR><TD PORT="c{i}" ALIGN="LEFT">{text}</TD></TR>')
    style = ' STYLE="dashed"' if b.ghost else ""
    return (f'<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="4" COLOR="{border}"{style}>'
            + "".join(cells) + "</TABLE>")


def _edge_lines(e: Edge) -> tuple[list[str], str]:
    """The label's lines and the edge's colour: red (what was asked fails on it) over orange (a
    broken declaration) over purple (rows already violate it)."""
    lines = [f"{', '.join(map(_name, e.columns))} → {', '.join(map(_name, e.parent_columns)) or '(its key)'}",
             f"ON DELETE {_label_text(e.on_delete)}"]
    if e.on_update.upper() != "NO ACTION":
        lines.append(f"ON UPDATE {_label_text(e.on_update)}")
    if e.deferred:
        lines.append("DEFERRABLE INITIALLY DEFERRED")
    color = INK
    if e.already:
        lines.append(f'<FONT COLOR="{PURPLE}">{_rows(e.already)} already violate{"s" if e.already == 1 else ""} '
                     "it</FONT>")
        color = PURPLE
    if e.not_unique:
        lines.append(f'<FONT COLOR="{ORANGE}">parent key not unique</FONT>')
        color = ORANGE
    if e.failing:
        lines.append(f"<B>{_failure(e)}</B>")
        color = RED
    return lines, color


def _edge_attrs(e: Edge) -> dict[str, str]:
    lines, color = _edge_lines(e)
    classes = (_classes("fk", dropped=True) if e.dropped else
               _classes("fk", failing=bool(e.failing), ghost=e.ghost, not_unique=e.not_unique,
                        orphans=bool(e.already)))
    attrs = {"label": "<" + "<BR/>".join(lines) + ">", "id": e.id, "color": color, "fontcolor": color,
             "class": classes}
    if e.failing:
        attrs["penwidth"] = "2.5"
    if e.ghost:
        attrs["style"] = "dashed"
    if e.dropped:
        attrs["style"] = "invis"  # kept for the layout, not drawn
    return attrs


def _failure(e: Edge) -> str:
    """The red line: why, and for statements how many rows and when."""
    text = f"fails: {_label_text(e.failing or '')}"
    if e.broken_rows is not None:
        text += f" · {'at least ' if e.more else ''}{_rows(e.broken_rows)} at {_label_text(e.when)}"
    return text


def _rows(n: int) -> str:
    return f"{n:,} row{'s' if n != 1 else ''}"


def _classes(base: str, **flags: bool) -> str:
    return " ".join([base, *(name.replace("_", "-") for name, on in flags.items() if on)])


def _count(items: Sized, noun: str) -> str:
    return f"{len(items)} {noun}{'s' if len(items) != 1 else ''}"


def _inline(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _size(svg: str) -> tuple[float, float]:
    m = re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"[^>]*\bheight="([\d.]+)pt"', svg)
    return (float(m.group(1)), float(m.group(2))) if m else (600.0, 400.0)


def _placed(svg: str, x: float) -> str:
    return svg.replace("<svg", f'<svg x="{x}" y="0"', 1)


def dot_available() -> bool:
    return shutil.which("dot") is not None


def require_dot() -> None:
    if not dot_available():
        raise errors.MissingProgramError(INSTALL_DOT)


def html_or_reason(draw: Callable[[], str]) -> str:
    """`draw()`'s markup, or, when the picture cannot be drawn, the one sentence why."""
    try:
        return draw()
    except errors.ToolkitError as exc:
        return f'<p class="fk-diagram-missing"><em>{html.escape(str(exc))}</em></p>'


def drawing_of(diagnosis: Diagnosis, after: DatabaseInfo | None = None) -> Diagram | DiagramPair | None:
    """The picture of a diagnosis (of the statement it replayed, when it carries one): before and
    after migration 030 when the fixed copy's schema is given; None when there is nothing to draw
    (no upscale table and no foreign key anywhere in the file)."""
    schema = diagnosis.schema
    if schema is None:
        return None
    if schema.table(app.UPSCALES) is None:
        return reference_diagram(diagnosis) if any(t.foreign_keys for t in schema.tables) else None
    return before_after(diagnosis, after) if after is not None else reference_diagram(diagnosis)


def diagram_html(diagnosis: Diagnosis, after: DatabaseInfo | None = None) -> str:
    """`drawing_of` for an HTML page (the report, the web app), or the one sentence why it
    could not be drawn."""
    drawing = drawing_of(diagnosis, after)
    if drawing is None:
        return ""
    picture = drawing.html if isinstance(drawing, DiagramPair) else drawing.svg
    return f'<div class="fk-diagram-box">{html_or_reason(picture)}</div>'


def write(drawing: Diagram | DiagramPair, out: str | Path) -> Path:
    """Write a diagram to `out` (.svg, .png, or .html); written whole or not at all."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".svg":
        data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + drawing.svg()).encode("utf-8")
    elif suffix == ".html":
        body = drawing.html() if isinstance(drawing, DiagramPair) else drawing.svg()
        data = (f'<!doctype html><meta charset="utf-8"><title>references</title>'
                f'<style>body {{ font: 14px system-ui, sans-serif; }}</style>{body}').encode()
    elif suffix == ".png" and isinstance(drawing, Diagram):
        data = drawing.png()
    else:
        raise errors.RefusedError(f"Cannot write a diagram{' pair' if isinstance(drawing, DiagramPair) else ''} as "
                                  f"{out.name}: give --out a name ending in "
                                  f".svg{'' if isinstance(drawing, DiagramPair) else ', .png'} "
                                  "or .html.")
    tmp = out.with_name(f".{out.name}.partial")
    try:
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        failure = errors.from_os_error(exc, out.parent)
        if failure is None:
            raise
        raise failure from None
    return out


