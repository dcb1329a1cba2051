"""The widgets, driven from Python: set values, click, read what they show."""
from conftest import make_db
from toolkit.samples import SAMPLES_DIR
from toolkit.widgets import (DatabasePicker, DataPager, FixPanel, InsertForm, TriageApp, fix_explorer,
                             schema_explorer, simulate_explorer)


def test_insert_form_is_prefilled_with_the_apps_values_and_simulates(sample):
    form = InsertForm(sample("v26_seed_failure.db"))
    assert all(f.value for f in form.fields.values())
    form.simulate.click()
    assert "The insert fails because project_id" in form.answer.value
    assert "missing-row" in form.references.value
    form.fields["profile_id"].value = "no-such-profile"
    form.simulate.click()
    assert "no-such-profile" in form.answer.value and form.references.value.count("missing-row") == 2


def test_insert_form_on_a_fixed_file_succeeds(sample):
    form = InsertForm(sample("v30_fixed.db"))
    form.simulate.click()
    assert "succeeds" in form.answer.value


def test_fix_panel_applies_030_to_a_copy_and_highlights_changes(sample):
    from toolkit.safe_access import fingerprint

    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    panel = FixPanel(path)
    panel.apply.click()
    assert "proven" in panel.result.value and panel.fixed_path.exists()
    after = panel.view.after.value
    assert 'data-fk="after"' in after and "project_id" in after
    assert "REFERENCES" in panel.view.before.value and "REFERENCES" not in after
    assert "#fff3cd" in after  # the changed columns are highlighted
    assert fingerprint(path) == before


def test_fix_panel_skip_and_refusal(sample):
    panel = FixPanel(sample("v30_fixed.db"))
    panel.apply.click()
    assert "Skipped" in panel.result.value
    panel.load(sample("other_app.db"))
    panel.apply.click()
    assert "no veo3_video_upscales table" in panel.result.value


def test_picker_drives_the_explorers():
    schema = schema_explorer()
    schema.picker.dropdown.value = "other_app.db"
    assert "notebooks" in schema.panel.html.value and "veo3_video_upscales" not in schema.panel.html.value
    fix = fix_explorer()
    fix.picker.dropdown.value = "cause_type_mismatch.db"
    assert fix.panel.path == SAMPLES_DIR / "cause_type_mismatch.db"
    simulate = simulate_explorer()
    simulate.picker.dropdown.value = "cause_type_mismatch.db"
    simulate.panel.simulate.click()
    assert "type-mismatch" in simulate.panel.references.value


def test_picker_path_and_upload(sample, tmp_path):
    picker = DatabasePicker()
    picker.path_text.value = str(sample("v30_fixed.db"))
    assert picker.path == sample("v30_fixed.db")
    data = sample("wal_pending.db")
    wal = (tmp_path / "wal_pending.db-wal").read_bytes()
    saved = picker.save_uploads([{"name": "customer.db", "content": memoryview(data.read_bytes())},
                                 {"name": "customer.db-wal", "content": wal}])
    assert saved.name == "customer.db" and saved.with_name("customer.db-wal").exists()
    form = InsertForm(saved)
    form.simulate.click()
    assert "project_id" in form.answer.value  # the -wal's deletion is seen


def test_triage_app_tabs_and_bad_files():
    import html

    from toolkit.diagnosis import diagnose

    app = TriageApp()
    for finding in diagnose(app.path).findings:  # messages are shown whole, never cut
        assert finding.message in html.unescape(app.findings.value)
    assert "The insert fails because project_id" in app.answer.value
    assert 'data-fk="findings"' in app.findings.value and 'data-fk="columns"' in app.schema.value
    assert 'data-fk="data"' in app.data.rows.value
    app.picker.dropdown.value = "bad_truncated.db"
    assert "truncated" in app.answer.value and app.findings.value == ""
    app.picker.dropdown.value = "v30_fixed.db"
    assert "nothing to do" in app.answer.value


def test_data_pager_pages_through_rows(sample):
    pager = DataPager(sample("v26_seed_failure.db"))
    first = pager.rows.value
    pager.page.value = 1
    assert pager.rows.value != first and pager.page.max >= 10


def test_html_values_are_escaped(sample):
    import sqlite3

    path = sample("v26_seed_failure.db")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE veo3_video_upscales SET status = '<img src=x onerror=alert(1)>' WHERE rowid = 1")
    conn.commit()
    conn.close()
    pager = DataPager(path)
    assert "<img src=x" not in pager.rows.value and "&lt;img src=x" in pager.rows.value


