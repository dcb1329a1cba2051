"""The reference diagram: real Graphviz on real sample files, the SVG read back as XML."""
import os
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import APP_FILES, ids, make_db
from toolkit import errors
from toolkit.diagnosis import diagnose
from toolkit.diagram import before_after, reference_diagram
from toolkit.migration import apply_030
from toolkit.safe_access import fingerprint
from toolkit.samples import HEADLINE

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def groups(root: ET.Element, kind: str) -> dict[str, ET.Element]:
    """The node or edge groups of a Graphviz SVG, by the id the toolkit gave them."""
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if kind in (g.get("class") or "").split()}


def text_of(group: ET.Element) -> str:
    return " ".join(t.text or "" for t in group.iter(f"{SVG}text"))


def stroke_colours(group: ET.Element) -> set[str]:
    return {p.get("stroke") for p in group.iter(f"{SVG}path")}


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True,
                          env=env)


@pytest.mark.parametrize("scenario", APP_FILES, ids=ids)
def test_every_sample_draws_a_well_formed_svg(scenario, sample):
    d = diagnose(sample(scenario.filename))
    diagram = reference_diagram(d)
    root = parse(diagram.svg())
    boxes = groups(root, "table")
    assert any("veo3_video_upscales" in text_of(g) for g in boxes.values())
    edges = groups(root, "fk")
    assert len(edges) == len(diagram.edges)
    assert (len(edges) == 0) == (scenario.state == "fixed")  # a fixed table has no references left to draw
    failing = {e.id for e in diagram.edges if e.failing}
    assert {i for i, g in edges.items() if "failing" in g.get("class")} == failing
    assert len(failing) == len(scenario.failing)  # one red edge per reference the insert fails on


def test_headline_red_edge_is_the_project_reference(sample):
    d = diagnose(sample(HEADLINE))
    diagram = reference_diagram(d)
    [edge] = diagram.failing_edges
    assert edge.columns == ["project_id"] and edge.failing == "missing-row"
    assert diagram.box_by_id(edge.parent).name == "veo3_projects"
    root = parse(diagram.svg())
    red = groups(root, "fk")[edge.id]
    assert "project_id" in text_of(red) and "fails: missing-row" in text_of(red)
    assert stroke_colours(red) == {"#c0392b"}
    others = [g for i, g in groups(root, "fk").items() if i != edge.id]
    assert others and all("#c0392b" not in stroke_colours(g) for g in others)
    # each edge says its ON DELETE action
    assert all("ON DELETE" in text_of(g) for g in groups(root, "fk").values())


def test_edges_say_on_update_and_deferred_when_declared(tmp_path):
    path = tmp_path / "deferred.db"
    make_db(path, """
        CREATE TABLE veo3_video_upscales (id TEXT PRIMARY KEY,
            a TEXT REFERENCES pa(id) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED,
            b TEXT REFERENCES pb(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE);
        CREATE TABLE pa (id TEXT PRIMARY KEY);
        CREATE TABLE pb (id TEXT PRIMARY KEY);
    """)
    diagram = reference_diagram(diagnose(path).schema)
    texts = {diagram.box_by_id(e.parent).name: text_of(groups(parse(diagram.svg()), "fk")[e.id])
             for e in diagram.edges}
    assert "ON UPDATE CASCADE" in texts["pa"] and "DEFERRABLE INITIALLY DEFERRED" in texts["pa"]
    # SQLite's defaults (ON UPDATE NO ACTION, checked at each statement) are not spelled out
    assert "ON DELETE CASCADE" in texts["pb"] and "ON UPDATE" not in texts["pb"] and "DEFERR" not in texts["pb"]


def test_dangling_reference_points_at_a_dashed_ghost_box(sample):
    d = diagnose(sample("cause_renamed_parent_dropped.db"))
    diagram = reference_diagram(d)
    ghost = diagram.box("veo3_video_generations_old")
    assert ghost is not None and ghost.ghost and ghost.rows is None
    root = parse(diagram.svg())
    ghost_group = groups(root, "table")[f"box-{ghost.id}"]
    assert "ghost" in ghost_group.get("class") and "missing table" in text_of(ghost_group)
    assert any(p.get("stroke-dasharray") for p in ghost_group.iter(f"{SVG}polygon"))
    [edge] = [e for e in diagram.edges if e.parent == ghost.id]
    assert edge.ghost and edge.failing == "parent-table-missing"


