"""The widgets, driven from Python: set values, click, read what they show."""
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
