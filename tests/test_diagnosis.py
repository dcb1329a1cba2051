"""diagnose(): the state, the findings and the failing reference, for every sample and cause."""
import errno
import os
import random
import sqlite3

import pytest

from conftest import APP_FILES, ids, make_db
from toolkit import appmodel as app
from toolkit import errors
from toolkit.diagnosis import REASONS, STATES, diagnose
from toolkit.safe_access import fingerprint
from toolkit.samples import delete_parent_of_newest, load_dataset, make_dataset


@pytest.mark.parametrize("scenario", APP_FILES, ids=ids)
def test_every_sample_gets_what_its_manifest_row_says(scenario, sample, manifest):
    row = manifest[scenario.filename]
    path = sample(scenario.filename)
    before = fingerprint(path)
    d = diagnose(path)
    assert fingerprint(path) == before
    assert d.state == row["state"] and d.state in STATES
    assert d.recorded_version == row["recorded_version"]
    assert d.needs_migration_030 == (row["state"] in ("strict", "partially-relaxed"))
    codes = {f.code for f in d.findings}
    assert set(row["findings"]) <= codes, codes
    sim = d.insert_simulation
    assert sim.failing == row["failing"]
    for ref in sim.references:
        assert ref.reason in REASONS
        assert ref.reason == (row["reason"] if ref.column in row["failing"] else "ok"), ref
    assert sim.ok == (not row["failing"]) or not sim.attempted
    assert d.exit_code == (0 if row["state"] == "fixed" else 1)
    for f in d.findings:
        assert f.severity in ("error", "warning", "info") and f.code == f.code.lower() and " " not in f.code
        assert f.message.endswith(".") or f.message.endswith(")")


def test_another_apps_healthy_file_gets_a_general_headline_and_exit_0(sample):
    """No profile applies to another app's file: nothing about the video app is said, and a
    healthy file is healthy."""
    d = diagnose(sample("other_app.db"))
    assert d.profile is None and d.state == "no-upscales-table" and not d.insert_simulation.attempted
    assert not d.finding("no-upscales-table") and "video" not in d.answer
    assert d.answer == "other_app.db is healthy: its 1 foreign key(s) are declared soundly and no row violates them."
    assert d.exit_code == 0


def test_the_video_apps_file_before_migration_026_is_still_named(tmp_path):
    """A file with the app's other tables but no upscale table is the app's, from before 026."""
    from toolkit.appmodel import migrate

    path = tmp_path / "v25.db"
    conn = sqlite3.connect(path)
    migrate(conn, 25)
    conn.close()
    d = diagnose(path)
    assert d.profile is None and [f.code for f in d.findings if f.severity == "error"] == ["no-upscales-table"]
    assert "before migration 026" in d.answer and d.exit_code == 1


# ---- one test per cause in app-model.md ------------------------------------------
def test_missing_project_is_named_although_generation_and_profile_exist(sample):
    d = diagnose(sample("v26_seed_failure.db"))
    sim = d.insert_simulation
    assert sim.error == "FOREIGN KEY constraint failed" and sim.error_code == "SQLITE_CONSTRAINT_FOREIGNKEY"
    by_col = {r.column: r for r in sim.references}
    assert by_col["source_generation_id"].parent_exists and by_col["profile_id"].parent_exists
    assert not by_col["project_id"].parent_exists
    assert d.answer.startswith("The insert fails because project_id '") and "no row in veo3_projects" in d.answer


def test_type_mismatch_integer_parent_text_child(sample):
    d = diagnose(sample("cause_type_mismatch.db"))
    ref = next(r for r in d.insert_simulation.references if r.column == "project_id")
    assert ref.reason == "type-mismatch" and ref.value == "17" and ref.candidate == 17
    assert any(f.code == "type-affinity-mismatch" and f.column == "project_id" for f in d.findings)
    # the same when the engineer types the integer: TEXT affinity stores it as '17'
    d2 = diagnose(sample("cause_type_mismatch.db"), {"project_id": 17})
    assert d2.insert_simulation.failing == ["project_id"]
    assert d2.insert_simulation.references[2].reason == "type-mismatch"


@pytest.mark.parametrize("name,column,candidate_test", [
    ("cause_near_miss_whitespace.db", "profile_id", lambda c: c.endswith(" ")),
    ("cause_near_miss_case.db", "project_id", lambda c: c == c.upper() and c != c.lower()),
])
def test_near_miss_trailing_space_or_case(sample, name, column, candidate_test):
    ref = next(r for r in diagnose(sample(name)).insert_simulation.references if r.column == column)
    assert ref.reason == "near-miss" and candidate_test(ref.candidate) and ref.candidate != ref.value
    assert ref.candidate.strip().lower() == ref.value.lower()