def test_parent_key_that_is_not_unique_is_marked(sample):
    diagram = reference_diagram(diagnose(sample("cause_parent_pk_dropped.db")))
    projects = diagram.box("veo3_projects")
    assert projects.not_unique == ["id"]
    root = parse(diagram.svg())
    assert "not unique" in text_of(groups(root, "table")[f"box-{projects.id}"])
    [edge] = diagram.failing_edges
    assert edge.not_unique and "parent key not unique" in text_of(groups(root, "fk")[edge.id])


def node_shapes(root: ET.Element) -> dict[str, list]:
    return {i: [(el.tag, el.get("points") or el.get("x")) for el in g if el.tag != f"{SVG}title"]
            for i, g in groups(root, "table").items()}


def test_before_and_after_share_a_layout_and_differ_exactly_by_the_dropped_references(sample, tmp_path):
    path = sample(HEADLINE)
    before = diagnose(path)
    fixed = apply_030(path, tmp_path / "fixed.db")
    pair = before_after(before, diagnose(fixed.output))
    b, a = parse(pair.before.svg()), parse(pair.after.svg())
    dropped = {e.id for e in pair.dropped}
    upscales = pair.before.box("veo3_video_upscales").id
    expected = {e.id for e in pair.before.edges if e.child == upscales and e.columns[0] in
                ("source_generation_id", "profile_id", "project_id")}
    assert dropped == expected and len(dropped) == 3
    assert set(groups(b, "fk")) - {i for i, g in groups(a, "fk").items() if "dropped" not in g.get("class")} == dropped
    assert all(not list(g.iter(f"{SVG}path")) for i, g in groups(a, "fk").items() if i in dropped)  # not drawn
    assert node_shapes(a) == node_shapes(b)  # every box exactly where it was
    page = pair.html()
    assert page.count("<svg") == 2 and "3 references dropped" in page and "1 failing reference" in page
    combined = parse(pair.svg())
    assert len(combined.findall(f"{SVG}g/{SVG}svg")) == 2  # before and after, side by side


HOSTILE = ['"; DROP TABLE x; --', "<script>alert(1)</script>", "a & b", "ünïcødé 表", "line\nbreak",
           "x" * 200, "]]><!--", "tab\tand\\back", "", " ", "é\u202e<b>"]


def hostile_file(path):
    conn = sqlite3.connect(path)
    q = lambda name: '"' + name.replace('"', '""') + '"'  # noqa: E731
    conn.execute(f"CREATE TABLE {q(HOSTILE[0])} (id TEXT PRIMARY KEY)")
    conn.execute(f"CREATE TABLE {q(HOSTILE[1])} ({q(HOSTILE[2])} TEXT PRIMARY KEY)")
    cols = ", ".join(f"{q(c)} TEXT" for c in HOSTILE[3:])
    conn.execute(f"CREATE TABLE veo3_video_upscales (id TEXT PRIMARY KEY, source_generation_id TEXT NOT NULL "
                 f"REFERENCES {q(HOSTILE[0])}(id), "
                 f"profile_id TEXT NOT NULL REFERENCES {q(HOSTILE[1])}({q(HOSTILE[2])}) "
                 f"ON DELETE CASCADE, project_id TEXT NOT NULL REFERENCES {q(HOSTILE[5])}(id), {cols}, "
                 f"FOREIGN KEY ({q(HOSTILE[3])}) REFERENCES {q(HOSTILE[4])}({q(HOSTILE[6])}))")
    conn.execute(f"CREATE TABLE {q(HOSTILE[7])} (u TEXT REFERENCES veo3_video_upscales(id) ON DELETE SET NULL)")
    # empty and blank names, and a right-to-left override, as a table, a column and a missing parent
    conn.execute(f"CREATE TABLE {q(HOSTILE[8])} ({q(HOSTILE[8])} TEXT REFERENCES veo3_video_upscales(id), "
                 f"{q(HOSTILE[9])} TEXT REFERENCES {q(HOSTILE[10])}(id))")
    conn.commit()
    conn.close()
    return path


