"""Every notebook executes headless against the samples, and says what it should."""
import html
import json
import re
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, SCENARIOS, ids
from toolkit.nbrun import NOTEBOOKS_DIR, error_outputs, execute

NOTEBOOKS = sorted(p.name for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def text_of(nb, snippet: str) -> str:
    """Everything the first cell whose source contains `snippet` produced, as text."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and snippet in c.source)
    parts = []
    for o in cell.outputs:
        if "text" in o:
            parts.append(o["text"])
        for kind in ("text/plain", "text/markdown", "text/html"):
            if kind in o.get("data", {}):
                parts.append(o["data"][kind])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {}):
            parts.append("<widget>")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    cache = {}

    def run(name, **parameters):
        key = (name, json.dumps(parameters, sort_keys=True))
        if key not in cache:
            cache[key] = execute(NOTEBOOKS_DIR / name, parameters=parameters)
        return cache[key]
    return run


def test_the_expected_notebooks_exist_numbered_in_reading_order():
    assert [n[:3] for n in NOTEBOOKS] == ["00_", "01_", "02_", "03_", "04_", "05_"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebooks_are_stripped_and_open_and_close_properly(name):
    nb = nbformat.read(NOTEBOOKS_DIR / name, 4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.cells[-1].cell_type == "markdown" and "next" in nb.cells[-1].source.lower()
    for c in nb.cells:
        if c.cell_type == "code":
            # logic lives in the package: short cells, no definitions; the SQL a learner edits and
            # re-runs (a `run(...)` of sqlcells) belongs in the cell
            assert len(c.source.splitlines()) <= (25 if "run(" in c.source else 6), c.source
            assert "def " not in c.source and "class " not in c.source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_runs_without_error(executed, name):
    nb = executed(name)
    assert error_outputs(nb) == []


def test_01_shows_the_strict_table_and_a_dangling_reference(executed):
    nb = executed("01_inspect_schema.ipynb")
    assert "veo3_video_upscales" in text_of(nb, "info.tables_frame()")
    assert "veo3_video_generations_old" in text_of(nb, "cause_renamed_parent_dropped")
    assert "<widget>" in text_of(nb, "schema_explorer()")
    assert text_of(nb, "reference_diagram(info)").count('class="node table') == 4
    ghost = text_of(nb, "reference_diagram(inspect(")
    assert 'class="node table ghost"' in ghost and "veo3_video_generations_old" in ghost


def test_02_names_project_id_for_the_headline_sample(executed):
    nb = executed("02_reproduce_and_diagnose.ipynb")
    saw = text_of(nb, "what_the_customer_saw(samples_dir()")
    assert "Database constraint error - ensure referenced records exist" in saw
    assert text_of(nb, "print(d.answer)").startswith("The insert fails because project_id")
    refs = text_of(nb, "d.references_frame()")
    assert "missing-row" in refs and "project_id" in refs
    drawn = text_of(nb, "reference_diagram(d)")
    assert drawn.count('class="edge fk failing"') == 1 and "fails: missing&#45;row" in drawn
    table = text_of(nb, "scenario_table()")
    for reason in ("type-mismatch", "near-miss", "parent-table-missing", "parent-key-not-unique"):
        assert reason in table


def test_03_shows_the_three_columns_nullable_after(executed):
    nb = executed("03_apply_030_and_compare.ipynb")
    proof = text_of(nb, "result.proof")
    assert "columns_nullable=True" in proof and "data_identical=True" in proof
    changes = text_of(nb, "c.schema_frame()")
    for column in ("source_generation_id", "profile_id", "project_id"):
        assert column in changes
    assert "TEXT NOT NULL" in changes
    assert "UPDATE sqlite_schema SET sql" in text_of(nb, "print(result.sql)")
    pair = text_of(nb, "before_after(")
    before, after = pair.split('data-side="after"')
    assert pair.count("<svg") == 2 and "3 references dropped" in pair
    assert after.count('class="edge fk') == before.count('class="edge fk') - 3  # the dropped ones are not drawn


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids)
def test_04_triage_runs_for_every_sample_and_bad_file(executed, scenario):
    from toolkit.samples import SAMPLES_DIR

    nb = executed("04_triage_customer_file.ipynb", db_path=str(SAMPLES_DIR / scenario.filename))
    assert error_outputs(nb) == []
    summary = text_of(nb, "triage_case(")
    if scenario.error:
        assert "Cannot triage" in summary and scenario.error in summary
    elif scenario.state == "no-upscales-table":
        assert f"{scenario.filename} is healthy" in summary and "no application profile applies" in summary
    else:
        assert f"state: `{scenario.state}`" in summary
        for column in scenario.failing:
            assert column in summary
    if scenario.state in ("strict", "partially-relaxed"):
        assert "UPDATE sqlite_schema SET sql" in text_of(nb, "print(case.sql)")


def test_04_on_a_missing_path_gives_a_message_not_a_traceback(executed, tmp_path):
    nb = executed("04_triage_customer_file.ipynb", db_path=str(tmp_path / "nope.db"))
    assert error_outputs(nb) == [] and "does not exist" in text_of(nb, "triage_case(")


@pytest.fixture(scope="module")
def any_database(executed, tmp_path_factory):
    """Notebook 05, its files built in a folder of the test's (the `workdir` parameter)."""
    workdir = tmp_path_factory.mktemp("any-database")
    return executed("05_any_database.ipynb", workdir=str(workdir)), workdir


def test_05_builds_the_readers_schema_in_the_workdir_and_only_reads_it_afterwards(any_database):
    nb, workdir = any_database
    assert error_outputs(nb) == []
    assert text_of(nb, "print(db)").strip() == str(workdir / "shop.db")
    assert sorted(p.name for p in workdir.iterdir()) == ["shop.db", "shop_integer_sku.db"]
    with closing(sqlite3.connect(workdir / "shop.db")) as conn:
        # the statements ran on copies: the rows are the ones section 1 wrote; section 5 added a table
        counts = conn.execute("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), "
                              "(SELECT count(*) FROM order_items), (SELECT count(*) FROM reviews)").fetchone()
    assert counts == (2, 2, 2, 0)
    keys = text_of(nb, "foreign_keys_frame()")
    assert "deferrable-initially-deferred" in keys and "CASCADE" in keys
    assert "shop.db is healthy: its 3 foreign key(s)" in text_of(nb, "print(diagnose(db).answer)")
    assert "orders, lines left: (1, 1)" in text_of(nb, "DELETE FROM customers")


def test_05_shows_sqlites_bare_message_then_the_row_and_reason(any_database):
    nb, _ = any_database
    bare = text_of(nb, "conn.executescript(CHECKOUT)")
    assert bare.strip() == "IntegrityError (SQLITE_CONSTRAINT_FOREIGNKEY): FOREIGN KEY constraint failed"
    assert "foreign_keys = 1" in text_of(nb, 'conn.execute("PRAGMA foreign_keys = ON")')
    answer = text_of(nb, "d = diagnose(db, sql=CHECKOUT)")
    assert answer.startswith("Statement 2 (INSERT INTO orders") and "1 row of orders" in answer
    table = text_of(nb, "HTML(frame_html(d.violations_frame()))")  # the first such cell: the checkout's
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table)
    assert cells == ["orders", "3", "customer_id", "&#39;cus_0003&#39;", "customers(id)", "missing-row",
                     "statement 2", "customer_id &#39;cus_0003&#39; has no row in customers"]
    cli = text_of(nb, "-m toolkit diagnose")
    assert cli.startswith("Statement 2 (INSERT INTO orders") and "missing-row" in cli
    assert "orders row 3: customer_id 'cus_0003' has no row in customers" in cli and "exit code 1" in cli


