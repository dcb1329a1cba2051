"""The app's migrations, as code, build databases at any version."""
import sqlite3

import pytest

from toolkit import appmodel as app


def fk_columns(conn):
    return {r[0] for r in conn.execute("SELECT \"from\" FROM pragma_foreign_key_list(?)", (app.UPSCALES,))}


def notnull_columns(conn):
    return {r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?) WHERE \"notnull\"", (app.UPSCALES,))}


def build(tmp_path, version, **kw):
    conn = sqlite3.connect(tmp_path / f"v{version}.db", isolation_level=None)
    app.migrate(conn, version, **kw)
    return conn


def test_026_creates_the_strict_table_of_the_seed(tmp_path):
    conn = build(tmp_path, 26)
    assert fk_columns(conn) == set(app.REFERENCE_COLUMNS)
    assert set(app.REFERENCE_COLUMNS) <= notnull_columns(conn)
    fks = {r[3]: (r[2], r[4], r[6]) for r in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (app.UPSCALES,))}
    assert fks == {"source_generation_id": ("veo3_video_generations", "id", "CASCADE"),
                   "profile_id": ("profiles", "id", "CASCADE"),
                   "project_id": ("veo3_projects", "id", "CASCADE")}
    indexed = {r[0] for r in conn.execute(
        "SELECT ii.name FROM pragma_index_list(?) il, pragma_index_info(il.name) ii", (app.UPSCALES,))}
    assert {"source_generation_id", "profile_id", "project_id", "status", "created_at"} <= indexed
    assert [r[0] for r in conn.execute("SELECT version FROM migrations ORDER BY version")] == [1, 26]


def test_028_makes_columns_nullable_but_keeps_foreign_keys(tmp_path):
    conn = build(tmp_path, 28)
    assert fk_columns(conn) == set(app.REFERENCE_COLUMNS)
    assert not set(app.REFERENCE_COLUMNS) & notnull_columns(conn)


def test_030_removes_foreign_keys_and_is_a_no_op_when_relaxed(tmp_path):
    conn = build(tmp_path, 30)
    assert fk_columns(conn) == set()
    assert app.upscales_relaxed(conn)
    schema = conn.execute("SELECT group_concat(sql) FROM sqlite_schema").fetchone()
    conn.execute("BEGIN")
    app.MIGRATIONS[-1].apply(conn)
    conn.execute("COMMIT")
    assert conn.execute("SELECT group_concat(sql) FROM sqlite_schema").fetchone() == schema
    assert [r[0] for r in conn.execute("SELECT version FROM migrations")] == [1, 26, 27, 28, 29, 30]


@pytest.mark.parametrize("how,expected", [("user_version", 27), ("none", 0)])
def test_versions_can_be_recorded_in_user_version_or_not_at_all(tmp_path, how, expected):
    conn = build(tmp_path, 27, record=how)
    assert conn.execute("PRAGMA user_version").fetchone() == (expected,)
    assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'migrations'").fetchone() == (0,)


def test_skipped_migration_is_recorded_but_changes_nothing(tmp_path):
    conn = build(tmp_path, 28, skip=(28,))
    assert 28 in [r[0] for r in conn.execute("SELECT version FROM migrations")]
    assert set(app.REFERENCE_COLUMNS) <= notnull_columns(conn)


@pytest.mark.parametrize("name", ["upscale:", "upscale:gen-1", "upscale:ünïcode ✓", "x" * 500])
def test_the_inserts_id_is_the_uuid_modules_uuid5(name):
    import uuid

    from toolkit.appmodel import _uuid5

    assert _uuid5(name) == str(uuid.uuid5(uuid.NAMESPACE_URL, name))