def test_hostile_names_neither_break_the_picture_nor_inject_markup(tmp_path):
    path = hostile_file(tmp_path / "hostile.db")
    diagram = reference_diagram(diagnose(path))
    svg = diagram.svg()
    root = parse(svg)
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    words = " ".join(text_of(g) for g in groups(root, "table").values())
    for name in ('"; DROP TABLE x; --', "<script>alert(1)</script>", "a & b", "ünïcødé 表", "line\\x0abreak"):
        assert name in words, name
    assert "x" * 47 + "…" in words and "x" * 60 not in words  # long names shortened
    assert '""' in words  # the empty name, shown quoted
    assert len(groups(root, "table")) == 7  # four parents (two missing: ghosts), the table, two children
    wider = reference_diagram(diagnose(path), depth=2)
    assert len(groups(parse(wider.svg()), "table")) == 8  # two steps out: the empty-named child's missing parent


def test_large_schema_draws_only_the_neighbourhood(tmp_path):
    path = tmp_path / "wide.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE veo3_video_upscales (id TEXT PRIMARY KEY, project_id TEXT REFERENCES p0(id))")
    for i in range(300):  # a chain p0 <- p1 <- ... and a crowd of children of the upscale table
        conn.execute(f"CREATE TABLE p{i} (id TEXT PRIMARY KEY, up TEXT REFERENCES p{i + 1}(id))")
        conn.execute(f"CREATE TABLE child{i} (u TEXT REFERENCES veo3_video_upscales(id))")
    conn.commit()
    conn.close()
    info = diagnose(path).schema
    one = reference_diagram(info, depth=1, max_tables=400)
    assert {b.name for b in one.boxes} == {"veo3_video_upscales", "p0", *(f"child{i}" for i in range(300))}
    capped = reference_diagram(info, depth=1)
    assert len(capped.boxes) == 30 and capped.omitted == 272  # the table, p0 and 300 children: 302
    assert "+ 272 more tables not drawn" in " ".join(t.text or "" for t in parse(capped.svg()).iter(f"{SVG}text"))
    chain = {b.name for b in reference_diagram(info, table="p0", depth=3, max_tables=400).boxes}
    assert {"p0", "p1", "p2", "p3", "veo3_video_upscales", "child299"} <= chain and "p4" not in chain


def test_cli_writes_svg_png_and_pairs_and_leaves_the_original_alone(sample, tmp_path):
    path = sample(HEADLINE)
    before = fingerprint(path)
    run = run_cli("diagram", path, "--out", tmp_path / "d.svg")
    assert run.returncode == 0, run.stderr
    root = parse((tmp_path / "d.svg").read_text())
    assert [text_of(g) for g in groups(root, "fk").values() if "failing" in g.get("class")] != []
    run = run_cli("diagram", path, "--out", tmp_path / "d.png", "--depth", "2")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = run_cli("diagram", path, "--before-after", "--out", tmp_path / "pair.html")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "pair.html").read_text().count("<svg") == 2
    assert fingerprint(path) == before
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("args, code, words", [
    (["--out", "d.gif"], 2, "give --out a name ending in .svg"),
    (["--before-after", "--out", "d.png"], 2, "give --out a name ending in .svg or .html"),
    (["--table", "nope", "--out", "d.svg"], 2, "no table named 'nope'"),
    (["--depth", "-1", "--out", "d.svg"], 2, "--depth must be 0 or more"),
])
def test_cli_bad_requests_get_one_sentence(args, code, words, sample, tmp_path):
    run = subprocess.run([sys.executable, "-m", "toolkit", "diagram", str(sample(HEADLINE)), *args],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == code and words in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("d.*"))