def test_fix_panel_shows_exactly_the_proofs_own_list(sample):
    import html
    import re

    panel = FixPanel(sample("v26_seed_failure.db"))
    panel.apply.click()
    shown = re.findall(r'<li data-ok="(true|false)">(.) (.*?)</li>', panel.result.value)
    assert [(html.unescape(label), ok == "true" and mark == "✔") for ok, mark, label in shown] \
        == panel.migration.proof.lines()
    assert len(shown) == 8


# ---- the statement form: a pasted statement or error message, on any file (Part 11) -----------
SHOP = """
CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
                     note TEXT CHECK (note <> 'bad'));
CREATE TABLE "order lines" (order_id INTEGER REFERENCES orders(id) DEFERRABLE INITIALLY DEFERRED, sku TEXT);
INSERT INTO customers VALUES ('ALFKI', 'Alfreds');
INSERT INTO orders VALUES (1, 'ALFKI', NULL);
"""


def shop_file(tmp_path):

    path = tmp_path / "shop.db"
    make_db(path, SHOP)
    return path


def cells(table_html: str) -> list[list[str]]:
    import html
    import re

    rows = re.findall(r"<tr>(.*?)</tr>", table_html.split("<tbody>", 1)[1], re.DOTALL)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)] for row in rows]


def test_statement_form_names_the_row_and_reason_a_pasted_statement_breaks(tmp_path):
    from toolkit.safe_access import fingerprint
    from toolkit.widgets import StatementForm

    path = shop_file(tmp_path)
    before = fingerprint(path)
    form = StatementForm(path)
    form.sql.value = "BEGIN;\nINSERT INTO orders (id, customer_id) VALUES (7, 'alfki');\nCOMMIT;"
    form.explain.click()
    d = form.diagnosis
    assert d is not None and d.answer.startswith("Statement 2") and "#c62828" in form.answer.value
    (v,) = d.statement_simulation.violations
    assert cells(form.violations.value) == [["orders", "7", "customer_id", "'alfki'", "customers(id)", "near-miss",
                                            "statement 2", v.explanation]]
    form.sql.value = "INSERT INTO \"order lines\" VALUES (9, 'X')"  # deferred, outside a transaction
    form.explain.click()
    assert cells(form.violations.value)[0][6] == "COMMIT" and "missing-row" in form.violations.value
    assert fingerprint(path) == before


def test_statement_form_hints_when_empty_and_shows_one_sentence_for_a_bad_statement(tmp_path):
    from toolkit.widgets import StatementForm

    form = StatementForm()
    form.sql.value = "INSERT INTO orders VALUES (1)"
    form.explain.click()
    assert "Pick or upload a database first" in form.answer.value and form.diagnosis is None
    form.load(shop_file(tmp_path))
    form.sql.value = "  \n"
    form.explain.click()
    assert "Paste the statements the app ran" in form.answer.value and form.violations.value == ""
    for sql, said in [("ATTACH 'other.db' AS o", "The pasted SQL: statement 1"),
                      ("INSERT INTO orders VALUES (", "is not SQL that SQLite parses")]:
        form.sql.value = sql
        form.explain.click()
        assert said in form.answer.value and "Traceback" not in form.answer.value and form.diagnosis is None
        assert form.answer.value.count("fk-answer") == 1 and form.violations.value == ""
    assert not (tmp_path / "other.db").exists()


def test_statement_form_explains_an_error_message_and_a_failure_that_is_no_foreign_key(tmp_path):
    import html

    from toolkit.widgets import StatementForm

    form = StatementForm(shop_file(tmp_path))
    form.error.value = "FOREIGN KEY constraint failed"
    form.explain.click()
    shown = html.unescape(form.answer.value)
    assert "can come from 2 declaration(s)" in shown and "orders(customer_id) REFERENCES customers(id)" in shown
    assert form.violations.value == ""
    form.sql.value = "INSERT INTO orders VALUES (2, 'ALFKI', 'bad')"
    form.explain.click()  # the statement leads; the message's answer is shown beside it
    assert "CHECK" in form.answer.value and form.diagnosis.statement_simulation.violations == ()
    assert "can come from 2 declaration(s)" in html.unescape(form.violations.value)


def test_statement_form_escapes_a_hostile_table_and_follows_the_picker(tmp_path):

    from toolkit.widgets import StatementForm, statement_explorer

    path = tmp_path / "evil.db"
    evil = "<img src=x onerror=alert(1)>"
    make_db(path, f'CREATE TABLE p (id INTEGER PRIMARY KEY); '
                  f'CREATE TABLE "{evil}" (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));')
    form = StatementForm(path)
    form.sql.value = f'INSERT INTO "{evil}" VALUES (1, 5)'
    form.explain.click()
    shown = form.answer.value + form.violations.value
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in form.violations.value
    explorer = statement_explorer()
    explorer.picker.path_text.value = str(path)
    assert explorer.panel.path == path and explorer.panel.answer.value == ""
    explorer.panel.sql.value = "INSERT INTO p VALUES (1)"
    explorer.panel.explain.click()
    accepted = explorer.panel.answer.value
    assert "SQLite accepts the 1 statement(s)" in accepted and "#2e7d32" in accepted  # green: nothing broken


