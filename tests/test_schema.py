"""inspect(): what each sample holds, as its manifest row says, read from a safe copy."""
import sqlite3

import pytest

from conftest import APP_FILES, GOOD, ids, make_db
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
    make_db(path, """
        CREATE TABLE keyed (k TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE spelled (note TEXT DEFAULT 'WITHOUT ROWID');
    """)
    info = inspect(path)
    assert info.table("keyed").without_rowid and not info.table("spelled").without_rowid


def test_a_parent_table_named_empty_string_is_a_table_with_a_unique_key(tmp_path):
    # "" is falsy in Python but a valid SQLite name: it must not read as a missing or keyless parent
    path = tmp_path / "empty-name.db"
    make_db(path, 'CREATE TABLE "" ("" TEXT PRIMARY KEY); '
                  'CREATE TABLE child (a TEXT REFERENCES ""(""), b TEXT REFERENCES "");')
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


# ---- DEFERRABLE, read from the declaration and checked against SQLite's behaviour ---------------
D, IM, N = "deferrable-initially-deferred", "deferrable-initially-immediate", "not-deferrable"
PARENTS = """
CREATE TABLE p (id INTEGER PRIMARY KEY, a, b, UNIQUE (a, b));
CREATE TABLE "odd ""p"" [x]" ("i d" TEXT PRIMARY KEY);
INSERT INTO p VALUES (1, 1, 1);
INSERT INTO "odd ""p"" [x]" VALUES ('1');
"""
# each child declares its keys in order; the expected deferral of each, in declaration order
DEFERRAL_FORMS = [
    ("c REFERENCES p", [N]),
    ("c REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED", [D]),
    ("c REFERENCES p NOT DEFERRABLE INITIALLY DEFERRED", [N]),
    ("c REFERENCES p DEFERRABLE", [IM]),
    ("c REFERENCES p DEFERRABLE INITIALLY IMMEDIATE", [IM]),
    ("c REFERENCES p NOT DEFERRABLE", [N]),
    ("c INTEGER CONSTRAINT \"f k\" REFERENCES p (id) ON UPDATE CASCADE MATCH FULL ON DELETE SET NULL "
     "ON INSERT SET DEFAULT DEFERRABLE /* ( */ INITIALLY -- ,\n DEFERRED", [D]),
    # SQLite parses DEFERRABLE as a constraint of its own: after NOT NULL it still applies to the key
    ("c INTEGER REFERENCES p NOT NULL DEFERRABLE INITIALLY DEFERRED DEFAULT 1", [D]),
    # ...and a later DEFERRABLE overrides an earlier one
    ("c REFERENCES p DEFERRABLE INITIALLY DEFERRED NOT DEFERRABLE", [N]),
    # ...and one that comes before a column's REFERENCES applies to the previous column's key
    ("c REFERENCES p, d INTEGER DEFERRABLE INITIALLY DEFERRED REFERENCES p", [D, N]),
    ("c, FOREIGN KEY (c) REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED", [D]),
    ("c, d, CONSTRAINT k FOREIGN KEY (c, d) REFERENCES p (a, b) ON DELETE CASCADE ON UPDATE RESTRICT "
     "DEFERRABLE INITIALLY DEFERRED", [D]),
    ("c, d, FOREIGN KEY (c, d) REFERENCES p (a, b) NOT DEFERRABLE INITIALLY DEFERRED", [N]),
    # several keys, column and table level, table constraints without commas between them
    ("c REFERENCES p DEFERRABLE INITIALLY DEFERRED, d REFERENCES p, e, f, g PRIMARY KEY, "
     "CHECK (e <> 'DEFERRABLE INITIALLY DEFERRED') FOREIGN KEY (e) REFERENCES p DEFERRABLE INITIALLY DEFERRED "
     "UNIQUE (g) FOREIGN KEY (f) REFERENCES p(id) MATCH SIMPLE", [D, N, D, N]),
    # quoted names with spaces and quotes, in every quoting style
    ("\"c \"\"1\"\"\" TEXT REFERENCES \"odd \"\"p\"\" [x]\" (\"i d\") DEFERRABLE INITIALLY DEFERRED, "
     "[d 2] TEXT, `e``3` TEXT, FOREIGN KEY ([d 2]) REFERENCES 'odd \"p\" [x]', "
     "FOREIGN KEY (\"e`3\") REFERENCES \"ODD \"\"P\"\" [X]\" DEFERRABLE INITIALLY DEFERRED", [D, N, D]),
]


def _waits_for_commit(conn, table, fk, columns):
    """SQLite's own answer: insert a row violating only `fk` inside a transaction and see whether
    the statement fails (immediate) or only COMMIT does (deferred)."""
    values = {c: (999 if c in fk.columns else 1) for c in columns}
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in values)
    conn.execute("BEGIN")
    try:
        conn.execute(f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(values))})',
                     tuple(values.values()))
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK")
        return False
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("COMMIT")
    conn.execute("ROLLBACK")
    return True


