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
    previous_stream = False
    parts = []
    for o in cell.outputs:
        if "text" in o:
            # a kernel under load can send one print as several stream messages: they are one text
            if parts and o.get("output_type") == "stream" and previous_stream:
                parts[-1] += o["text"]
            else:
                parts.append(o["text"])
            previous_stream = o.get("output_type") == "stream"
            continue
        previous_stream = False
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
    assert "Left after the delete: 1 order(s), 1 order line(s)." in text_of(nb, "DELETE FROM customers")


def test_05_shows_sqlites_bare_message_then_the_row_and_reason(any_database):
    nb, _ = any_database
    bare = text_of(nb, "conn.executescript(CHECKOUT)")
    assert bare.strip() == "IntegrityError (SQLITE_CONSTRAINT_FOREIGNKEY): FOREIGN KEY constraint failed"
    assert "foreign_keys = 1" in text_of(nb, 'conn.execute("PRAGMA foreign_keys = ON")')
    answer = text_of(nb, "d = diagnose(db, sql=CHECKOUT)")
    assert answer.startswith("Statement 2 (INSERT INTO orders") and "1 row of orders" in answer
    table = text_of(nb, "whole(d.violations_frame())")  # the first such cell: the checkout's
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
    assert "shop.db stores sku 5 as integer and sku 7 as integer" in stored
    assert "shop_integer_sku.db stores sku 5 as integer and sku 7 as integer" in stored
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


def _answers(text: str) -> list[str]:
    """SQLite's answer to each statement of a sqlcells run, as its text output lists them."""
    return re.findall(r"^  -> (.*)$", text, re.M)


def test_03_shows_what_migration_030_gives_up(executed):
    nb = executed("03_apply_030_and_compare.ipynb")
    frame = text_of(nb, "HTML(frame_html(c.schema_frame()))")
    assert frame.count("ON DELETE CASCADE ON UPDATE NO ACTION") == 3  # before: the actions, whole
    assert frame.count("ON DELETE CASCADE no longer runs") == 3  # after: their absence, said
    before = _answers(text_of(nb, 'before_copy.db"), DELETE_A_GENERATION'))
    after = _answers(text_of(nb, 'fixed_copy.db"), DELETE_A_GENERATION'))
    assert before[:4] == ["232", "ok", "231", "(no rows)"]  # the delete cascaded to the upscale
    assert after[:3] == ["232", "ok", "232"] and re.fullmatch(r"1, '[0-9a-f-]{36}'", after[3])  # it stays
    assert before[4] in ("(no rows)", "ok") and after[4] in ("(no rows)", "ok")  # foreign_key_check: nothing


def test_03_runs_both_procedures_and_compares_rows_pages_and_time(executed):
    nb = executed("03_apply_030_and_compare.ipynb")
    assert text_of(nb, 'print("030:", storage_change').strip() == "030: None"
    assert text_of(nb, "undo = storage_change").strip() == \
        "030 undone (the constraints added back): it adds a NOT NULL constraint"
    simpler, twelve = text_of(nb, "print(simpler.script())"), text_of(nb, "print(twelve_step.script())")
    assert "PRAGMA writable_schema = ON" in simpler and "ALTER TABLE" not in simpler
    assert "PRAGMA legacy_alter_table = ON" in twelve and "writable_schema" not in twelve
    assert text_of(nb, '"toolkit", "fix", str(original)').count("prints the script above: True") == 2
    runs = text_of(nb, "twelve_step_run = run(")
    assert "0 refused" in runs and "Error" not in runs and _answers(runs)[-1] == "'ok'"  # quick_check
    compared = _answers(text_of(nb, "AS twelve_step;"))
    assert compared[:6] == ["ok", "ok", "232, 232, 232", "0", "0", "0"] and compared[-2:] == ["ok", "ok"]
    assert int(compared[6]) > 0  # the 12-step copy's freed pages: the old table's
    cells = re.findall(r"<td[^>]*>(.*?)</td>", text_of(nb, "page_frame(changes"))
    assert cells[0] == "simpler.db" and cells[3:6] == ["1", "1", "0"]  # the schema's page, the version's page
    assert cells[6] == "twelve_step.db" and int(cells[11]) > 50 and int(cells[7]) > int(cells[1])
    timed = text_of(nb, "seconds[name] = time.perf_counter()")
    times = dict(re.findall(r"^(simpler|12-step): ([0-9.]+) s, 0 statements refused$", timed, re.M))
    assert float(times["simpler"]) < float(times["12-step"])