def test_without_dot_every_command_still_works_and_the_diagram_says_how_to_install_it(sample, tmp_path):
    path = sample(HEADLINE)
    env = {**os.environ, "PATH": str(tmp_path / "empty")}  # no dot (nor anything else) on the PATH
    run = run_cli("diagram", path, "--out", tmp_path / "d.svg", env=env)
    assert run.returncode == errors.EXIT_MISSING_PROGRAM and "apt-get install graphviz" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "d.svg").exists()
    assert run_cli("diagnose", path, env=env).returncode == 1
    run = run_cli("report", path, "--out", tmp_path / "r.html", env=env)
    assert run.returncode == 0, run.stderr
    page = (tmp_path / "r.html").read_text()
    assert "Graphviz&#x27;s dot program is not installed" in page and "<svg" not in page


def test_report_carries_the_pair_inline(sample, tmp_path):
    from toolkit.report import write_report

    out = write_report(sample(HEADLINE), tmp_path / "r.html")
    page = out.read_text()
    section = page[page.index('id="diagram"'):]
    assert section.count("<svg") == 2 and "fails: missing&#45;row" in section  # dot escapes the hyphen
    assert not re.search(r"(src|href)=\"https?://", page)  # still one self-contained file


def test_without_dot_notebooks_and_pages_show_the_sentence_instead(sample, monkeypatch, tmp_path):
    from toolkit.diagram import diagram_html

    d = diagnose(sample(HEADLINE))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert reference_diagram(d).source().startswith("digraph")  # the diagram itself is built without dot
    for page in (reference_diagram(d)._repr_html_(), diagram_html(d), diagram_html(d, after=d.schema)):
        assert "Graphviz&#x27;s dot program is not installed" in page and "<svg" not in page
    with pytest.raises(errors.MissingProgramError, match="apt-get install graphviz"):
        reference_diagram(d).svg()


def test_composite_self_and_implicit_references(tmp_path):
    # a composite key holding project_id, a reference back to the table itself, an implicit parent
    # key in another spelling, WITHOUT ROWID: drawn, and red where the insert fails
    path = tmp_path / "odd.db"
    make_db(path, """
        CREATE TABLE profiles (id TEXT PRIMARY KEY);
        CREATE TABLE veo3_projects (id TEXT, owner TEXT, PRIMARY KEY (id, owner));
        CREATE TABLE veo3_video_generations (id TEXT PRIMARY KEY, profile_id TEXT, project_id TEXT, created_at TEXT);
        CREATE TABLE veo3_video_upscales (id TEXT PRIMARY KEY, source_generation_id TEXT NOT NULL
          REFERENCES veo3_video_generations(ID), profile_id TEXT NOT NULL REFERENCES Profiles, project_id TEXT
          NOT NULL, owner TEXT, parent TEXT REFERENCES veo3_video_upscales(id),
          FOREIGN KEY (project_id, owner) REFERENCES veo3_projects(id, owner)) WITHOUT ROWID;
        INSERT INTO veo3_video_generations VALUES ('g1', 'p1', 'j1', '2024');
    """)
    d = diagnose(path)
    diagram = reference_diagram(d)
    red = {tuple(e.columns): e.failing for e in diagram.failing_edges}
    # the app's insert leaves owner NULL, and a NULL in any key column means SQLite never checks the
    # composite key: only profile_id fails
    assert red == {("profile_id",): "missing-row"}
    project = next(r for r in d.insert_simulation.references if r.column == "project_id")
    assert project.reason == "ok" and "owner is NULL, so SQLite never checks" in project.explanation
    generations = next(e for e in diagram.edges if e.columns == ["source_generation_id"])
    assert generations.parent_columns == ["id"]  # REFERENCES ...(ID), as the parent spells it
    assert any(e.child == e.parent for e in diagram.edges)  # the reference to itself
    root = parse(diagram.svg())
    assert len(groups(root, "fk")) == 4 and len([g for g in groups(root, "fk").values()
                                                 if "failing" in g.get("class")]) == 1