def test_renamed_parent_dropped_is_a_dangling_reference(sample):
    d = diagnose(sample("cause_renamed_parent_dropped.db"))
    assert d.insert_simulation.error == "no such table: main.veo3_video_generations_old"
    assert any(f.code == "dangling-reference" and "veo3_video_generations_old" in f.message for f in d.findings)
    # the broken declaration must not stop the orphan check of the table's other keys
    assert d.insert_simulation.references[0].reason == "parent-table-missing"


def test_renamed_parent_still_present_with_stale_rows(sample):
    d = diagnose(sample("cause_renamed_parent_stale.db"))
    ref = d.insert_simulation.references[1]
    assert ref.parent_table == "profiles_old" and ref.reason == "stale-parent-table"
    assert "the live profiles has the row" in ref.explanation
    assert any(f.code == "stale-parent-table" for f in d.findings)


def test_parent_without_primary_key_gives_foreign_key_mismatch(sample):
    d = diagnose(sample("cause_parent_pk_dropped.db"))
    assert d.insert_simulation.error.startswith("foreign key mismatch")
    assert d.insert_simulation.references[2].reason == "parent-key-not-unique"


def test_existing_orphan_rows_are_counted_with_example_rowids(sample):
    d = diagnose(sample("cause_orphan_rows.db"))
    (orphans,) = d.finding("orphan-rows")
    assert orphans.count >= 4 and orphans.column == "source_generation_id" and len(orphans.examples) <= 5
    assert d.insert_simulation.ok and d.exit_code == 1


def test_fk_off_inside_transaction_left_028_recorded_but_strict(sample):
    d = diagnose(sample("cause_fk_off_in_transaction.db"))
    assert d.recorded_version == 28 and d.state == "strict"
    assert d.finding("recorded-version-mismatch") and d.finding("orphan-rows")


def test_wal_content_is_what_the_app_sees(sample, tmp_path):
    path = sample("wal_pending.db")
    d = diagnose(path)
    assert d.insert_simulation.failing == ["project_id"] and d.finding("wal-not-checkpointed")
    alone = tmp_path / "alone" / "wal_pending.db"
    alone.parent.mkdir()
    alone.write_bytes(path.read_bytes())
    # the .db on its own still shows the project: the trap the customer fell into
    assert diagnose(alone).insert_simulation.failing == []


# ---- robustness ------------------------------------------------------------------
def _headline_like(path, *, profiles, projects, generations, upscales, seed=7):
    conn = sqlite3.connect(path, isolation_level=None)
    app.migrate(conn, 26)
    load_dataset(conn, make_dataset(random.Random(seed), profiles=profiles, projects=projects,
                                    generations=generations, upscales=upscales))
    delete_parent_of_newest(conn, app.PROJECTS, "project_id")
    conn.close()
    return path


def test_the_answer_does_not_depend_on_the_number_of_rows(tmp_path):
    small = diagnose(_headline_like(tmp_path / "s.db", profiles=2, projects=3, generations=10, upscales=5))
    big = diagnose(_headline_like(tmp_path / "b.db", profiles=40, projects=300, generations=20000, upscales=15000))
    for d in (small, big):
        assert d.state == "strict" and d.insert_simulation.failing == ["project_id"]
        assert [r.reason for r in d.insert_simulation.references] == ["ok", "ok", "missing-row"]