def test_03_sets_the_twelve_steps_beside_the_script_and_runs_each_claim(executed):
    nb = executed("03_apply_030_and_compare.ipynb")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", text_of(nb, "steps_frame(rebuild_steps("), re.S)
    assert cells[0::4] == [str(n) for n in range(1, 13)]
    does = dict(zip(cells[0::4], cells[2::4], strict=True))
    assert does["1"].strip() == "PRAGMA foreign_keys = OFF;" and does["3"] == does["9"] == "(no statement)"
    assert does["7"].startswith("PRAGMA legacy_alter_table = ON;") and does["12"].strip() == "PRAGMA foreign_keys = ON;"
    assert _answers(text_of(nb, "-- inside a transaction:")) == ["ok", "ok", "1", "ok", "ok", "0"]
    dropped = _answers(text_of(nb, "CREATE TRIGGER t AFTER INSERT ON x"))
    assert dropped[4] == "'view', 'v'" and dropped[5] == "OperationalError: view v already exists"
    renamed = _answers(text_of(nb, "-- this rename re-reads"))
    assert renamed[4] == "OperationalError: error in view v: no such table: main.x"
    assert renamed[6] == "ok" and renamed[8] == "0"
    first = _answers(text_of(nb, "ALTER TABLE parent RENAME TO parent_old;"))
    assert 'REFERENCES "parent_old"(id)' in first[3] and first[6] == first[3]


# ---- notebook 04 under papermill, the widgets' state in the HTML, nothing cut (Part 13) -----------
NB04 = "notebooks/04_triage_customer_file.ipynb"


def papermill(tmp_path, *args: str, cwd: Path = REPO) -> tuple[nbformat.NotebookNode, str]:
    """The papermill command, as a person runs it; the executed notebook and what papermill printed."""
    import subprocess
    import sys

    out = tmp_path / "case.ipynb"
    done = subprocess.run([sys.executable, "-m", "papermill", *args[:1], str(out), *args[1:], "--no-progress-bar",
                           "-k", "python3"], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return nbformat.read(out, 4), done.stderr


@pytest.mark.parametrize("cwd_args", [[], ["--cwd", "notebooks"]], ids=["from-root", "cwd-notebooks"])
def test_04_papermill_takes_a_path_relative_to_the_root_from_either_folder(tmp_path, cwd_args):
    from toolkit.diagram import INSTALL_DOT, dot_available

    nb, _ = papermill(tmp_path, NB04, *cwd_args, "-p", "db_path", "sample_dbs/v26_seed_failure.db")
    assert error_outputs(nb) == []
    assert "**The insert fails because project_id" in text_of(nb, "show_or_stop(case)")
    picture = text_of(nb, "case.diagram()")
    if dot_available():  # before and after migration 030, side by side, the after side's own legend
        assert picture.count("<svg") == 2 and "3 references dropped" in picture
        after = picture.split('data-side="after"')[1]
        assert "its reference dropped by 030, not drawn" in after and "insert fails" not in after
    else:
        assert html.escape(INSTALL_DOT) in picture
    assert "UPDATE sqlite_schema SET sql" in text_of(nb, "print(case.sql)")


@pytest.mark.parametrize("db_path, sentence", [
    ("sample_dbs/no_such_file.db", "does not exist"),
    ("sample_dbs/bad_text.db", "is not a SQLite database"),
    ("sample_dbs/bad_truncated.db", "truncated"),
], ids=["missing", "not-a-database", "damaged"])
def test_04_a_bad_file_stops_after_its_one_sentence_and_papermill_exits_0(tmp_path, db_path, sentence):
    nb, printed = papermill(tmp_path, NB04, "--cwd", "notebooks", "-p", "db_path", db_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    stop = next(i for i, c in enumerate(code) if "show_or_stop(case)" in c.source)
    shown = text_of(nb, "show_or_stop(case)")
    assert "**Cannot triage" in shown and sentence in shown
    assert [(o.ename, o.evalue) for o in code[stop].outputs if o.output_type == "error"] == [("SystemExit", "")]
    assert not any(o.output_type == "stream" for o in code[stop].outputs)  # no "To exit: use 'exit'" warning
    assert all(not c.outputs and c.execution_count is None for c in code[stop + 1:])  # the rest never ran
    assert "Traceback" not in json.dumps(nb) and "papermill-error-cell" not in json.dumps(nb)
    assert error_outputs(nb) == [] and "Traceback" not in printed


def test_01_executed_html_embeds_the_widgets_last_state(tmp_path):
    from toolkit.nbrun import WIDGET_STATE, build, widget_state

    page = build(NOTEBOOKS_DIR / "01_inspect_schema.ipynb", tmp_path).read_text()
    state = widget_state(nbformat.read(tmp_path / "01_inspect_schema.ipynb", 4))
    views = re.findall(r'"model_id": "([0-9a-f]+)"', page)
    assert f'<script type="{WIDGET_STATE}">' in page and views and all(v in state for v in views)
    shown = [m["state"] for m in state.values() if m["model_name"] == "DropdownModel"]
    assert shown and shown[0]["_options_labels"][shown[0]["index"]] == "v26_seed_failure.db"  # as the notebook left it
    html_panes = " ".join(m["state"].get("value", "") for m in state.values() if m["model_name"] == "HTMLModel")
    assert 'data-fk="foreign-keys"' in html_panes  # the schema panel's tables are in the page, not just a box


def bare_tuple(text: str) -> bool:
    import ast

    try:
        return isinstance(ast.literal_eval(text.strip()), tuple)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False


@pytest.mark.parametrize("name", ["01_inspect_schema.ipynb", "02_reproduce_and_diagnose.ipynb",
                                  "04_triage_customer_file.ipynb", "05_any_database.ipynb"])
def test_04_and_01_02_05_cut_nothing_and_print_no_bare_tuple(executed, name):
    nb = executed(name)
    tables = 0
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        for o in cell.outputs:
            data = o.get("data", {})
            page = data.get("text/html", "")
            tables += page.count("<table")
            assert "..." not in page, (cell.source, page[:3000])  # pandas' mark of a cut cell
            if "<table" in page:  # left-aligned: the package's tables, not pandas' right-aligned default
                assert "text-align: left" in page, cell.source
            texts = [data.get("text/plain", "")] + o.get("text", "").splitlines()
            assert not any(bare_tuple(t) for t in texts if t.strip()), (cell.source, texts)
    assert tables >= 3


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
