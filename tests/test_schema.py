"""inspect(): what each sample holds, as its manifest row says, read from a safe copy."""
import sqlite3

import pytest

from conftest import APP_FILES, GOOD, ids
from toolkit import appmodel as app
from toolkit.safe_access import fingerprint
from toolkit.schema import inspect


@pytest.mark.parametrize("scenario", GOOD, ids=ids)
def test_recorded_version_and_tables_match_the_manifest(scenario, sample, manifest):
    path = sample(scenario.filename)
    before = fingerprint(path)
    info = inspect(path)
    assert fingerprint(path) == before
    assert info.recorded_version == manifest[scenario.filename]["recorded_version"]
    assert info.sqlite_version == sqlite3.sqlite_version
    has_upscales = info.table(app.UPSCALES) is not None
    assert has_upscales == (manifest[scenario.filename]["state"] != "no-upscales-table")


@pytest.mark.parametrize("scenario", APP_FILES, ids=ids)
def test_upscale_table_foreign_keys_and_nullability(scenario, sample):
    table = inspect(sample(scenario.filename)).table(app.UPSCALES)
    fk_cols = {c for fk in table.foreign_keys for c in fk.columns}
    nullable = {c.name for c in table.columns if not c.notnull}
    if scenario.state == "strict":
        assert fk_cols == set(app.REFERENCE_COLUMNS)
        assert not nullable & set(app.REFERENCE_COLUMNS)
    elif scenario.state == "partially-relaxed":
        assert fk_cols == set(app.REFERENCE_COLUMNS)
        assert set(app.REFERENCE_COLUMNS) <= nullable
    else:
        assert fk_cols == set() and set(app.REFERENCE_COLUMNS) <= nullable
    assert {i.columns[0] for i in table.indexes if i.origin == "c"} >= set(app.REFERENCE_COLUMNS)


def _fk(info, column):
    return next(fk for fk in info.table(app.UPSCALES).foreign_keys if fk.columns == [column])


def test_renamed_and_dropped_parent_is_reported_missing(sample):
    fk = _fk(inspect(sample("cause_renamed_parent_dropped.db")), "source_generation_id")
    assert fk.parent_table == "veo3_video_generations_old"
    assert fk.parent_table_exists is False and fk.parent_key_unique is False


def test_parent_without_primary_key_is_reported_not_unique(sample):
    info = inspect(sample("cause_parent_pk_dropped.db"))
    fk = _fk(info, "project_id")
    assert fk.parent_table_exists is True and fk.parent_key_unique is False
    assert _fk(info, "profile_id").parent_key_unique is True


def test_untyped_parent_column_is_visible(sample):
    info = inspect(sample("cause_type_mismatch.db"))
    col = info.table(app.PROJECTS).column("id")
    assert col.type == "" and col.affinity == "BLOB"
    assert info.table(app.UPSCALES).column("project_id").affinity == "TEXT"


def test_wal_rows_are_counted(sample, tmp_path):
    info = inspect(sample("wal_pending.db"))
    assert info.journal_mode == "wal" and info.wal_frames > 0
    only_db = tmp_path / "only" / "wal_pending.db"
    only_db.parent.mkdir()
    only_db.write_bytes(sample("wal_pending.db").read_bytes())
    without = inspect(only_db)
    assert info.table(app.UPSCALES).row_count != without.table(app.UPSCALES).row_count
    assert info.table(app.PROJECTS).row_count == without.table(app.PROJECTS).row_count - 1


