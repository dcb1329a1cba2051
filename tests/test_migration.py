"""apply_030: a proven-lossless copy, whatever the customer's table carries."""
import shutil
import sqlite3
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import APP_FILES, BAD, ids, make_db
from customer_files import app_file, customised_file
from toolkit import appmodel as app
from toolkit import errors
from toolkit.diagnosis import diagnose
from toolkit.migration import apply_030, plan_for
from toolkit.safe_access import fingerprint


def upscale_rows(path):
    conn = sqlite3.connect(path)
    cols = [r[0] for r in conn.execute("SELECT name FROM pragma_table_xinfo('veo3_video_upscales')")]
    rows = conn.execute(f"SELECT rowid, {', '.join(chr(34) + c + chr(34) for c in cols)} FROM veo3_video_upscales "
                        "ORDER BY rowid").fetchall()
    conn.close()
    return rows


def schema_of(path, kind):
    conn = sqlite3.connect(path)
    rows = set(conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = ?", (kind,)).fetchall())
    conn.close()
    return rows


@pytest.mark.parametrize("scenario", APP_FILES, ids=ids)
def test_fix_every_sample_is_proven_and_a_second_fix_skips(scenario, sample, tmp_path):
    path = sample(scenario.filename)
    before = fingerprint(path)
    out = tmp_path / "fixed.db"
    result = apply_030(path, out)
    assert fingerprint(path) == before
    if scenario.state == "fixed":
        assert result.skipped and "nothing to do" in result.reason and not out.exists()
        return
    p = result.proof
    assert p.ok and p.data_identical and p.rowids_kept and p.indexes_preserved and p.triggers_preserved
    assert p.foreign_keys_removed and p.columns_nullable and p.integrity_ok and p.original_unchanged
    assert p.insert_after_ok and p.insert_before_ok == (not scenario.failing)
    assert upscale_rows(out) == upscale_rows(path)  # independently of the proof
    assert not any(out.parent.glob(".fk-toolkit-fix-*"))  # no work folder left behind
    d = diagnose(out)
    assert d.state == "fixed" and d.insert_simulation.failing == [] and not d.needs_migration_030
    if scenario.recorded_version is not None:
        assert result.recorded_version_after == max(30, scenario.recorded_version)
    again = apply_030(out, tmp_path / "again.db")
    assert again.skipped and not (tmp_path / "again.db").exists()


def test_no_upscale_table_is_refused(sample, tmp_path):
    with pytest.raises(errors.RefusedError, match="no veo3_video_upscales table"):
        apply_030(sample("other_app.db"), tmp_path / "x.db")
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("scenario", BAD, ids=ids)
def test_bad_files_leave_no_output(scenario, sample, tmp_path):
    with pytest.raises(errors.BadInputError):
        apply_030(sample(scenario.filename), tmp_path / "x.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == [scenario.filename]


def test_existing_output_is_not_overwritten_without_force(sample, tmp_path):
    out = tmp_path / "fixed.db"
    out.write_bytes(b"precious")
    with pytest.raises(errors.OutputExistsError, match="--force"):
        apply_030(sample("v26_seed_failure.db"), out)
    assert out.read_bytes() == b"precious"
    apply_030(sample("v26_seed_failure.db"), out, force=True)
    assert diagnose(out).state == "fixed"


def test_writing_over_the_original_is_refused(sample):
    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    with pytest.raises(errors.RefusedError, match="customer's file itself"):
        apply_030(path, path, force=True)
    assert fingerprint(path) == before


def test_extra_columns_check_collate_generated_indexes_triggers_views_survive(tmp_path):
    path = customised_file(tmp_path / "custom.db")
    out = tmp_path / "fixed.db"
    result = apply_030(path, out)
    assert result.proof.ok
    assert upscale_rows(out) == upscale_rows(path)
    for kind in ("index", "trigger", "view"):
        assert schema_of(out, kind) == schema_of(path, kind), kind
    conn = sqlite3.connect(out)
    sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'veo3_video_upscales'").fetchone()[0]
    for kept in ("CHECK (priority BETWEEN 1 AND 5)", "COLLATE NOCASE", "GENERATED ALWAYS AS (upper(label)) VIRTUAL",
                 "DEFAULT 3", "status TEXT NOT NULL DEFAULT 'pending'"):
        assert kept in sql, kept
    assert "REFERENCES" not in sql
    # the constraints still work: CHECK rejects, the trigger fires, the view reads
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO veo3_video_upscales (id, created_at, updated_at, priority) VALUES ('x', 't', 't', 9)")
    conn.execute("INSERT INTO veo3_video_upscales (id, source_generation_id, created_at, updated_at, label) "
                 "VALUES ('new', 'gone', 't', 't', 'abc')")
    assert conn.execute("SELECT count(*) FROM upscale_audit WHERE upscale_id = 'new'").fetchone() == (1,)
    assert conn.execute("SELECT label_upper FROM veo3_video_upscales WHERE id = 'new'").fetchone() == ("ABC",)
    assert conn.execute("SELECT count(*) FROM upscale_counts").fetchone()[0] >= 1


def test_autoincrement_counter_and_without_rowid_primary_key(tmp_path):
    path = tmp_path / "auto.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""
        CREATE TABLE profiles (id TEXT PRIMARY KEY);
        CREATE TABLE veo3_projects (id TEXT PRIMARY KEY);
        CREATE TABLE veo3_video_generations (id TEXT PRIMARY KEY, profile_id TEXT, project_id TEXT, created_at TEXT);
        CREATE TABLE veo3_video_upscales (n INTEGER PRIMARY KEY AUTOINCREMENT, source_generation_id TEXT NOT NULL
          REFERENCES veo3_video_generations(id), profile_id TEXT NOT NULL REFERENCES profiles(id),
          project_id TEXT NOT NULL REFERENCES veo3_projects(id), created_at TEXT, updated_at TEXT, status TEXT,
          resolution TEXT);
        INSERT INTO veo3_video_upscales (n, source_generation_id, profile_id, project_id) VALUES (500, 'a', 'b', 'c');
        DELETE FROM veo3_video_upscales;
        INSERT INTO veo3_video_upscales (source_generation_id, profile_id, project_id) VALUES ('a', 'b', 'c');
    """)
    conn.close()
    out = tmp_path / "out.db"
    assert apply_030(path, out).proof.ok
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'veo3_video_upscales'").fetchone() == (501,)
    assert conn.execute("SELECT n FROM veo3_video_upscales").fetchall() == [(501,)]


def _keyless_file(path, *, unique_id):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(f"""
        CREATE TABLE profiles (id TEXT PRIMARY KEY);
        CREATE TABLE veo3_projects (id TEXT PRIMARY KEY);
        CREATE TABLE veo3_video_generations (id TEXT PRIMARY KEY, profile_id TEXT, project_id TEXT, created_at TEXT);
        CREATE TABLE veo3_video_upscales (id TEXT {'UNIQUE' if unique_id else ''}, source_generation_id TEXT NOT NULL
          REFERENCES veo3_video_generations(id), profile_id TEXT NOT NULL REFERENCES profiles(id),
          project_id TEXT NOT NULL REFERENCES veo3_projects(id), created_at TEXT, updated_at TEXT, status TEXT,
          resolution TEXT);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
        INSERT INTO veo3_video_upscales (rowid, id, source_generation_id, profile_id, project_id)
          SELECT i * 7 - 50, 'u' || i, 'g', 'p', 'j' FROM n;
    """)
    conn.close()
    return path


@pytest.mark.parametrize("rebuild", [True, False], ids=["12-step", "writable-schema"])
@pytest.mark.parametrize("unique_id", [True, False], ids=["key-index", "no-index"])
def test_rows_keep_their_rowids_whether_or_not_sqlite_transfers_them(unique_id, rebuild, tmp_path):
    # With an index on the new table SQLite moves the stored records, rowids and all; with none
    # it numbers them anew, and the plan's guard must copy them again with their own rowids.
    # (The simpler procedure moves no record at all.)
    path = _keyless_file(tmp_path / "keyless.db", unique_id=unique_id)
    plan, _, _ = plan_for(path, rebuild=rebuild)
    copies = any(s.startswith('INSERT INTO "veo3_video_upscales_030_new" SELECT *') for s in plan.plan.statements)
    assert copies == rebuild
    result = apply_030(path, tmp_path / "out.db", rebuild=rebuild)
    assert result.proof.procedure == ("12-step" if rebuild else "writable-schema")
    assert result.proof.ok and result.proof.rowids_kept
    assert upscale_rows(tmp_path / "out.db") == upscale_rows(path)
    assert upscale_rows(path)[0][0] == -43  # the gaps and the negative rowid really were there


def test_matches_the_apps_own_migration_030(tmp_path):
    ours = tmp_path / "ours.db"
    apply_030(app_file(tmp_path / "v29.db"), ours)
    theirs = tmp_path / "theirs.db"
    shutil.copyfile(tmp_path / "v29.db", theirs)
    conn = sqlite3.connect(theirs, isolation_level=None)
    app.migrate(conn, 30, from_version=29)
    conn.close()

    def shape(path):
        c = sqlite3.connect(path)
        return (c.execute("SELECT name, type, \"notnull\", dflt_value, pk "
                          "FROM pragma_table_info('veo3_video_upscales')").fetchall(),
                c.execute("SELECT * FROM pragma_foreign_key_list('veo3_video_upscales')").fetchall(),
                sorted(c.execute("SELECT name FROM sqlite_schema WHERE type = 'index'").fetchall()))
    assert shape(ours) == shape(theirs)
    assert upscale_rows(ours) == upscale_rows(theirs)


def test_user_version_files_record_30_in_user_version(tmp_path):
    out = tmp_path / "out.db"
    result = apply_030(app_file(tmp_path / "uv.db", version=27, record="user_version"), out)
    assert result.recorded_version_after == 30
    assert sqlite3.connect(out).execute("PRAGMA user_version").fetchone() == (30,)


def test_wal_mode_file_is_fixed_into_one_self_contained_file(sample, tmp_path):
    out = tmp_path / "fixed.db"
    result = apply_030(sample("wal_pending.db"), out)
    assert result.proof.ok and not (tmp_path / "fixed.db-wal").exists()
    counts = sqlite3.connect(out).execute("SELECT count(*) FROM veo3_video_upscales").fetchone()[0]
    assert counts == result.proof.rows_before and counts == len(upscale_rows(sample("wal_pending.db")))


# ---- the SQL script, run by the sqlite3 shell ----------------------------------------
@pytest.mark.parametrize("make", [customised_file, lambda p: _keyless_file(p, unique_id=False)],
                         ids=["customised", "keyless-gaps"])
def test_sql_script_run_by_the_sqlite3_shell_gives_the_same_result(make, tmp_path):
    shell = shutil.which("sqlite3")
    assert shell, "the sqlite3 shell (Debian package sqlite3) is needed: .ci/run installs it"
    src = make(tmp_path / "c.db")
    plan, state, _ = plan_for(src)
    by_shell = tmp_path / "shell.db"
    shutil.copyfile(src, by_shell)
    run = subprocess.run([shell, "-bail", str(by_shell)], input=plan.script(), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    ours = tmp_path / "ours.db"
    apply_030(src, ours)
    for kind in ("table", "index", "trigger", "view"):
        assert schema_of(by_shell, kind) == schema_of(ours, kind), kind
    assert upscale_rows(by_shell) == upscale_rows(ours)
    if any(name == "migrations" for name, _ in schema_of(ours, "table")):
        strip = "SELECT version, name FROM migrations ORDER BY version"
        assert sqlite3.connect(by_shell).execute(strip).fetchall() == sqlite3.connect(ours).execute(strip).fetchall()


# ---- random rows ----------------------------------------------------------------------
values = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False),
                   st.text(max_size=40), st.binary(max_size=40))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(values, values, values, values, values), min_size=0, max_size=25))
def test_every_random_row_survives(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("prop")
    path = folder / "p.db"
    conn = sqlite3.connect(path, isolation_level=None)
    app.migrate(conn, 27)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.executemany(
        "INSERT INTO veo3_video_upscales (id, source_generation_id, profile_id, project_id, status, resolution, "
        "result_file_size, error_message, created_at, updated_at) VALUES (?, ?, ?, ?, 'done', ?, ?, ?, 't', 't')",
        [(f"id-{i}", f"g{i}" if a is None else a, "p" if b is None else b, "j" if c is None else c,
          "4k" if d is None else d, e, a) for i, (a, b, c, d, e) in enumerate(rows)])
    conn.close()
    out = folder / "out.db"
    result = apply_030(path, out)
    assert result.proof.ok and result.proof.rows_after == len(rows)
    assert upscale_rows(out) == upscale_rows(path)


# ---- what sqlite-utils' transform would have lost --------------------------------------
def test_sqlite_utils_transform_loses_triggers_and_refuses_orphans(tmp_path):
    import sqlite_utils

    path = customised_file(tmp_path / "c.db")
    db = sqlite_utils.Database(path)
    triggers_before = {t.name for t in db.triggers}
    db["veo3_video_upscales"].transform(drop_foreign_keys=list(app.REFERENCE_COLUMNS),
                                        not_null={c: False for c in app.REFERENCE_COLUMNS})
    lost = triggers_before - {t.name for t in db.triggers}
    assert {"trg_upscale_insert", "trg_upscale_status"} <= lost
    db.close()
    # with foreign keys on, as the app connects, one orphan anywhere in the file stops it
    orphans = sqlite_utils.Database(app_file(tmp_path / "o.db"))
    orphans.executescript("CREATE TABLE notes (generation_id TEXT REFERENCES veo3_video_generations(id));"
                          "INSERT INTO notes VALUES ('deleted-long-ago');")
    orphans.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        orphans["veo3_video_upscales"].transform(drop_foreign_keys=list(app.REFERENCE_COLUMNS))
    ours = apply_030(tmp_path / "o.db", tmp_path / "o_fixed.db")
    assert ours.proof.ok


# ---- the row comparison the proof rests on --------------------------------------------
DECLARED = ["INTEGER", "REAL", "NUMERIC", "TEXT", "TEXT COLLATE NOCASE", "BLOB", ""]
PAIRS = [(1, 1.0), (2.0, 2), ("a", b"a"), ("A", "a"), (None, ""), ("1", 1), ("x", "x "), (b"\x00", b"")]


@pytest.mark.parametrize("declared", DECLARED, ids=lambda d: d or "untyped")
def test_rows_differing_tells_every_kind_of_value_apart(declared, tmp_path):
    from toolkit.migration import rows_differing
    from toolkit.schema import read_schema

    path = tmp_path / "two.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ATTACH ? AS before", (str(tmp_path / "before.db"),))
    for schema in ("main", "before"):
        conn.execute(f"CREATE TABLE {schema}.t (v {declared})")
    # SQLite's affinity may turn both values of a pair into the same one on the way in (REAL makes
    # 1 and 1.0 both 1.0): the expected count is what was stored, read back with typeof
    expected = 0
    for i, (old, new) in enumerate(PAIRS):
        conn.execute("INSERT INTO before.t (rowid, v) VALUES (?, ?)", (i, old))
        conn.execute("INSERT INTO main.t (rowid, v) VALUES (?, ?)", (i, new))
        stored = conn.execute("SELECT typeof(b.v), quote(b.v), typeof(a.v), quote(a.v) FROM before.t b, main.t a "
                              "WHERE a.rowid = ? AND b.rowid = ?", (i, i)).fetchone()
        expected += stored[:2] != stored[2:]
    conn.execute("INSERT INTO before.t (rowid, v) VALUES (99, 'only before')")
    table = read_schema(conn, database="before.db", count_rows=False).table("t")
    assert expected >= 3  # the pairs really differ in storage for every affinity
    assert rows_differing(conn, table) == expected + 1
    if table.columns[0].affinity in ("INTEGER", "REAL", "NUMERIC"):
        assert rows_differing(conn, table, copied=True) == expected + 1


@pytest.mark.parametrize("declared", DECLARED, ids=lambda d: d or "untyped")
def test_a_copy_changes_integer_and_real_only_where_the_proof_still_looks(declared, tmp_path):
    # rows_differing(copied=True) skips typeof() on TEXT and BLOB affinity: copying into a column
    # declared alike, by either statement the plan uses, never turns 1 into 1.0 there
    conn = sqlite3.connect(tmp_path / "copy.db", isolation_level=None)
    conn.execute(f"CREATE TABLE old (k TEXT UNIQUE, v {declared})")
    values = [1, 1.0, 2.5, "1", "1.0", b"1", None, 10**18, -0.0]
    conn.executemany("INSERT INTO old VALUES (?, ?)", [(str(i), v) for i, v in enumerate(values)])
    for target, copy in (("fast", "INSERT INTO fast SELECT * FROM old"),
                         ("named", "INSERT INTO named (rowid, k, v) SELECT rowid, k, v FROM old")):
        conn.execute(f"CREATE TABLE {target} (k TEXT UNIQUE, v {declared})")
        conn.execute(copy)
        assert conn.execute(f"SELECT count(*) FROM old o JOIN {target} n ON n.rowid = o.rowid "
                            "WHERE typeof(o.v) <> typeof(n.v) OR o.v IS NOT n.v").fetchone() == (0,)


def test_recording_version_30_fires_none_of_the_files_triggers(tmp_path):
    """A trigger on the migrations table that would empty other tables is set aside around the
    record (and kept verbatim), so the fixed copy has every row of every table."""
    path = app_file(tmp_path / "app.db")
    trap = ("CREATE TRIGGER wipe AFTER INSERT ON migrations BEGIN DELETE FROM profiles; "
            "UPDATE veo3_projects SET name = 'x'; END")
    conn = sqlite3.connect(path)
    conn.execute(trap)
    before = {t: conn.execute(f'SELECT count(*), total(length(name)) FROM "{t}"').fetchone()
              for t in ("profiles", "veo3_projects")}
    conn.close()
    result = apply_030(path, tmp_path / "fixed.db")
    assert result.proof.ok and result.recorded_version_after == 30
    fixed = sqlite3.connect(result.output)
    assert {t: fixed.execute(f'SELECT count(*), total(length(name)) FROM "{t}"').fetchone()
            for t in before} == before
    assert fixed.execute("SELECT sql FROM sqlite_schema WHERE name = 'wipe'").fetchone() == (trap,)
    fixed.close()


def test_a_parent_index_out_of_step_is_refused_not_proven(sample, tmp_path):
    from test_diagnosis import _desynchronise_parent_index

    path = sample("v26_seed_failure.db")
    _desynchronise_parent_index(path)
    with pytest.raises(errors.CorruptDatabaseError, match="sqlite_autoindex_veo3_projects_1 of veo3_projects holds"):
        apply_030(path, tmp_path / "fixed.db")
    assert not (tmp_path / "fixed.db").exists()


def test_text_stored_after_a_declaration_never_reaches_a_script(sample, tmp_path):
    """A crafted schema entry carries a shell command after the table's declaration."""
    path = sample("v26_seed_failure.db")
    canary = tmp_path / "CANARY"
    conn = sqlite3.connect(path, isolation_level=None)
    (sql,) = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'veo3_video_upscales'").fetchone()
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_schema SET sql = ? WHERE name = 'veo3_video_upscales'",
                 (f"{sql};\n.shell touch {canary}",))
    conn.close()
    before = fingerprint(path)
    with pytest.raises(errors.UnsafeContentError, match="sqlite3 shell would run|more text"):
        plan_for(path)
    with pytest.raises(errors.UnsafeContentError):
        apply_030(path, tmp_path / "fixed.db")
    assert not canary.exists() and not (tmp_path / "fixed.db").exists() and fingerprint(path) == before


def test_fix_exits_1_with_no_failed_line_when_the_insert_still_fails_for_another_reason(sample, tmp_path):
    import sys

    path = sample("v26_seed_failure.db")
    make_db(path, "CREATE TRIGGER refuse BEFORE INSERT ON veo3_video_upscales "
                  "BEGIN SELECT RAISE(ABORT, 'no upscales today'); END;")
    out = tmp_path / "fixed.db"
    run = subprocess.run([sys.executable, "-m", "toolkit", "fix", str(path), "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert "[FAILED]" not in run.stdout and "no upscales today" in run.stdout and out.exists()


@pytest.mark.parametrize("table, clause", [
    ("migrations", "CHECK (version < 30 OR load_extension('/tmp/payload') IS NULL)"),
    ("veo3_video_upscales", "CHECK (trap IS NULL OR load_extension(trap) IS NULL)"),
])
def test_a_function_the_fix_would_run_that_is_not_sqlites_own_refuses_the_script(sample, tmp_path, table, clause):
    """The sqlite3 shell loads extensions: a CHECK of a table the script writes to must
    not call anything but SQLite's own functions, or the script is never printed."""
    path = sample("v26_seed_failure.db")
    conn = sqlite3.connect(path)
    conn.execute(f"ALTER TABLE {table} ADD COLUMN trap TEXT {clause}")
    conn.close()
    with pytest.raises(errors.UnsafeContentError, match=r"load_extension\(\)"):
        plan_for(path)
    with pytest.raises(errors.UnsafeContentError, match=r"load_extension\(\)"):
        apply_030(path, tmp_path / "fixed.db")


def test_the_result_and_its_proof_are_frozen(sample, tmp_path):
    import dataclasses

    from toolkit.diagnosis import State

    result = apply_030(sample("v26_seed_failure.db"), tmp_path / "f.db")
    assert result.state_before is State.STRICT and result.state_after is State.FIXED
    assert result.proof.original_unchanged and result.proof.insert_before_ok is False
    for obj, name in ((result, "skipped"), (result, "output"), (result.proof, "original_unchanged"),
                      (result.proof, "insert_before_ok")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)
    skipped = apply_030(tmp_path / "f.db", tmp_path / "g.db")
    assert skipped.skipped and skipped.state_before is State.FIXED and skipped.proof is None
