"""A picture of the references around one table, the failing one in red, before and after.

`reference_diagram` turns a `Diagnosis` into a `Diagram`: one box per table in the
neighbourhood of the table of interest (its parents and children, `depth` steps out, at most
`max_tables` of them), one edge per foreign key, labelled with its columns and ON DELETE
action (and ON UPDATE and DEFERRABLE INITIALLY DEFERRED, when declared).
The insert simulation's failing reference is red and says why; a REFERENCES clause
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
from pathlib import Path
from typing import TYPE_CHECKING

from . import appmodel as app
from . import errors
from .diagnosis import Diagnosis, Reason
from .schema import DatabaseInfo, TableInfo

if TYPE_CHECKING:
    import graphviz

INSTALL_DOT = ("Graphviz's dot program is not installed, so no diagram was drawn; install it with "
               "`apt-get install graphviz` (Debian, Ubuntu), `brew install graphviz` or `conda install graphviz`.")
RED, ORANGE, GREY, INK = "#c0392b", "#d68910", "#9a9a9a", "#2c3e50"
NAME_LIMIT = 48
LEGEND = "red: the insert fails on it · dashed: no such table · orange: parent key not unique"


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
    failing: str | None = None  # the insert simulation's reason, when this reference fails
    ghost: bool = False
    not_unique: bool = False
    dropped: bool = False  # after side of a pair: migration 030 removed it (drawn invisible)
    on_update: str = "NO ACTION"
    deferred: bool = False  # DEFERRABLE INITIALLY DEFERRED: checked at COMMIT

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
            "label": f"<{_label_text(self.title + (' · ' if self.title else '') + LEGEND)}>"},
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


# --------------------------------------------------------------------------- building
def reference_diagram(diagnosis: Diagnosis | DatabaseInfo, *, table: str = app.UPSCALES, depth: int = 1,
                      max_tables: int = 30) -> Diagram:
    """The tables within `depth` foreign-key steps of `table`, the insert's failing reference red."""
    schema = diagnosis.schema if isinstance(diagnosis, Diagnosis) else diagnosis
    if schema is None:
        raise errors.DiagramError("This diagnosis carries no schema to draw.")
    if depth < 0 or max_tables < 1:
        raise errors.DiagramError("--depth must be 0 or more and --max-tables 1 or more.")
    focus = schema.table(table)
    if focus is None:
        raise errors.DiagramError(f"{schema.database} has no table named {table!r} to draw; "
                                  "run inspect to see the tables it has.")
    failing = _failing(diagnosis, focus) if isinstance(diagnosis, Diagnosis) else {}
    names, omitted = _neighbourhood(schema, focus, depth, max_tables)
    ids = {name.lower(): f"t{i}" for i, name in enumerate(names)}
    edges = _edges(schema, ids, ids.get(focus.name.lower()), failing)
    boxes = [_box(schema.table(name), name, ids[name.lower()], edges, focus=name.lower() == focus.name.lower())
             for name in names]
    title = f"{focus.name}, {depth} step{'s' if depth != 1 else ''} out"
    return Diagram(focus.name, depth, boxes, edges, omitted, title)


def _distinct(columns: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(columns))


def _box(t: TableInfo | None, name: str, box_id: str, edges: list[Edge], *, focus: bool) -> Box:
    """A table as drawn: its key, and the columns the drawn edges leave from or point at."""
    return Box(box_id, t.name if t else name, t.row_count if t else None, keys=t.primary_key if t else [],
               references=_distinct(c for e in edges if e.child == box_id for c in e.columns),
               referenced=_distinct(c for e in edges if e.parent == box_id for c in e.parent_columns),
               not_unique=_distinct(c for e in edges if e.parent == box_id and e.not_unique for c in e.parent_columns),
               ghost=t is None, focus=focus)