def test_a_mismatch_elsewhere_does_not_stop_the_orphan_check(tmp_path):
    path = _headline_like(tmp_path / "m.db", profiles=2, projects=4, generations=30, upscales=20)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""
        PRAGMA foreign_keys = OFF;
        CREATE TABLE tags (name TEXT);
        CREATE TABLE video_tags (tag TEXT REFERENCES tags(name), video TEXT);
        INSERT INTO video_tags VALUES ('x', 'y');
        DELETE FROM veo3_video_generations WHERE id = (SELECT source_generation_id FROM veo3_video_upscales LIMIT 1);
    """)
    conn.close()
    d = diagnose(path)
    assert any(f.code == "parent-key-not-unique" and f.table == "video_tags" for f in d.findings)
    assert any(f.code == "orphan-rows" and f.table == "veo3_video_upscales" for f in d.findings)
    assert d.insert_simulation.failing == ["project_id"]


def test_a_broken_key_on_the_upscale_table_does_not_hide_its_other_orphans(sample, tmp_path):
    path = sample("cause_parent_pk_dropped.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM veo3_video_generations WHERE id IN "
                 "(SELECT source_generation_id FROM veo3_video_upscales ORDER BY rowid LIMIT 3)")
    conn.close()
    d = diagnose(path)
    orphans = [f for f in d.finding("orphan-rows") if f.column == "source_generation_id"]
    assert orphans and orphans[0].count >= 3


def test_given_values_override_the_apps_defaults(sample):
    d = diagnose(sample("v26_seed_failure.db"), {"profile_id": "no-such-profile"})
    assert d.insert_simulation.values["profile_id"] == "no-such-profile"
    assert set(d.insert_simulation.failing) == {"profile_id", "project_id"}
    assert "profile_id 'no-such-profile' has no row in profiles" in d.answer


def test_null_reference_on_a_not_null_column(sample):
    d = diagnose(sample("v26_seed_failure.db"), {"project_id": None})
    ref = d.insert_simulation.references[2]
    assert ref.reason == "null-not-allowed" and "NOT NULL constraint failed" in d.insert_simulation.error


def test_a_customer_trigger_fires_only_inside_the_rolled_back_copy(sample):
    path = sample("v30_fixed.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""
        CREATE TABLE audit (what TEXT);
        CREATE TRIGGER log_upscale AFTER INSERT ON veo3_video_upscales BEGIN INSERT INTO audit VALUES ('x'); END;
    """)
    conn.close()
    before = fingerprint(path)
    d = diagnose(path)
    assert d.insert_simulation.ok
    assert fingerprint(path) == before
    assert sqlite3.connect(path).execute("SELECT count(*) FROM audit").fetchone() == (0,)


def test_frames_for_notebooks(sample):
    d = diagnose(sample("v26_seed_failure.db"))
    assert list(d.references_frame()["reason"]) == ["ok", "ok", "missing-row"]
    assert "fk-constraints-present" in set(d.findings_frame()["code"])


def _alter(path, script):
    make_db(path, script)


@pytest.mark.parametrize("script, code, words", [
    # the app inserts status 'pending'; the rows already there are completed, failed or processing
    ("ALTER TABLE veo3_video_upscales ADD COLUMN queued TEXT CHECK (status IS NOT 'pending');",
     "SQLITE_CONSTRAINT_CHECK", "CHECK constraint"),
    ("ALTER TABLE veo3_video_upscales ADD COLUMN owner TEXT NOT NULL DEFAULT 'x';"
     "CREATE TRIGGER no_owner BEFORE INSERT ON veo3_video_upscales BEGIN "
     "UPDATE veo3_video_upscales SET owner = NULL WHERE 0; END;"
     "CREATE TABLE seen(id TEXT PRIMARY KEY);"
     "CREATE TRIGGER twice BEFORE INSERT ON veo3_video_upscales BEGIN INSERT INTO seen VALUES ('one');"
     " INSERT INTO seen VALUES ('one'); END;",
     "SQLITE_CONSTRAINT_PRIMARYKEY", "same primary key"),
    ("CREATE TABLE log(n INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);"
     "INSERT INTO log(n, what) VALUES (9223372036854775807, 'last');"
     "CREATE TRIGGER logged AFTER INSERT ON veo3_video_upscales BEGIN INSERT INTO log(what) VALUES ('up'); END;",
     "SQLITE_FULL", "AUTOINCREMENT"),
    ("CREATE TRIGGER refuse BEFORE INSERT ON veo3_video_upscales BEGIN SELECT RAISE(ABORT, 'no upscales'); END;",
     "SQLITE_CONSTRAINT_TRIGGER", "trigger"),
])
def test_an_insert_failing_for_another_reason_is_not_blamed_on_a_reference(sample, script, code, words):
    """The headline file's project is missing too: the answer names SQLite's real refusal first."""
    path = sample("v26_seed_failure.db")
    _alter(path, script)
    d = diagnose(path)
    sim = d.insert_simulation
    assert sim.error_code == code and sim.fails_otherwise and not sim.fails_on_foreign_key
    assert d.answer.startswith(f"The insert fails with '{sim.error}' ({code}), which is not a foreign key")
    assert words in d.answer and "would still fail because project_id" in d.answer
    assert d.exit_code == 1


def _point_key_index_at_a_twin(conn, twin_keys):
    """veo3_projects' key index and the key index of a twin table holding `twin_keys` swap root
    pages (SQLite never does this; a crafted or damaged file can): quick_check, which does not
    compare an index with its table, still says ok."""
    conn.execute("CREATE TABLE twin(id TEXT PRIMARY KEY)")
    conn.executemany("INSERT INTO twin VALUES (?)", [(k,) for k in twin_keys])
    roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_schema WHERE name LIKE 'sqlite_autoindex_%'"))
    a, b = roots["sqlite_autoindex_veo3_projects_1"], roots["sqlite_autoindex_twin_1"]
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_schema SET rootpage = CASE rootpage WHEN ? THEN ? ELSE ? END "
                 "WHERE rootpage IN (?, ?)", (a, b, a, a, b))
    conn.execute("PRAGMA writable_schema = OFF")