def test_columns_indexes_triggers_views_generated_columns(tmp_path):
    path = tmp_path / "custom.db"
    conn = sqlite3.connect(path)
    conn.executescript('''
        CREATE TABLE "odd ""name""" (id INTEGER PRIMARY KEY, email TEXT COLLATE NOCASE UNIQUE,
            price REAL DEFAULT 1.5 CHECK (price > 0), doubled REAL GENERATED ALWAYS AS (price * 2) STORED,
            tripled REAL AS (price * 3));
        CREATE INDEX "part idx" ON "odd ""name"""(price) WHERE price > 10;
        CREATE TABLE child (id INTEGER PRIMARY KEY, odd_id INTEGER REFERENCES "odd ""name""" ON DELETE SET NULL);
        CREATE TRIGGER t AFTER INSERT ON child BEGIN SELECT 1; END;
        CREATE VIEW v AS SELECT * FROM child;
        INSERT INTO "odd ""name""" (id, email, price) VALUES (1, 'a@b', 2);
    ''')
    conn.close()
    info = inspect(path)
    odd = info.table('odd "name"')
    assert odd.row_count == 1
    cols = {c.name: c for c in odd.columns}
    assert cols["price"].default == "1.5" and cols["id"].pk == 1
    assert cols["doubled"].generated and cols["tripled"].generated and not cols["price"].generated
    part = next(i for i in odd.indexes if i.name == "part idx")
    assert part.partial and not part.unique and part.columns == ["price"] and "WHERE" in part.sql
    assert any(i.unique and i.columns == ["email"] for i in odd.indexes)
    fk = info.table("child").foreign_keys[0]
    # REFERENCES without columns means the parent's primary key
    assert fk.parent_columns == ["id"] and fk.parent_key_unique and fk.on_delete == "SET NULL"
    assert [t.name for t in info.triggers] == ["t"] and [v.name for v in info.views] == ["v"]
    frames = [info.tables_frame(), info.columns_frame(), info.foreign_keys_frame(), info.indexes_frame()]
    assert all(len(f) > 0 for f in frames)


def test_without_rowid_comes_from_sqlite_not_from_the_sql_text(tmp_path):
    path = tmp_path / "wr.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE keyed (k TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE spelled (note TEXT DEFAULT 'WITHOUT ROWID');
    """)
    conn.close()
    info = inspect(path)
    assert info.table("keyed").without_rowid and not info.table("spelled").without_rowid


def test_a_parent_table_named_empty_string_is_a_table_with_a_unique_key(tmp_path):
    # "" is falsy in Python but a valid SQLite name: it must not read as a missing or keyless parent
    path = tmp_path / "empty-name.db"
    conn = sqlite3.connect(path)
    conn.executescript('CREATE TABLE "" ("" TEXT PRIMARY KEY); '
                       'CREATE TABLE child (a TEXT REFERENCES ""(""), b TEXT REFERENCES "");')
    conn.close()
    fks = inspect(path).table("child").foreign_keys
    assert [(fk.parent_table_exists, fk.parent_key_unique, fk.parent_columns) for fk in fks] == [(True, True, [""])] * 2


# ---- sqlite-utils' introspection gives the same answer on trusted files ------------------------
@pytest.mark.parametrize("scenario", GOOD, ids=ids)
def test_inspect_agrees_with_sqlite_utils_introspection(scenario, sample):
    """inspect() reads the PRAGMAs sqlite-utils reads, but through safe_access (see schema.py): on the
    committed samples, which are trusted, both must say the same."""
    import sqlite_utils

    path = sample(scenario.filename)
    info = inspect(path)
    db = sqlite_utils.Database(path, recursive_triggers=False)
    try:
        assert sorted(t.name for t in info.tables) == sorted(db.table_names())
        for table in info.tables:
            theirs = db.table(table.name)
            assert [(c.name, c.type, c.notnull, c.pk) for c in table.columns] == [
                (c.name, c.type, bool(c.notnull), c.is_pk) for c in theirs.columns]
            assert sorted((tuple(fk.columns), fk.parent_table, tuple(fk.parent_columns)) for fk in table.foreign_keys) \
                == sorted((fk.columns, fk.other_table, fk.other_columns) for fk in theirs.foreign_keys)
            assert sorted((i.name, tuple(i.columns), i.unique) for i in table.indexes) \
                == sorted((i.name, tuple(i.columns), bool(i.unique)) for i in theirs.indexes)
    finally:
        db.close()


def test_version_sources_are_the_json_strings(sample):
    from toolkit.schema import VersionSource

    assert [v.value for v in VersionSource] == ["migrations", "user_version"]
    assert inspect(sample("user_version_only.db")).version_source is VersionSource.USER_VERSION
    assert inspect(sample("v26_seed_failure.db")).to_dict()["version_source"] == "migrations"