# --------------------------------------------------------------------------- any app's file, any statement
#: A lending library, not the video app: text and integer keys, a composite deferred key, a
#: self-reference, ON UPDATE CASCADE, a WITHOUT ROWID parent.
LIBRARY = """
CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE book (isbn TEXT PRIMARY KEY, title TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES author(id),
    series_id INTEGER REFERENCES series(id) ON DELETE SET NULL ON UPDATE CASCADE);
CREATE TABLE branch (city TEXT, code TEXT, PRIMARY KEY (city, code)) WITHOUT ROWID;
CREATE TABLE copy (id INTEGER PRIMARY KEY, isbn TEXT NOT NULL REFERENCES book(isbn) ON DELETE CASCADE,
    city TEXT, code TEXT,
    FOREIGN KEY (city, code) REFERENCES branch(city, code) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE staff (id INTEGER PRIMARY KEY, name TEXT, manager_id INTEGER REFERENCES staff(id));
CREATE TABLE visitor (id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO author VALUES (1, 'Le Guin'), (2, 'Pratchett');
INSERT INTO series VALUES (1, 'Earthsea');
INSERT INTO book VALUES ('978-0', 'A Wizard of Earthsea', 1, 1), ('978-1', 'Mort', 2, NULL);
INSERT INTO branch VALUES ('Oslo', 'A'), ('Bergen', 'Z9');
INSERT INTO copy VALUES (1, '978-0', 'Oslo', 'A');
INSERT INTO staff VALUES (1, 'chief', NULL), (2, 'clerk', 1), (3, 'intern', 2);
"""
RED = "#c0392b"
PURPLE = "#7d3c98"


def library(tmp_path, extra: str = "", name: str = "library.db"):
    path = tmp_path / name
    make_db(path, LIBRARY + extra)
    return path


def replayed(path, text: str):
    """What the statements break, replayed as the toolkit does (on a safe copy)."""
    from toolkit.replay import replay
    from toolkit.safe_access import safe_connection
    from toolkit.schema import read_schema
    from toolkit.statements import parse_script

    with safe_connection(path) as (_, conn):
        return replay(conn, read_schema(conn, database=str(path)), parse_script(text, "--sql"), "--sql")


def legend_of(root: ET.Element) -> str:
    """The graph's own label (title and legend): the texts directly in its top group."""
    graph = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "graph")
    return " ".join(t.text or "" for t in graph.findall(f"{SVG}text"))


def red_edges(root: ET.Element) -> dict[str, ET.Element]:
    return {i: g for i, g in groups(root, "fk").items() if "failing" in g.get("class").split()}


def edge_named(diagram, child: str, columns: list[str]):
    return next(e for e in diagram.edges
                if diagram.box_by_id(e.child).name == child and e.columns == columns)


def test_a_statement_that_breaks_one_of_two_keys_draws_exactly_that_edge_red(tmp_path):
    path = library(tmp_path)
    sim = replayed(path, "INSERT INTO book VALUES ('978-2', 'Dune', 99, 1)")
    diagram = reference_diagram(diagnose(path), statement=sim)
    author = edge_named(diagram, "book", ["author_id"])
    series = edge_named(diagram, "book", ["series_id"])
    assert [e.id for e in diagram.failing_edges] == [author.id]
    # the dot source carries the colour and the label of that one edge
    source = diagram.source()
    [line] = [ln for ln in source.splitlines() if f'id="{author.id}"' in ln]
    assert f'color="{RED}"' in line and "fails: missing-row · 1 row at statement 1" in line
    root = parse(diagram.svg())
    red = red_edges(root)
    assert list(red) == [author.id] and stroke_colours(red[author.id]) == {RED}
    assert "author_id → id" in text_of(red[author.id])
    assert "fails: missing-row · 1 row at statement 1" in text_of(red[author.id])
    assert RED not in stroke_colours(groups(root, "fk")[series.id]) and "fails" not in text_of(
        groups(root, "fk")[series.id])
    assert "ON UPDATE CASCADE" in text_of(groups(root, "fk")[series.id])  # declared, so said
    legend = legend_of(root)
    assert "red: a reference statement 1 leaves broken" in legend and "app's insert" not in legend
    # the focus is what the statement names: the child and the parent, highlighted
    assert {b.name for b in diagram.boxes if b.focus} == {"book", "author"}