def _edges(schema: DatabaseInfo, ids: dict[str, str], focus_id: str | None, failing: dict[str, str]) -> list[Edge]:
    """Every foreign key between two drawn tables, the focus table's failing ones marked."""
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
            columns = [_spelled(t, c) for c in fk.columns]
            # a composite key fails with any of its columns (the simulation judges each column)
            reason = next((failing[c.lower()] for c in columns if c.lower() in failing), None) \
                if child == focus_id else None
            edges.append(Edge(f"fk-{child}-{fk.id}", child, parent, columns, parent_cols,
                              fk.on_delete, failing=reason, ghost=not fk.parent_table_exists,
                              not_unique=fk.parent_table_exists and not fk.parent_key_unique,
                              on_update=fk.on_update, deferred=fk.deferred))
    return edges


def before_after(before: Diagnosis, after: Diagnosis | DatabaseInfo, *, table: str = app.UPSCALES, depth: int = 1,
                 max_tables: int = 30) -> DiagramPair:
    """Before and after migration 030 with one layout (see the module's docstring)."""
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
    edges = [replace(e, dropped=e.key not in kept, failing=e.failing if e.key not in kept else None)
             for e in b.edges]
    boxes = [replace(box, rows=rows_after.get(box.name.lower(), box.rows), released=_released(box, edges))
             for box in b.boxes]
    after_side = Diagram(a.table, depth, boxes, edges, b.omitted, b.title)
    return DiagramPair(b, after_side)


def _released(box: Box, edges: list[Edge]) -> list[str]:
    """The box's columns whose every reference migration 030 dropped."""
    still = {c for e in edges if e.child == box.id and not e.dropped for c in e.columns}
    return [c for e in edges if e.child == box.id and e.dropped for c in e.columns if c not in still]


def _spelled(table: TableInfo | None, column: str) -> str:
    """The column as its table declares it (SQLite matches names case-insensitively)."""
    found = table.column(column) if table else None
    return found.name if found else column


def _failing(d: Diagnosis, focus: TableInfo) -> dict[str, str]:
    if focus.name.lower() != app.UPSCALES.lower():
        return {}
    return {r.column.lower(): r.reason for r in d.insert_simulation.references if r.reason != Reason.OK}


def _neighbourhood(schema: DatabaseInfo, focus: TableInfo, depth: int, limit: int) -> tuple[list[str], int]:
    """Table names (ghosts included) in breadth-first order out from `focus`, and how many
    beyond `limit` were left out."""
    links: dict[str, list[str]] = {}
    for t in schema.tables:
        for fk in t.foreign_keys:
            links.setdefault(t.name.lower(), []).append(fk.parent_table)
            links.setdefault(fk.parent_table.lower(), []).append(t.name)
    order, seen = [focus.name], {focus.name.lower()}
    queue = deque([(focus.name, 0)])
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


def _edge_attrs(e: Edge) -> dict[str, str]:
    lines = [f"{', '.join(map(_name, e.columns))} → {', '.join(map(_name, e.parent_columns)) or '(its key)'}",
             f"ON DELETE {_label_text(e.on_delete)}"]
    if e.on_update.upper() != "NO ACTION":
        lines.append(f"ON UPDATE {_label_text(e.on_update)}")
    if e.deferred:
        lines.append("DEFERRABLE INITIALLY DEFERRED")
    color = INK
    if e.not_unique:
        lines.append(f'<FONT COLOR="{ORANGE}">parent key not unique</FONT>')
        color = ORANGE
    if e.failing:
        lines.append(f"<B>fails: {_label_text(e.failing)}</B>")
        color = RED
    classes = (_classes("fk", dropped=True) if e.dropped else
               _classes("fk", failing=bool(e.failing), ghost=e.ghost, not_unique=e.not_unique))
    attrs = {"label": "<" + "<BR/>".join(lines) + ">", "id": e.id, "color": color, "fontcolor": color,
             "class": classes}
    if e.failing:
        attrs["penwidth"] = "2.5"
    if e.ghost:
        attrs["style"] = "dashed"
    if e.dropped:
        attrs["style"] = "invis"  # kept for the layout, not drawn
    return attrs


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
    """The picture of a diagnosis: before and after when the fixed copy's schema is given;
    None when the file has no upscale table to draw around."""
    if diagnosis.schema is None or diagnosis.schema.table(app.UPSCALES) is None:
        return None
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