def _desynchronise_parent_index(path):
    """veo3_projects' key index loses its newest row's entry."""
    conn = sqlite3.connect(path, isolation_level=None)
    keys = [k for (k,) in conn.execute(
        "SELECT id FROM veo3_projects WHERE rowid <> (SELECT max(rowid) FROM veo3_projects)")]
    _point_key_index_at_a_twin(conn, keys)
    conn.close()
    check = sqlite3.connect(path)
    quick, full = check.execute("PRAGMA quick_check").fetchall(), check.execute("PRAGMA integrity_check").fetchall()
    check.close()
    assert quick == [("ok",)] and full != [("ok",)]  # the case is real on this SQLite


def test_a_parent_index_out_of_step_is_damage_not_a_missing_row(sample):
    path = sample("v26_seed_failure.db")
    _desynchronise_parent_index(path)
    with pytest.raises(errors.CorruptDatabaseError, match="sqlite_autoindex_veo3_projects_1 of veo3_projects holds"):
        diagnose(path)


def test_a_key_index_that_lacks_the_looked_up_row_is_damage_even_when_counts_agree(sample):
    """The project is back in veo3_projects, but the key index SQLite reads leads elsewhere
    (same number of entries, one of them another key): "restore the row" would be wrong."""
    path = sample("v26_seed_failure.db")
    project = diagnose(path).insert_simulation.values["project_id"]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO veo3_projects (id, name, created_at) VALUES (?, 'back', '2026')", (project,))
    keys = [k for (k,) in conn.execute("SELECT id FROM veo3_projects WHERE id <> ?", (project,))]
    _point_key_index_at_a_twin(conn, keys + ["not-a-project"])
    conn.close()
    with pytest.raises(errors.CorruptDatabaseError, match=f"lacks the row whose id is '{project}'"):
        diagnose(path)


def test_the_vocabularies_are_the_json_strings_the_cli_prints(sample):
    """The enums' values are the pinned JSON strings; a diagnosis carries members, the JSON the strings."""
    import json

    from toolkit.diagnosis import FindingCode, Reason, Severity, State

    assert [s.value for s in State] == ["strict", "partially-relaxed", "fixed", "no-upscales-table"] == list(STATES)
    assert [r.value for r in Reason] == ["ok", "missing-row", "near-miss", "type-mismatch", "parent-table-missing",
                                         "parent-key-not-unique", "null-not-allowed", "composite-partial",
                                         "stale-parent-table", "parent-deleted", "parent-key-changed"] == list(REASONS)
    assert [s.value for s in Severity] == ["error", "warning", "info"]
    d = diagnose(sample("cause_orphan_rows.db"))
    assert d.state is State.STRICT and all(isinstance(f.code, FindingCode) for f in d.findings)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["state"] == "strict" and {f["code"] for f in data["findings"]} == {f.code.value for f in d.findings}
    assert [r["reason"] for r in data["insert_simulation"]["references"]] \
        == [r.reason.value for r in d.insert_simulation.references]


def test_results_are_frozen_and_vocabularies_closed(sample):
    import dataclasses

    from toolkit.diagnosis import Finding

    d = diagnose(sample("v26_seed_failure.db"))
    ref = d.insert_simulation.references[0]
    for obj, name in ((d, "state"), (d, "original_hashes"), (ref, "reason"), (d.findings[0], "severity"),
                      (d.insert_simulation, "ok"), (d.schema, "tables")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)
    assert d.original_hashes  # the hashes as read, joined by replace after the copy was proven unchanged
    with pytest.raises(ValueError):
        Finding("no-such-code", "error", "a misspelt code is refused where it is made")