def test_rows_reasons_and_when_are_counted_per_edge(tmp_path):
    path = library(tmp_path)
    diagram = reference_diagram(diagnose(path), statement=replayed(path, "UPDATE book SET author_id = 77"))
    [edge] = diagram.failing_edges
    assert (edge.columns, edge.broken_rows, edge.when, edge.failing) == (["author_id"], 2, "statement 1",
                                                                         "missing-row")
    assert "fails: missing-row · 2 rows at statement 1" in text_of(red_edges(parse(diagram.svg()))[edge.id])


def test_more_broken_rows_than_the_simulation_lists_are_said_as_a_floor(tmp_path):
    from toolkit.replay import MAX_EXPLAINED

    many = "".join(f"INSERT INTO book VALUES ('x{i}', 't', 1, NULL);" for i in range(MAX_EXPLAINED + 10))
    path = library(tmp_path, many)
    sim = replayed(path, "UPDATE book SET author_id = 77")
    assert sim.violations_total > len(sim.violations)
    diagram = reference_diagram(diagnose(path), statement=sim)
    [edge] = diagram.failing_edges
    assert edge.more and f"at least {len(sim.violations)} rows at statement 1" in text_of(
        red_edges(parse(diagram.svg()))[edge.id])


def test_a_composite_deferred_key_is_red_at_commit(tmp_path):
    path = library(tmp_path)
    sim = replayed(path, "BEGIN; INSERT INTO copy VALUES (5, '978-0', 'Oslo', 'Z9'); COMMIT;")
    diagram = reference_diagram(diagnose(path), statement=sim)
    [edge] = diagram.failing_edges
    assert edge.columns == ["city", "code"] and edge.parent_columns == ["city", "code"] and edge.deferred
    assert diagram.box_by_id(edge.parent).name == "branch"
    root = parse(diagram.svg())
    words = text_of(red_edges(root)[edge.id])
    assert "city, code → city, code" in words and "DEFERRABLE INITIALLY DEFERRED" in words
    assert "fails: composite-partial · 1 row at COMMIT" in words
    assert "red: a reference COMMIT leaves broken" in legend_of(root)
    isbn = edge_named(diagram, "copy", ["isbn"])
    assert not isbn.failing and RED not in stroke_colours(groups(root, "fk")[isbn.id])


def test_a_self_reference_broken_by_a_delete_is_a_red_loop(tmp_path):
    path = library(tmp_path)
    diagram = reference_diagram(diagnose(path), statement=replayed(path, "DELETE FROM staff WHERE id = 1"))
    [edge] = diagram.failing_edges
    assert edge.child == edge.parent and diagram.box_by_id(edge.child).name == "staff"
    assert edge.failing == "parent-deleted"
    root = parse(diagram.svg())
    assert stroke_colours(red_edges(root)[edge.id]) == {RED}
    assert "manager_id → id" in text_of(red_edges(root)[edge.id])
    assert [b.name for b in diagram.boxes] == ["staff"]  # a table that refers only to itself


@pytest.mark.parametrize("text, legend", [
    ("INSERT INTO author VALUES (3, 'Banks')", "nothing red: SQLite accepts the statements with foreign keys on"),
    ("INSERT INTO book VALUES ('978-3', NULL, 1, 1)", "nothing red: statement 1 fails, but not on a foreign key"),
])
def test_a_statement_that_breaks_no_reference_says_so_and_draws_nothing_red(tmp_path, text, legend):
    path = library(tmp_path)
    diagram = reference_diagram(diagnose(path), statement=replayed(path, text))
    root = parse(diagram.svg())
    assert not diagram.failing_edges and not red_edges(root)
    assert legend in legend_of(root)