def test_05_draws_the_broken_reference_or_says_why_not(any_database):
    from toolkit.diagram import INSTALL_DOT, dot_available

    drawn = text_of(any_database[0], "reference_diagram(d, statement=d.statement_simulation)")
    if dot_available():
        assert drawn.count('class="edge fk failing"') == 1 and "fails: missing&#45;row" in drawn
    else:
        assert html.escape(INSTALL_DOT) in drawn


def test_05_type_mismatch_the_parents_affinity_decides(any_database):
    nb, _ = any_database
    stored = text_of(nb, "typeof(sku)")
    assert "shop.db [(5, 'integer'), (7, 'integer')]" in stored
    assert "shop_integer_sku.db [(5, 'integer'), (7, 'integer')]" in stored
    verdicts = text_of(nb, "primer.attempt_script(path, TEXT_SKU)")
    assert "shop.db -> IntegrityError: FOREIGN KEY constraint failed" in verdicts
    assert "shop_integer_sku.db -> succeeded" in verdicts
    table = text_of(nb, "d = diagnose(db, sql=TEXT_SKU)")
    assert "type-mismatch" in table and "products.sku has no type affinity" in table and "…" not in table
    assert "SQLite accepts the 1 statement(s)" in text_of(nb, "diagnose(typed, sql=TEXT_SKU)")


