"""The reference diagram: real Graphviz on real sample files, the SVG read back as XML."""
import os
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import APP_FILES, ids
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
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE veo3_video_upscales (id TEXT PRIMARY KEY,
            a TEXT REFERENCES pa(id) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED,
            b TEXT REFERENCES pb(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE);
        CREATE TABLE pa (id TEXT PRIMARY KEY);
        CREATE TABLE pb (id TEXT PRIMARY KEY);
    """)
    conn.close()
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
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE profiles (id TEXT PRIMARY KEY);
        CREATE TABLE veo3_projects (id TEXT, owner TEXT, PRIMARY KEY (id, owner));
        CREATE TABLE veo3_video_generations (id TEXT PRIMARY KEY, profile_id TEXT, project_id TEXT, created_at TEXT);
        CREATE TABLE veo3_video_upscales (id TEXT PRIMARY KEY, source_generation_id TEXT NOT NULL
          REFERENCES veo3_video_generations(ID), profile_id TEXT NOT NULL REFERENCES Profiles, project_id TEXT
          NOT NULL, owner TEXT, parent TEXT REFERENCES veo3_video_upscales(id),
          FOREIGN KEY (project_id, owner) REFERENCES veo3_projects(id, owner)) WITHOUT ROWID;
        INSERT INTO veo3_video_generations VALUES ('g1', 'p1', 'j1', '2024');
    """)
    conn.close()
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