def test_web_app_explains_a_pasted_statement_for_the_uploaded_file(tmp_path):
    from toolkit.widgets import TriageWebApp

    web = TriageWebApp()
    web.statement.sql.value = "INSERT INTO orders VALUES (5, 'NOPE', NULL)"
    web.statement.explain.click()
    assert "Pick or upload a database first" in web.statement.answer.value
    path = shop_file(tmp_path)
    web.load_upload([{"name": "shop.db", "content": path.read_bytes()}])
    assert web.statement.path == web.path and web.statement.answer.value == ""
    assert web.apply.layout.display == "none"  # the video app's fix is not offered for another app's file
    web.statement.explain.click()
    assert "missing-row" in web.statement.violations.value
    assert "NOPE" in web.statement.answer.value and "orders" in web.statement.answer.value
    web.load_upload([{"name": "v26.db", "content": (SAMPLES_DIR / "v26_seed_failure.db").read_bytes()}])
    assert web.apply.layout.display is None and not web.apply.disabled


def test_statement_form_stops_a_statement_that_runs_forever_with_one_sentence(tmp_path, monkeypatch):
    import time

    from toolkit.widgets import StatementForm

    monkeypatch.setenv("TOOLKIT_TIME_LIMIT", "1")
    form = StatementForm(shop_file(tmp_path))
    form.sql.value = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    started = time.monotonic()
    form.explain.click()
    assert time.monotonic() - started < 15 and "time limit" in form.answer.value and form.diagnosis is None


# ---- typed values, NULL said, the upload label (Part 13) -------------------------------------------
def test_insert_form_says_an_empty_field_is_null_and_binds_it_as_null(sample):
    from toolkit.widgets import NULL_HINT

    form = InsertForm(sample("v26_seed_failure.db"))
    assert all(f.placeholder == NULL_HINT and "NULL" in NULL_HINT for f in form.fields.values())
    assert "An empty field is NULL" in form.children[0].value
    form.fields["project_id"].value = ""
    form.simulate.click()
    assert form.diagnosis.insert_simulation.values["project_id"] is None
    assert "NOT NULL" in form.answer.value  # the column's NOT NULL refuses it; a NULL key is never looked up


def test_insert_form_types_each_value_and_shows_sqlites_own_verdict(sample):
    """Integer 17 and text '17' are bound as such; SQLite stores them with the child column's affinity
    (the app's TEXT columns turn 17 into '17'), then compares with the parent column's applied."""
    import sqlite3

    from toolkit import appmodel as app

    untyped = InsertForm(sample("cause_type_mismatch.db"))  # projects.id has no type and holds integer 17
    assert untyped.fields["project_id"].value == "17" and untyped.types["project_id"].value == "text"
    for kind, bound in (("text", "17"), ("integer", 17)):  # stored as '17' either way: never equal to 17
        untyped.types["project_id"].value = kind
        untyped.simulate.click()
        sim = untyped.diagnosis.insert_simulation
        assert sim.values["project_id"] == bound and not sim.ok and sim.error == "FOREIGN KEY constraint failed"
        assert "type-mismatch" in untyped.references.value

    path = sample("v26_seed_failure.db")  # projects.id is TEXT; the newest generation's project is gone
    with sqlite3.connect(path) as conn:
        conn.execute(f"INSERT INTO {app.PROJECTS} (id, name, created_at) VALUES ('17', 'p', 'now')")
    conn.close()
    typed = InsertForm(path)
    typed.fields["project_id"].value = "17"
    for kind in ("integer", "text"):  # TEXT affinity: both find the row '17'
        typed.types["project_id"].value = kind
        typed.simulate.click()
        assert typed.diagnosis.insert_simulation.ok, (kind, typed.answer.value)
    typed.fields["project_id"].value = "seventeen"
    typed.types["project_id"].value = "integer"
    typed.simulate.click()
    assert "is not an integer" in typed.answer.value and "Traceback" not in typed.answer.value
    assert typed.answer.value.count("fk-answer") == 1 and typed.references.value == ""


def test_upload_buttons_are_wide_enough_for_their_label():
    from toolkit.widgets import UPLOAD_WIDTH, TriageWebApp

    assert DatabasePicker().upload.layout.width == UPLOAD_WIDTH
    assert TriageWebApp().upload.layout.width == UPLOAD_WIDTH
