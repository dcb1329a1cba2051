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
    assert [n[:3] for n in NOTEBOOKS] == ["00_", "01_", "02_", "03_", "04_", "05_", "06_"]


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


# --------------------------------------------------------------------------- 06: actions and deferred keys
NB06 = "06_actions_and_deferred_keys.ipynb"


def sqlite_says(nb, snippet: str) -> list[str]:
    """SQLite's answer to each statement of the first `run(...)` cell whose source contains `snippet`, in
    order (the SqlRun's plain-text form: each statement, then `  -> ` and the answer)."""
    plain = next(o["data"]["text/plain"] for c in nb.cells if c.cell_type == "code" and snippet in c.source
                 for o in c.outputs if "text/plain" in o.get("data", {}))
    return [line.removeprefix("  -> ") for line in plain.splitlines() if line.startswith("  -> ")]


FK_FAILED = "IntegrityError: FOREIGN KEY constraint failed"


def test_06_runs_on_the_sqlite_the_tests_run(executed):
    nb = executed(NB06)
    assert error_outputs(nb) == []
    assert sqlite_says(nb, "sqlite_version()") == [f"'{sqlite3.sqlite_version}'"]


def test_06_cascade_carries_the_new_key_and_deletes_the_children(executed):
    says = sqlite_says(executed(NB06), "ON DELETE CASCADE ON UPDATE CASCADE")
    assert says[4] == "11, 'That''s Amore', 1; 12, 'Christmas Blues', 1; 13, 'My Way', 2"  # before
    assert says[5:7] == ["ok", "ok"]
    assert says[7] == "11, 'That''s Amore', 100; 12, 'Christmas Blues', 100"  # after


def test_06_set_null_into_not_null_fails_the_delete_and_set_default_needs_its_parent(executed):
    nb = executed(NB06)
    says = sqlite_says(nb, "NOT NULL REFERENCES artist(artistid) ON DELETE SET NULL")
    assert says[4:] == ["IntegrityError: NOT NULL constraint failed: track.trackartist", "1, 'Dean Martin'",
                        "11, 'That''s Amore', 1"]
    says = sqlite_says(nb, "ON DELETE SET DEFAULT")
    assert says[4:] == [FK_FAILED, "ok", "ok", "14, 'Mr. Bojangles', 0"]


def test_06_restrict_fires_at_once_even_when_deferred_no_action_waits(executed):
    nb = executed(NB06)
    restrict = sqlite_says(nb, "ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED")
    assert restrict[4:] == ["ok", FK_FAILED, "ok", "ok", "1, 'Dean Martin'"]
    no_action = sqlite_says(nb, "ON DELETE NO ACTION DEFERRABLE INITIALLY DEFERRED")
    assert no_action[4:] == ["ok", "ok", "ok", "ok", "(no rows)"]


def test_06_drop_table_parent_deletes_the_children_or_fails(executed):
    nb = executed(NB06)
    assert sqlite_says(nb, "DROP TABLE artist;\nSELECT * FROM track;")[4:] == ["ok", "(no rows)"]
    says = sqlite_says(nb, "PRAGMA foreign_keys = OFF;\nDROP TABLE artist;")
    assert says[4:] == [FK_FAILED, "ok", "ok", "ok", "11, 'That''s Amore', 1",
                        "OperationalError: no such table: main.artist"]


def test_06_insert_or_replace_on_a_parent_deletes_its_cascade_children(executed):
    says = sqlite_says(executed(NB06), "INSERT OR REPLACE INTO artist")
    assert says[4:7] == ["ok", "1, 'Dean Martin (Dino)'", "(no rows)"]
    assert says[7:] == ["ok", "ok", "11, 'That''s Amore', 1"]  # the upsert leaves the track


def test_06_deferred_key_fails_at_commit_naming_nothing_and_foreign_key_check_names_the_row(executed):
    nb = executed(NB06)
    says = sqlite_says(nb, "PRAGMA foreign_key_check;\nROLLBACK;")
    assert says[2:] == ["ok", "ok", FK_FAILED, "'track', 14, 'artist', 0", "ok", FK_FAILED]
    cli = text_of(nb, "-m toolkit diagnose")
    assert cli.startswith("The script fails at COMMIT with FOREIGN KEY constraint failed")
    assert "track row 14: trackartist 3 has no row in artist" in cli and "exit code 1" in cli


def test_06_defer_foreign_keys_defers_an_immediate_key_for_one_transaction(executed):
    says = sqlite_says(executed(NB06), "PRAGMA defer_foreign_keys = ON;\nUPDATE")
    assert says[4:] == [FK_FAILED, "ok", "ok", "ok", "ok", "ok", "0",
                        "11, 'That''s Amore', 100; 12, 'Christmas Blues', 100"]