@pytest.mark.parametrize("without_rowid", [False, True])
@pytest.mark.parametrize(("body", "expected"), DEFERRAL_FORMS, ids=range(len(DEFERRAL_FORMS)))
def test_deferral_is_read_from_the_declaration_as_sqlite_applies_it(tmp_path, body, expected, without_rowid):
    from toolkit.ddl import Deferral
    from toolkit.schema import read_schema

    path = tmp_path / "d.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(PARENTS)
    key = "" if "PRIMARY KEY" in body else "k INTEGER PRIMARY KEY, "
    conn.execute(f"CREATE TABLE child ({key}{body}){' WITHOUT ROWID' if without_rowid and key else ''}")
    conn.execute("PRAGMA foreign_keys = ON")
    table = read_schema(conn, database=str(path)).table("child")
    declared = sorted(table.foreign_keys, key=lambda fk: -fk.id)  # PRAGMA's id 0 is the last declared
    assert [fk.deferrable for fk in declared] == [Deferral(e) for e in expected]
    columns = [c.name for c in table.columns]
    for fk in table.foreign_keys:
        assert fk.deferred == _waits_for_commit(conn, "child", fk, columns), fk
    conn.close()


def test_deferral_json_and_unknown_when_the_text_does_not_match(tmp_path):
    from toolkit.ddl import Deferral
    from toolkit.schema import declared_deferral, read_schema

    conn = sqlite3.connect(tmp_path / "j.db")
    conn.executescript(PARENTS + "CREATE TABLE child (c REFERENCES p ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED);")
    fk = read_schema(conn, database="j.db").to_dict()["tables"][0]["foreign_keys"][0]
    assert (fk["on_update"], fk["deferrable"], fk["deferred"]) == ("CASCADE", D, True)
    conn.row_factory = sqlite3.Row
    groups = {0: conn.execute("SELECT * FROM pragma_foreign_key_list('child')").fetchall()}
    # a text that declares another key, or none, or cannot be parsed: unknown, never guessed immediate
    assert declared_deferral("CREATE TABLE child (c REFERENCES q DEFERRABLE INITIALLY DEFERRED)", groups) \
        == {0: Deferral.UNKNOWN}
    assert declared_deferral("CREATE TABLE child (c)", groups) == {0: Deferral.UNKNOWN}
    assert declared_deferral("CREATE TABLE child (c REFERENCES", groups) == {0: Deferral.UNKNOWN}
    assert declared_deferral(None, groups) == {0: Deferral.UNKNOWN}
    conn.close()


def _random_declaration(rng, n):
    """A CREATE TABLE body of `n` keys in random forms: column or table level, actions and MATCH in
    any order, defer subclauses in every form, stand-alone DEFERRABLEs, comments, odd quoting."""
    defers = ["", "DEFERRABLE", "DEFERRABLE INITIALLY DEFERRED", "DEFERRABLE INITIALLY IMMEDIATE",
              "NOT DEFERRABLE", "NOT DEFERRABLE INITIALLY DEFERRED", "NOT DEFERRABLE INITIALLY IMMEDIATE",
              "DEFERRABLE /* x, ( */ INITIALLY -- y\n DEFERRED"]
    actions = ["ON DELETE CASCADE", "ON UPDATE SET NULL", "ON DELETE SET DEFAULT", "ON UPDATE NO ACTION",
               "ON DELETE RESTRICT", "MATCH FULL", "ON INSERT CASCADE"]
    parents = ['p', 'p(id)', 'p (id)', '"odd ""p"" [x]"("i d")', '"ODD ""P"" [X]"']
    names = ['c{}', '"c {}"', '[c{}]', '`c``{}`', '"c""{}"']
    columns, constraints = [], []
    for i in range(n):
        name = rng.choice(names).format(i)
        refs = (f"REFERENCES {rng.choice(parents)} " + " ".join(rng.sample(actions, rng.randint(0, 3)))
                + " " + rng.choice(defers))
        extra = rng.choice(["", "NOT NULL DEFAULT 1", "CHECK (1 <> 2)", "COLLATE BINARY"])
        if rng.random() < 0.5:
            tail = rng.choice(defers) if extra else ""  # a stand-alone DEFERRABLE after another constraint
            columns.append(f"{name} INTEGER {'CONSTRAINT k' + str(i) if rng.random() < 0.3 else ''} {refs} "
                           f"{extra} {tail}")
        else:
            columns.append(f"{name} INTEGER {extra}")
            constraints.append(f"FOREIGN KEY ({name}) {refs}")
    return ", ".join(["k INTEGER PRIMARY KEY", *columns, *constraints])


@pytest.mark.parametrize("seed", range(40))
def test_random_declarations_deferral_agrees_with_sqlite(tmp_path, seed):
    import random

    from toolkit.ddl import Deferral
    from toolkit.schema import read_schema

    rng = random.Random(seed)
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    conn.executescript(PARENTS)
    body = _random_declaration(rng, rng.randint(1, 5))
    conn.execute(f"CREATE TABLE child ({body})")
    conn.execute("PRAGMA foreign_keys = ON")
    table = read_schema(conn, database="r.db").table("child")
    columns = [c.name for c in table.columns]
    for fk in table.foreign_keys:
        assert fk.deferrable is not Deferral.UNKNOWN, body
        assert fk.deferred == _waits_for_commit(conn, "child", fk, columns), body
    conn.close()
