"""compare(): the schema, the data and the insert, before and after the fix."""
from toolkit.comparison import compare
from toolkit.migration import apply_030
from toolkit.safe_access import fingerprint

from customer_files import customised_file


def test_compare_headline_before_and_after(sample, tmp_path):
    path = sample("v26_seed_failure.db")
    out = tmp_path / "fixed.db"
    apply_030(path, out)
    before = fingerprint(path), fingerprint(out)
    c = compare(path, out)
    assert (fingerprint(path), fingerprint(out)) == before
    changes = {(ch.kind, ch.name, ch.change) for ch in c.schema_changes}
    assert changes == {("column", col, "changed") for col in ("source_generation_id", "profile_id", "project_id")} | \
        {("foreign key", col, "removed") for col in ("source_generation_id", "profile_id", "project_id")}
    cols = {ch.name: (ch.before, ch.after) for ch in c.schema_changes if ch.kind == "column"}
    assert cols["project_id"] == ("TEXT NOT NULL", "TEXT")
    data = {t.table: t for t in c.tables}
    assert data["veo3_video_upscales"].only_before == 0 and data["veo3_video_upscales"].only_after == 0
    assert data["migrations"].only_after == 1 and data["migrations"].rows_after == data["migrations"].rows_before + 1
    assert c.insert_before.failing == ["project_id"] and not c.insert_before.ok
    assert c.insert_after.ok and c.insert_after.values == c.insert_before.values
    assert len(c.schema_frame()) == 6 and list(c.insert_frame()["ok"]) == [False, True]
    assert set(c.to_dict()) >= {"schema_changes", "tables", "insert_before", "insert_after"}


def test_compare_sees_rows_only_on_one_side(tmp_path):
    import sqlite3

    a = customised_file(tmp_path / "a.db")
    b = tmp_path / "b.db"
    b.write_bytes(a.read_bytes())
    conn = sqlite3.connect(b)
    conn.execute("DELETE FROM profiles WHERE rowid = 1")
    conn.execute("UPDATE veo3_projects SET name = 'renamed' WHERE rowid = 2")
    conn.execute("DROP INDEX idx_upscales_expr")
    conn.commit()
    conn.close()
    c = compare(a, b)
    data = {t.table: t for t in c.tables}
    assert (data["profiles"].only_before, data["profiles"].only_after) == (1, 0)
    assert (data["veo3_projects"].only_before, data["veo3_projects"].only_after) == (1, 1)
    assert ("index", "idx_upscales_expr", "removed") in {(x.kind, x.name, x.change) for x in c.schema_changes}


def test_change_vocabularies_are_the_json_strings(sample, tmp_path):
    import dataclasses
    import json

    import pytest

    from toolkit.comparison import Change, Kind

    assert [k.value for k in Kind] == ["table", "column", "foreign key", "index", "trigger", "view"]
    assert [c.value for c in Change] == ["added", "removed", "changed"]
    path = sample("v26_seed_failure.db")
    apply_030(path, tmp_path / "f.db")
    c = compare(path, tmp_path / "f.db")
    data = json.loads(json.dumps(c.to_dict()))
    assert {(ch["kind"], ch["change"]) for ch in data["schema_changes"]} == {("column", "changed"),
                                                                          ("foreign key", "removed")}
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.insert_before = None
    assert c.insert_before is not None and not c.insert_before.ok  # joined by replace, once


# ---- what 030 gives up, and the two procedures ---------------------------------------------
def test_the_schema_frame_says_what_a_removed_key_no_longer_does(sample, tmp_path):
    import shutil

    from toolkit.sqlcells import run, scratch

    path = sample("v26_seed_failure.db")
    out = tmp_path / "fixed.db"
    apply_030(path, out)
    frame = compare(path, out).schema_frame()
    keys = frame[frame["kind"] == "foreign key"]
    assert len(keys) == 3 and all("ON DELETE CASCADE" in text for text in keys["before"])
    assert all(text.startswith("no foreign key: SQLite no longer checks the value, and ON DELETE CASCADE no longer "
                               "runs") for text in keys["after"])
    # what the after column says, in SQLite: a deleted generation's upscale stays, and no check reports it
    delete = ("DELETE FROM veo3_video_generations WHERE id = (SELECT source_generation_id FROM veo3_video_upscales "
              "WHERE rowid = 1); SELECT count(*) FROM veo3_video_upscales; PRAGMA foreign_key_check;")
    for name, file, left in (("before", path, 231), ("after", out, 232)):
        copy = tmp_path / f"{name}-copy.db"
        shutil.copy(file, copy)
        answers = run(scratch(copy), delete)
        assert answers.errors == [] and answers[1].rows == ((left,),) and answers[2].rows == (), name