def test_06_composite_key_one_null_skips_the_check_and_the_parent_needs_unique_over_exactly_its_columns(executed):
    nb = executed(NB06)
    says = sqlite_says(nb, "PRIMARY KEY (albumartist, albumname)")
    assert says[2:] == ["ok", "ok", FK_FAILED, "ok", "(no rows)",
                        "1, 'Dean Martin', 'Dream With Dean', 'I''m Confessin'''; 3, 'Frank Sinatra', NULL, 'My Way'"]
    says = sqlite_says(nb, "UNIQUE (albumartist)")
    assert says[2:] == ["ok", 'OperationalError: foreign key mismatch - "song" referencing "album"', "ok", "ok"]


def test_06_the_child_key_without_an_index_scans_the_child_table(executed):
    nb = executed(NB06)
    assert sqlite_says(nb, "WITH RECURSIVE")[-1].endswith("'SCAN track'")
    assert sqlite_says(nb, "CREATE INDEX trackindex")[-1].endswith(
        "'SEARCH track USING COVERING INDEX trackindex (trackartist=?)'")
    before = int(re.search(r"([\d,]+) instructions", text_of(nb, "before = vdbe_steps")).group(1).replace(",", ""))
    after = int(re.search(r"([\d,]+) instructions", text_of(nb, "after = vdbe_steps")).group(1).replace(",", ""))
    assert before > 50_000 > 100 > after
    findings = text_of(nb, "frame_html(findings")
    assert "unindexed-child-key" in findings and "No index of track can look up trackartist" in findings


def test_06_exercises_start_wrong_and_say_why(executed):
    nb = executed(NB06)
    assert text_of(nb, "check_tracks_kept(answer)").startswith("Not yet: the DELETE took the tracks with it")
    first = text_of(nb, "check_child_first(answer)")
    assert first.startswith("Not yet: SQLite refused `INSERT INTO track") and "FOREIGN KEY constraint failed" in first
    assert text_of(nb, "check_child_index(answer)").startswith("Not yet: the DELETE's plan still reads all of track")


def test_06_keys_cannot_point_into_an_attached_database(executed):
    says = sqlite_says(executed(NB06), "ATTACH ':memory:' AS other")
    assert says[3] == 'OperationalError: near ".": syntax error'
    assert says[4:] == ["ok", "1, 'Dean Martin'", "OperationalError: no such table: main.artist",
                        "ok", "ok", "ok", "'track', 1, 'artist', 0", "ok", "ok", FK_FAILED]


def test_06_capstone_each_cause_on_a_copy(executed):
    nb = executed(NB06)
    assert sqlite_says(nb, 'v26_seed_failure.db")))\nrun(db, INSERT') == [FK_FAILED, "1, 0"]
    assert sqlite_says(nb, "cause_type_mismatch.db")[:3] == [FK_FAILED, "'17', 'text'", "17, 'integer'"]
    assert sqlite_says(nb, "cause_near_miss_whitespace.db")[1].endswith(" ', 37, 36")
    dropped = sqlite_says(nb, "cause_renamed_parent_dropped.db")
    assert dropped[0] == "OperationalError: no such table: main.veo3_video_generations_old"
    assert "'source_generation_id', 'veo3_video_generations_old'" in dropped[1]
    assert sqlite_says(nb, "cause_renamed_parent_stale.db") == [FK_FAILED, "'profile_id', 'profiles_old'", "1, 0"]
    mismatch = sqlite_says(nb, "cause_parent_pk_dropped.db")[0]
    assert mismatch == 'OperationalError: foreign key mismatch - "veo3_video_upscales" referencing "veo3_projects"'
    orphans = sqlite_says(nb, "cause_orphan_rows.db")
    assert orphans[:2] == ["ok", "'ok'"] and orphans[2].count("'veo3_video_upscales'") == 4
    assert sqlite_says(nb, "cause_fk_off_in_transaction.db") == ["28", "3", "ok", "ok", "1", FK_FAILED, "ok"]
    assert sqlite_says(nb, "with_wal=False") == ["24, 240", "ok"]
    assert sqlite_says(nb, 'copy_of("wal_pending.db"))') == ["23, 243", FK_FAILED]
    assert sqlite_says(nb, "on_delete FROM pragma_foreign_key_list") == [
        "'project_id', 'veo3_projects', 'CASCADE'; 'profile_id', 'profiles', 'CASCADE'; "
        "'source_generation_id', 'veo3_video_generations', 'CASCADE'"]
    gives_up = next(c.source for c in nb.cells if c.source.startswith("After 030 no key is checked"))
    assert "leaves its\nupscales behind as orphans" in gives_up and "](03_apply_030_and_compare.ipynb)" in gives_up