def test_a_file_of_another_app_without_a_table_asked_for_draws_its_tables_with_foreign_keys(tmp_path):
    path = library(tmp_path)
    diagram = reference_diagram(diagnose(path))
    names = {b.name for b in diagram.boxes}
    # every table with a foreign key and its parents; a table with no reference is left out
    assert names == {"book", "author", "series", "copy", "branch", "staff"}
    assert not any(b.focus for b in diagram.boxes) and not diagram.failing_edges
    root = parse(diagram.svg())
    assert len(groups(root, "fk")) == 5 and not red_edges(root)
    legend = legend_of(root)
    assert "library.db: the tables with foreign keys" in legend
    assert "nothing red: no statement given" in legend and "insert" not in legend
    capped = reference_diagram(diagnose(path), max_tables=2)
    assert len(capped.boxes) == 2 and capped.omitted == 4


def test_rows_that_already_violate_a_key_are_purple_apart_from_red(tmp_path):
    orphans = "PRAGMA foreign_keys = OFF; INSERT INTO copy VALUES (7, 'gone', NULL, NULL), (8, 'lost', NULL, NULL);"
    path = library(tmp_path, orphans)
    d = diagnose(path)
    diagram = reference_diagram(d)
    isbn = edge_named(diagram, "copy", ["isbn"])
    assert isbn.already == 2 and not isbn.failing
    root = parse(diagram.svg())
    assert stroke_colours(groups(root, "fk")[isbn.id]) == {PURPLE}
    assert "2 rows already violate it" in text_of(groups(root, "fk")[isbn.id])
    assert "purple: rows already violate it" in legend_of(root)
    # with a statement, its own breakage is red and the rows from before stay purple
    sim = replayed(path, "INSERT INTO book VALUES ('978-2', 'Dune', 99, 1)")
    both = reference_diagram(d, statement=sim, table="book")
    assert [e.columns for e in both.failing_edges] == [["author_id"]]
    assert edge_named(both, "copy", ["isbn"]).already == 2


def test_a_file_without_foreign_keys_draws_its_tables(tmp_path):
    from toolkit.diagram import drawing_of

    path = tmp_path / "flat.db"
    make_db(path, "CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (x TEXT);")
    d = diagnose(path)
    diagram = reference_diagram(d)
    assert {b.name for b in diagram.boxes} == {"a", "b"} and not diagram.edges
    assert "flat.db: no table has a foreign key" in legend_of(parse(diagram.svg()))
    assert drawing_of(d) is None  # a report has no picture to show for it
    assert drawing_of(diagnose(library(tmp_path))) is not None  # but any file with references has one


def test_the_video_apps_insert_keeps_its_own_legend(sample):
    root = parse(reference_diagram(diagnose(sample(HEADLINE))).svg())
    legend = legend_of(root)
    assert "red: the app's insert fails on this reference" in legend and "statement" not in legend


WEIRD_PARENT = 'shelf "A" <main> & co'
WEIRD_KEY = 'the "code" <x> & y'
WEIRD_CHILD = "loan items"


def weird_file(tmp_path):
    path = tmp_path / "weird.db"
    conn = sqlite3.connect(path)
    q = lambda name: '"' + name.replace('"', '""') + '"'  # noqa: E731
    conn.executescript(f"""
        CREATE TABLE {q(WEIRD_PARENT)} ({q(WEIRD_KEY)} TEXT PRIMARY KEY);
        CREATE TABLE {q(WEIRD_CHILD)} (id INTEGER PRIMARY KEY, {q("shelf's code")} TEXT
            REFERENCES {q(WEIRD_PARENT)}({q(WEIRD_KEY)}));
        INSERT INTO {q(WEIRD_PARENT)} VALUES ('S1');
    """)
    conn.close()
    return path, f"INSERT INTO {q(WEIRD_CHILD)} VALUES (1, 'S2')"


def test_names_with_spaces_quotes_and_markup_are_escaped_on_the_red_edge(tmp_path):
    path, statement = weird_file(tmp_path)
    diagram = reference_diagram(diagnose(path), statement=replayed(path, statement))
    svg = diagram.svg()
    root = parse(svg)  # well-formed: nothing the names hold became markup
    assert "<main>" not in svg and "<x>" not in svg and "&lt;main&gt;" in svg
    [red] = red_edges(root).values()
    assert f"shelf's code → {WEIRD_KEY}" in text_of(red) and stroke_colours(red) == {RED}
    words = " ".join(text_of(g) for g in groups(root, "table").values())
    assert WEIRD_PARENT in words and WEIRD_CHILD in words
    assert WEIRD_PARENT in legend_of(root)  # the title names the tables the statement breaks