def test_05_deferred_key_fails_at_commit_not_at_the_insert(any_database):
    nb, _ = any_database
    steps = [line.rsplit("->", 1) for line in text_of(nb, 'for statement in ("BEGIN", ITEM').splitlines()]
    assert [(s.split()[0], verdict.strip()) for s, verdict in steps] == [
        ("BEGIN", "succeeded"), ("INSERT", "succeeded"), ("COMMIT", "IntegrityError: FOREIGN KEY constraint failed")]
    at_commit = text_of(nb, 'd = diagnose(db, sql=f"BEGIN; {ITEM}; COMMIT;")')
    assert at_commit.startswith("The script fails at COMMIT") and "fails_at: commit | failed statement: 3" in at_commit
    assert "missing-row" in at_commit and "<td" in at_commit and "COMMIT</td>" in at_commit
    assert "order_id 3 has no row in orders" in at_commit
    assert text_of(nb, "LATE_PARENT}; COMMIT;").strip() == "succeeded"


def test_05_an_error_message_names_the_declaration_at_fault(any_database):
    nb, _ = any_database
    mismatch = 'OperationalError: foreign key mismatch - "reviews" referencing "products"'
    assert text_of(nb, "outcome = primer.attempt_script(db, REVIEW)").strip() == mismatch
    answer = text_of(nb, "diagnose(db, error_message=outcome.error)")
    assert "comes from reviews(product_name) REFERENCES products(name)" in answer
    assert "neither its PRIMARY KEY nor UNIQUE" in answer
    assert text_of(nb, "CREATE UNIQUE INDEX products_name").strip() == "succeeded"


def test_05_reruns_without_a_workdir_into_a_fresh_temporary_folder(executed):
    nb = executed("05_any_database.ipynb")
    path = Path(text_of(nb, "print(db)").strip())
    assert path.name == "shop.db" and path.parent.name.startswith("fk-shop-")
    assert Path(tempfile.gettempdir()) in path.parents and REPO not in path.parents
    shutil.rmtree(path.parent)


def test_readme_explains_the_outputs_decision():
    assert "make notebooks" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_is_in_the_readme_and_in_every_notebooks_navigation(name):
    assert f"| `{name.removesuffix('.ipynb')}` |" in (REPO / "README.md").read_text()
    for other in NOTEBOOKS:
        assert f"]({name})" in nbformat.read(NOTEBOOKS_DIR / other, 4).cells[0].source, other


PRIMER = "00_foreign_keys_primer.ipynb"
FK_FAILED = "IntegrityError: FOREIGN KEY constraint failed"
FK_MISMATCH = 'OperationalError: foreign key mismatch - "track" referencing "artist"'