def _run_script(src, dest, script):
    import shutil

    from toolkit.sqlcells import run, scratch

    shutil.copy(src, dest)
    conn = scratch(dest)
    answers = run(conn, script)
    conn.close()
    assert answers.errors == []
    return dest


def test_the_simpler_procedure_rewrites_only_the_schema_and_the_version_page(sample, tmp_path):
    from toolkit.comparison import page_changes, page_frame
    from toolkit.migration import plan_for

    path = sample("v26_seed_failure.db")
    simpler, _, _ = plan_for(path)
    twelve_step, _, _ = plan_for(path, rebuild=True)
    assert simpler.rebuild is None and twelve_step.rebuild is not None
    fast = page_changes(path, _run_script(path, tmp_path / "s.db", simpler.script()), ["migrations"])
    slow = page_changes(path, _run_script(path, tmp_path / "t.db", twelve_step.script()), ["migrations"])
    assert (fast.schema, fast.written, fast.other) == (1, 1, 0) and fast.changed == 2
    assert slow.other > 50 and slow.pages > fast.pages
    assert list(page_frame([fast, slow])["other pages"]) == [0, slow.other]


def test_every_statement_of_the_rebuild_sits_under_its_documented_step(sample, tmp_path):
    from toolkit.comparison import TWELVE_STEPS, rebuild_steps, steps_frame
    from toolkit.migration import plan_for

    plan, _, _ = plan_for(customised_file(tmp_path / "c.db"), rebuild=True)
    statements = plan.rebuild.statements
    rows = rebuild_steps(statements)
    assert [r.step for r in rows] == [str(n) for n in range(1, 13)] == [s for s, _, _ in TWELVE_STEPS]
    assert sum(len(r.statements) for r in rows) == len(statements)
    by_step = {r.step: r.statements for r in rows}
    assert by_step["1"] == ("PRAGMA foreign_keys = OFF",) and by_step["2"] == ("BEGIN",)
    assert by_step["3"] == () and by_step["9"] == ()
    assert by_step["7"][0] == "PRAGMA legacy_alter_table = ON" and by_step["7"][-1] == "PRAGMA legacy_alter_table = OFF"
    assert by_step["6"][-1].startswith("DROP TABLE") and any(s.startswith("DROP VIEW") for s in by_step["6"])
    assert any(s.startswith("CREATE VIEW") for s in by_step["8"]) and by_step["11"] == ("COMMIT",)
    assert by_step["12"] == ("PRAGMA foreign_keys = ON",) and by_step["10"][0].startswith("PRAGMA foreign_key_check")
    assert list(steps_frame(rows)["the script does"])[2] == "(no statement)"


def test_the_whys_of_the_steps_hold_in_sqlite():
    from toolkit.sqlcells import run, scratch

    # step 1: the pragma is a no-op inside a transaction
    answers = run(scratch(), "BEGIN; PRAGMA foreign_keys = OFF; PRAGMA foreign_keys; COMMIT; "
                             "PRAGMA foreign_keys = OFF; PRAGMA foreign_keys;")
    assert answers[2].rows == ((1,),) and answers[5].rows == ((0,),)
    # step 6: DROP TABLE takes the table's triggers, not the views naming it, and CREATE refuses a duplicate
    answers = run(scratch(), "CREATE TABLE x (a); CREATE VIEW v AS SELECT a FROM x; "
                             "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END; DROP TABLE x; "
                             "SELECT type, name FROM sqlite_schema; CREATE VIEW v AS SELECT 1 AS a;")
    assert answers[4].rows == (("view", "v"),) and answers[5].error == "view v already exists"
    # step 7: without legacy_alter_table the rename re-reads the views and fails on one naming X
    answers = run(scratch(foreign_keys=False), "CREATE TABLE x (a); CREATE VIEW v AS SELECT a FROM x; "
                  "CREATE TABLE new_x (a); DROP TABLE x; ALTER TABLE new_x RENAME TO x; "
                  "PRAGMA legacy_alter_table = ON; ALTER TABLE new_x RENAME TO x;")
    assert answers[4].error == "error in view v: no such table: main.x" and answers[6].ok
    # rename-first: with foreign keys off the rename still rewrites the child's REFERENCES, unless legacy
    answers = run(scratch(foreign_keys=False), "CREATE TABLE parent (id INTEGER PRIMARY KEY); "
                  "CREATE TABLE child (parent_id INTEGER REFERENCES parent(id)); "
                  "ALTER TABLE parent RENAME TO parent_old; SELECT sql FROM sqlite_schema WHERE name = 'child'; "
                  "PRAGMA legacy_alter_table = ON; ALTER TABLE parent_old RENAME TO parent_older; "
                  "SELECT sql FROM sqlite_schema WHERE name = 'child';")
    assert 'REFERENCES "parent_old"(id)' in answers[3].rows[0][0]
    assert answers[6].rows == answers[3].rows