def test_cli_draws_a_statement_as_svg_and_html_and_leaves_the_original_alone(tmp_path):
    path = library(tmp_path)
    before = fingerprint(path)
    run = run_cli("diagram", path, "--out", tmp_path / "d.svg", "--sql",
                  "INSERT INTO book VALUES ('978-2', 'Dune', 99, 1)")
    assert run.returncode == 0, run.stderr
    root = parse((tmp_path / "d.svg").read_text())
    [red] = red_edges(root).values()
    assert "author_id → id" in text_of(red) and "fails: missing-row · 1 row at statement 1" in text_of(red)
    assert "red: a reference statement 1 leaves broken" in legend_of(root)
    (tmp_path / "tx.sql").write_text("BEGIN;\nINSERT INTO copy VALUES (5, '978-0', 'Oslo', 'Z9');\nCOMMIT;\n")
    run = run_cli("diagram", path, "--out", tmp_path / "d.html", "--sql-file", tmp_path / "tx.sql")
    assert run.returncode == 0, run.stderr
    page = (tmp_path / "d.html").read_text()
    root = parse(page[page.index("<svg"):])
    [red] = red_edges(root).values()
    assert "fails: composite-partial · 1 row at COMMIT" in text_of(red)
    assert "red: a reference COMMIT leaves broken" in legend_of(root)
    run = run_cli("diagram", path, "--out", tmp_path / "all.svg")  # no statement, no --table: not refused
    assert run.returncode == 0, run.stderr
    assert "nothing red: no statement given" in legend_of(parse((tmp_path / "all.svg").read_text()))
    assert fingerprint(path) == before
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("args, words", [
    (["--sql", "ATTACH DATABASE 'x.db' AS x"], "ATTACH"),
    (["--sql", "INSERT INTO book VALUES ("], "--sql"),
    (["--sql-file", "missing.sql"], "--sql-file missing.sql cannot be read"),
    (["--sql", "DELETE FROM staff", "--before-after"], "--before-after"),
])
def test_cli_refuses_a_bad_statement_in_one_sentence(tmp_path, args, words):
    path = library(tmp_path)
    run = subprocess.run([sys.executable, "-m", "toolkit", "diagram", str(path), "--out", "d.svg", *args],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2 and words in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "d.svg").exists()


def test_a_reference_to_a_dropped_table_is_red_and_points_at_the_ghost(tmp_path):
    path = library(tmp_path, "CREATE TABLE review (id INTEGER PRIMARY KEY, isbn TEXT REFERENCES book_old(isbn));")
    diagram = reference_diagram(diagnose(path), statement=replayed(path, "INSERT INTO review VALUES (1, '978-0')"))
    [edge] = diagram.failing_edges
    ghost = diagram.box_by_id(edge.parent)
    assert ghost.name == "book_old" and ghost.ghost and edge.ghost and edge.failing == "parent-table-missing"
    root = parse(diagram.svg())
    red = red_edges(root)[edge.id]
    assert stroke_colours(red) == {RED} and any(p.get("stroke-dasharray") for p in red.iter(f"{SVG}path"))
    assert "missing table" in text_of(groups(root, "table")[f"box-{ghost.id}"])


def test_the_after_side_has_a_legend_of_its_own_and_the_same_layout(sample, tmp_path):
    """Nothing is red after migration 030: the after side's legend says what a struck-out FK means."""
    path = sample(HEADLINE)
    fixed = apply_030(path, tmp_path / "fixed.db")
    pair = before_after(diagnose(path), diagnose(fixed.output))
    b, a = parse(pair.before.svg()), parse(pair.after.svg())
    assert "red: the app's insert fails on this reference" in legend_of(b)
    after = legend_of(a)
    assert "struck-out FK: its reference dropped by 030, not drawn" in after and "red:" not in after
    assert "orange: parent key not unique" in after and not red_edges(a)
    assert node_shapes(a) == node_shapes(b)  # a legend of its own moves no box