def test_a_full_disk_under_the_copy_is_not_the_inserts_answer(small_disk):
    """SQLITE_FULL from the disk holding the toolkit's copy is raised (the machine's failure, exit 75),
    while the same code from the file's own AUTOINCREMENT limit is the insert's answer (test above)."""
    from toolkit.appmodel import VIDEO_APP, default_values
    from toolkit.profile import simulate_insert
    from toolkit.safe_access import connect
    from toolkit.schema import read_schema
    from toolkit.samples import SAMPLES_DIR
    from toolkit.sqlite_codes import Kind, kind_of

    disk = small_disk("2m")
    copy = disk / "work.db"
    # a fixed file, whose insert succeeds and so writes (SQLite refuses a one-row insert that fails
    # an immediate foreign key before writing anything: that answer needs no room)
    copy.write_bytes((SAMPLES_DIR / "v30_fixed.db").read_bytes())
    conn = connect(copy)
    try:
        info = read_schema(conn, database=str(copy))
        values = default_values(conn, info)
        assert simulate_insert(VIDEO_APP, conn, info, values).ok  # with room: the insert's answer
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)  # now take every byte left on that disk
        try:
            while os.write(filler, b"\1" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(filler)
        with pytest.raises(sqlite3.Error) as caught:
            simulate_insert(VIDEO_APP, conn, info, values)
        assert kind_of(caught.value) is Kind.FULL
    finally:
        conn.close()


def test_no_affinity_warning_for_a_pairing_sqlite_converts_alike(tmp_path):
    path = tmp_path / "shop.db"
    make_db(path, "CREATE TABLE customers (id NUMERIC PRIMARY KEY, code TEXT UNIQUE);"
                  "CREATE TABLE orders (customer INTEGER REFERENCES customers (id),"
                  " customer_code INTEGER REFERENCES customers (code));")
    d = diagnose(path)
    warned = [f.column for f in d.findings if f.code == "type-affinity-mismatch"]
    assert warned == ["customer_code"]  # INTEGER vs NUMERIC converts alike; INTEGER vs TEXT does not


@pytest.mark.parametrize("name, repaired", [("v26_seed_failure.db", True), ("028_recorded_not_applied.db", True),
                                            ("v30_fixed.db", False), ("cause_near_miss_case.db", True)])
def test_the_video_apps_answer_ends_with_its_fix_and_the_fix_as_printed_repairs_it(sample, tmp_path, name, repaired):
    import shlex
    import subprocess
    import sys

    src = sample(name)
    d = diagnose(src)
    assert ("Repair with: " in d.answer) == repaired
    if not repaired:
        return
    command = d.answer.split("Repair with: ", 1)[1]
    assert command == f"python -m toolkit fix {shlex.quote(str(src))} --out FIXED.db"
    fixed = tmp_path / "fixed.db"
    args = shlex.split(command.replace("python -m toolkit ", "", 1).replace("FIXED.db", shlex.quote(str(fixed))))
    result = subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    after = diagnose(fixed)
    assert "Repair with" not in after.answer and after.state == "fixed"


def test_a_null_key_is_shown_as_not_checked_and_sqlite_accepts_it(sample):
    """028 left the foreign keys and made the columns nullable: a NULL project_id is never looked up."""
    d = diagnose(sample("028_nullable_fks_kept.db"), {"project_id": None})
    refs = d.references_frame().set_index("column")
    assert refs.loc["project_id", "parent exists"] == "not checked (NULL)" and refs.loc["project_id", "reason"] == "ok"
    assert "never checks" in refs.loc["project_id", "why"] and "matches" not in refs.loc["project_id", "why"]
    assert set(refs.loc[["source_generation_id", "profile_id"], "parent exists"]) == {"yes"}
    assert d.insert_simulation.ok  # SQLite, with foreign keys on, accepts the row


def test_not_null_is_a_constraint_of_its_own_not_the_foreign_keys(sample):
    strict = diagnose(sample("v26_seed_failure.db"), {"project_id": None})
    not_null = strict.finding("fk-columns-not-null")
    assert not_null and all("NOT NULL plays no part in the foreign-key check" in f.message for f in not_null)
    present = strict.finding("fk-constraints-present")
    assert any("whose project_id is not NULL needs a matching veo3_projects row" in f.message for f in present)
    # the strict file refuses the NULL with NOT NULL's own error, not a foreign key's
    assert strict.insert_simulation.error_code == "SQLITE_CONSTRAINT_NOTNULL"
    assert "NOT NULL constraint failed" in (strict.insert_simulation.error or "")


def test_the_error_message_answers_state_sqlites_rules(sample):
    mismatch = diagnose(sample("cause_parent_pk_dropped.db"),
                        error_message='foreign key mismatch - "veo3_video_upscales" referencing "veo3_projects"')
    assert "refuses every write that touches the key" in mismatch.answer
    assert "a UNIQUE index on the parent columns, with their own collation, ends it" in mismatch.answer
    gone = diagnose(sample("cause_renamed_parent_dropped.db"),
                    error_message="no such table: main.veo3_video_generations_old")
    assert "NULL keys too" in gone.answer and "every INSERT into the child" in gone.answer