def sqlite_said(nb, snippet: str) -> list[str]:
    """What SQLite answered to each statement of the sqlcells run shown by the first cell whose source holds
    `snippet` (its text form puts '  -> answer' under each statement)."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and snippet in c.source)
    plain = "".join(o["data"]["text/plain"] for o in cell.outputs if "text/plain" in o.get("data", {}))
    return [line.removeprefix("  -> ") for line in plain.splitlines() if line.startswith("  -> ")]


def test_00_the_running_example_is_made_in_the_notebook_and_the_check_refuses_orphans(executed):
    nb = executed(PRIMER)
    assert sqlite_said(nb, "artistid    INTEGER PRIMARY KEY") == ["ok"] * 4 + [f"'{sqlite3.sqlite_version}'", "1"]
    assert sqlite_said(nb, "'Sammy Davis Jr.'") == [FK_FAILED, FK_FAILED, "ok", "ok"]


def test_00_a_null_key_is_never_checked_not_even_one_column_of_a_composite_key(executed):
    nb = executed(PRIMER)
    assert sqlite_said(nb, "WHERE trackartist IS NULL;") == ["ok", "15, 'Yesterday', NULL", "(no rows)"]
    assert sqlite_said(nb, "albums = scratch()") == ["ok", "ok", "ok", FK_FAILED]


def test_00_the_parent_columns_affinity_decides_and_an_untyped_parent_compares_as_stored(executed):
    nb = executed(PRIMER)
    assert sqlite_said(nb, "texts = scratch()") == ["ok"] * 4 + ["17, 'integer'", "'17', 'text'"]
    untyped = sqlite_said(nb, "untyped = scratch()")
    assert untyped == ["ok"] * 3 + [FK_FAILED, FK_FAILED, "'17', 'text'", "ok", "ok", "17, 'integer'"]


def test_00_the_parent_columns_collation_decides_and_the_childs_is_ignored(executed):
    nb = executed(PRIMER)
    assert sqlite_said(nb, "nocase = scratch()") == ["ok"] * 4
    assert sqlite_said(nb, "binary = scratch()") == ["ok"] * 3 + [FK_FAILED]


def test_00_orphans_stay_only_key_writes_are_checked_and_integrity_check_says_ok(executed):
    said = sqlite_said(executed(PRIMER), "(16, 'Volare', 4)")
    assert said[:-1] == ["ok"] * 5 + [FK_FAILED, "'ok'", "'track', 3, 'artist', 0; 'track', 6, 'artist', 0"]
    rows = said[-1].split("; ")  # rowids 3 and 6, named by foreign_key_check, are tracks 13 and 16
    assert "3, 13, 'My Way (live)', 2" in rows and "6, 16, 'Volare', 4" in rows


def test_00_enforcement_is_per_connection_and_a_no_op_inside_a_transaction_or_savepoint(executed):
    nb = executed(PRIMER)
    assert sqlite_said(nb, "run(shared.first") == ["ok", "ok", "ok", "1", FK_FAILED]
    assert sqlite_said(nb, "run(shared.second") == ["0", "ok", "11, 'That''s Amore', 1"]
    assert sqlite_said(nb, "pragma_compile_options") == ["(no rows)"]  # this build's default is OFF
    inside, savepoint, outside = ["ok", "ok", "1", FK_FAILED, "ok"], ["ok", "ok", "1", FK_FAILED, "ok"], ["ok", "0"]
    assert sqlite_said(nb, "SAVEPOINT load") == inside + savepoint + outside + ["ok"]


def test_00_rename_rewrites_references_unless_keys_are_off_and_legacy_alter_table_on(executed):
    nb = executed(PRIMER)
    schemas = [s for s in sqlite_said(nb, "renames = scratch()") if s.startswith("'CREATE TABLE track")]
    assert [re.search(r"REFERENCES (\S+)\(", s).group(1) for s in schemas] == ['"artist_a"', '"artist_b"',
                                                                              '"artist_b"']
    shortcut = sqlite_said(nb, "shortcut = scratch(")
    assert 'REFERENCES "artist_old"(artistid)' in shortcut[-3]
    assert shortcut[-1] == "OperationalError: no such table: main.artist_old"
    twelve_step = sqlite_said(nb, "twelve_step = scratch(")
    assert "REFERENCES artist(artistid)" in twelve_step[-4] and twelve_step[-2:] == ["ok", "(no rows)"]


def test_00_mismatch_only_where_the_key_is_needed_and_a_unique_index_of_the_same_collation_cures_it(executed):
    nb = executed(PRIMER)
    said = sqlite_said(nb, "names = scratch()\nrun(names")
    # the child's key written, another column of it, a child deleted, the parent's key, a parent deleted, the check
    assert said[6:] == [FK_MISMATCH, FK_MISMATCH, "ok", FK_MISMATCH, FK_MISMATCH, FK_MISMATCH, FK_MISMATCH]
    assert sqlite_said(nb, "artist_name_nocase ON artist(artistname COLLATE NOCASE)") == ["ok", FK_MISMATCH, "ok"]
    assert sqlite_said(nb, "(13, 'Volare', 'Dean Martin')") == ["ok", "ok", FK_FAILED, "(no rows)"]


def test_00_not_null_plays_no_part_in_the_foreign_key_check(executed):
    said = sqlite_said(executed(PRIMER), "seed = scratch()")
    assert said == ["ok"] * 3 + [FK_FAILED, FK_FAILED, "IntegrityError: NOT NULL constraint failed: track.trackartist",
                                 "ok"]


@pytest.mark.parametrize("exercise", ["NEW_ARTIST", "FIND_ORPHANS", "FIX_MISMATCH"])
def test_00_every_exercise_is_checked_and_its_committed_answer_passes(executed, exercise):
    nb = executed(PRIMER)
    checked = text_of(nb, f"primer.check(primer.Exercise.{exercise}, answer)")
    assert checked.startswith("Yes: ") and "Not yet" not in checked
    cells = [c.source for c in nb.cells]
    answer = cells.index(next(s for s in cells if f"primer.Exercise.{exercise}," in s)) - 1
    assert cells[answer].startswith('answer = """')  # the learner's cell sits right above its checker
