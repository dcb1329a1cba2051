"""Each crafted file of tests/hostile really has the property its case claims, shown with plain
SQLite (Python's sqlite3 with its defaults, or Debian's sqlite3 shell) on scratch copies.

These are facts about SQLite 3.40 (Debian 12), recorded as tests: where SQLite itself already
refuses an attack (an over-limit declaration, a direct-only function), the test says so.
"""
import re
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from hostile import CANARY_NAME, CORPUS, DB_NAME, journal, make_case
from hostile.cases import BAD_UTF8_COLUMN, BAD_UTF8_TABLE
from hostile.measure import run_measured

SQLITE_SHELL = "/usr/bin/sqlite3"
STAMP = "2026-01-01T00:00:00.000Z"
#: The app's insert of an upscale for its newest generation, as one SQL statement (so that a
#: subprocess or the sqlite3 shell can run it too).
APP_INSERT = (
    "INSERT INTO veo3_video_upscales (id, source_generation_id, profile_id, project_id, status, resolution, "
    f"created_at, updated_at) SELECT 'new-upscale', id, profile_id, project_id, 'pending', '4k', '{STAMP}', "
    f"'{STAMP}' FROM veo3_video_generations ORDER BY created_at DESC, rowid DESC LIMIT 1")
MISSING_PROJECT = ("SELECT count(*) FROM veo3_projects NOT INDEXED WHERE id = (SELECT project_id FROM "
                   "veo3_video_generations ORDER BY created_at DESC, rowid DESC LIMIT 1)")

#: every case a test below checks; the last test makes sure none is left out
COVERED: set[str] = set()


def cases(*names: str) -> list[str]:
    for name in names:
        assert name in CORPUS, name
    COVERED.update(names)
    return list(names)


def build(name: str, tmp_path: Path):
    folder = tmp_path / "customer"
    folder.mkdir()
    return make_case(name, folder)


def scratch_copy(db: Path, folder: Path, *, sidecars: bool = True) -> Path:
    """Copy the database (and its -journal) into `folder`, to be opened by plain SQLite."""
    folder.mkdir(exist_ok=True)
    for suffix in ("", "-journal") if sidecars else ("",):
        if Path(f"{db}{suffix}").exists():
            shutil.copyfile(f"{db}{suffix}", folder / f"{DB_NAME}{suffix}")
    return folder / DB_NAME


def connect(db: Path, *, trusted: bool = True, read_only: bool = False) -> sqlite3.Connection:
    uri = f"file:{db}?mode=ro&immutable=1" if read_only else f"file:{db}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.execute(f"PRAGMA trusted_schema = {'ON' if trusted else 'OFF'}")
    return conn


def error_of(conn: sqlite3.Connection, sql: str) -> sqlite3.Error | None:
    try:
        conn.execute(sql).fetchall()
    except sqlite3.Error as exc:
        return exc
    return None


_PROBE = r"""
import sqlite3, sys, time
db, deadline, *statements = sys.argv[1:]
conn = sqlite3.connect(db, isolation_level=None)
if float(deadline):
    end = time.monotonic() + float(deadline)
    conn.set_progress_handler(lambda: time.monotonic() > end, 10_000)
for sql in statements:
    try:
        print("ok", repr(conn.execute(sql).fetchall())[:200], flush=True)
    except sqlite3.Error as exc:
        print("error", getattr(exc, "sqlite_errorname", "?"), exc, flush=True)
"""


def probe(db: Path, *statements: str, tmp_path: Path, deadline: float = 0, hard_limit: float = 60, cwd=None,
          stop_above_mb: float | None = None):
    """Run `statements` with plain SQLite in a child process (which may crash, or take a GB):
    its output, exit status, wall time and peak memory."""
    return run_measured([sys.executable, "-c", _PROBE, str(db), str(deadline), *statements],
                        cwd=cwd or tmp_path, hard_limit=hard_limit, logs=tmp_path / "probe-logs",
                        stop_above_mb=stop_above_mb)


def shell(db: Path, script: str, tmp_path: Path):
    """Debian's sqlite3 shell on `db`, `script` on its standard input (as `fix --sql | sqlite3`)."""
    return run_measured([SQLITE_SHELL, str(db)], cwd=tmp_path, stdin=script.encode("utf-8", "surrogateescape"),
                        hard_limit=60, logs=tmp_path / "shell-logs")


# --------------------------------------------------------------------------- the corpus as a whole
def test_every_case_builds_fast_small_and_only_in_its_folder(tmp_path):
    started = time.monotonic()
    for i, (name, case) in enumerate(CORPUS.items()):
        folder = tmp_path / str(i)
        folder.mkdir()
        t0 = time.monotonic()
        built = make_case(name, folder)
        seconds = time.monotonic() - t0
        assert seconds < 2, (name, seconds)
        files = {p.name for p in folder.iterdir()}
        assert files <= {DB_NAME, f"{DB_NAME}-journal", "payload.so"}, (name, files)
        stored = sum(p.stat().st_blocks * 512 for p in folder.iterdir())
        assert stored < 10 << 20, (name, stored)
        assert "\n" not in case.attack and case.attack, name
        assert built.db.is_file()
    assert time.monotonic() - started < 20


# --------------------------------------------------------------------------- 1, 7: journals
SUPER_JOURNALS = {
    "super-journal names a file in the parent folder": lambda folder, cwd: folder.parent / CANARY_NAME,
    "super-journal names the database itself": lambda folder, cwd: folder / DB_NAME,
    "super-journal with a relative name": lambda folder, cwd: cwd / CANARY_NAME,
}


@pytest.mark.parametrize("name", cases(*SUPER_JOURNALS))
def test_super_journal_makes_plain_sqlite_delete_the_file_it_names(name, tmp_path):
    built = build(name, tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for folder in (tmp_path, cwd):
        (folder / CANARY_NAME).write_text("canary")
    victim = SUPER_JOURNALS[name](built.folder, cwd)
    named = journal.super_journal_name(Path(f"{built.db}-journal").read_bytes())
    assert named is not None and (cwd / named.decode()).resolve() == victim.resolve()
    copy = scratch_copy(built.db, tmp_path / "scratch")
    result = probe(copy, "SELECT count(*) FROM veo3_video_upscales", tmp_path=tmp_path, cwd=cwd)
    assert result.stdout.startswith("ok [(232,)]"), result.output
    assert not victim.exists(), "SQLite did not delete the super-journal"
    assert not Path(f"{copy}-journal").exists()  # rolled back (nothing to restore) and removed


@pytest.mark.parametrize("name", cases("hot journal claiming 262,144 pages"))
def test_journal_header_size_extends_the_copy(name, tmp_path):
    copy = scratch_copy(build(name, tmp_path).db, tmp_path / "scratch")
    before = copy.stat().st_size
    assert connect(copy).execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert before < 1 << 20 and copy.stat().st_size == 262_144 * 4096


@pytest.mark.parametrize("name", cases("sparse 1 GiB tail"))
def test_sparse_tail_holds_no_pages(name, tmp_path):
    db = build(name, tmp_path).db
    assert db.stat().st_size == 1 << 30 and db.stat().st_blocks * 512 < 1 << 20
    conn = connect(db, read_only=True)
    assert conn.execute("PRAGMA page_count").fetchone() == (86,)
    assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)


# --------------------------------------------------------------------------- 2, 13: what a shell would run
def stored_sql(db: Path, name: str) -> str:
    conn = connect(db, read_only=True)
    conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
    return conn.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (name,)).fetchone()[0]


def upscale_columns(db: Path) -> list[str]:
    conn = connect(db, read_only=True)
    conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
    return [row[1] for row in conn.execute("PRAGMA table_info(veo3_video_upscales)")]


#: cases whose commands load a library: run against a copy of the file itself
PAYLOADS = {"migrations CHECK loads a library", "upscale CHECK loads a library"}
#: case -> the script a careless printer of this file would produce
SHELL_SCRIPTS = {
    "table declaration followed by .shell": lambda db: stored_sql(db, "veo3_video_upscales") + "\n",
    "table declaration followed by .system": lambda db: stored_sql(db, "veo3_video_upscales") + "\n",
    "index declaration followed by .shell": lambda db: stored_sql(db, "veo3_video_upscales") + ";\n"
    + stored_sql(db, "idx_veo3_video_upscales_status") + "\n",
    "column name holding a newline and .shell": lambda db: f"-- columns: {upscale_columns(db)[-1]}\nSELECT 1;\n",
    "migrations CHECK loads a library": lambda db: "INSERT INTO migrations VALUES (30, '030', 'now');\n",
    "upscale CHECK loads a library": lambda db: "PRAGMA quick_check;\n",
}


@pytest.mark.parametrize("name", cases(*SHELL_SCRIPTS))
def test_shell_runs_what_the_file_carries(name, tmp_path):
    """The file passes Python's quick_check (the tail after `;` is never parsed; a CHECK loads
    nothing where extension loading is off, which it is in Python, where the upscale table's
    CHECK is "not authorized"); what it carries runs as soon as it reaches the sqlite3 shell
    in the shape a script would give it."""
    built = build(name, tmp_path)
    loads_library = name in PAYLOADS
    if loads_library and not (built.folder / "payload.so").exists():
        pytest.skip("no C compiler to build the payload library")
    error = error_of(connect(built.db), "PRAGMA quick_check")
    assert str(error) == "not authorized" if name == "upscale CHECK loads a library" else error is None
    script = SHELL_SCRIPTS[name](built.db)
    target = scratch_copy(built.db, tmp_path / "scratch") if loads_library else tmp_path / "empty.db"
    result = shell(target, script, tmp_path)
    assert built.shell_canary.exists(), (script[-300:], result.output)


# --------------------------------------------------------------------------- 3: views
def views(db: Path) -> dict[str, str]:
    conn = connect(db, read_only=True)
    return dict(conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'view'"))


@pytest.mark.parametrize("name, count, references", [
    *((n, c, 1) for n, c in zip(cases("20,000 chained views", "8,000 chained views"), (20_000, 8_000), strict=True)),
    (cases("views fanning out 40 levels")[0], 40, 2),
])
def test_views_are_nested_as_deep_as_claimed(name, count, references, tmp_path):
    found = views(build(name, tmp_path).db)
    assert len(found) == count
    for i in range(2, count + 1):
        assert len(re.findall(rf"\bv{i - 1}\b", found[f"v{i}"])) == references


def test_20000_chained_views_crash_plain_sqlite(tmp_path):
    result = probe(build("20,000 chained views", tmp_path).db, "PRAGMA table_info(v20000)", tmp_path=tmp_path)
    assert result.returncode == -signal.SIGSEGV, result


@pytest.mark.slow
def test_8000_chained_views_prepare_past_any_deadline(tmp_path):
    """SQLite's progress handler runs only while a statement executes, not while it prepares."""
    result = probe(build("8,000 chained views", tmp_path).db, "PRAGMA table_info(v8000)", tmp_path=tmp_path,
                   deadline=0.5, hard_limit=5)
    assert result.killed, result


def test_fan_out_is_refused_by_sqlite_itself(tmp_path):
    conn = connect(build("views fanning out 40 levels", tmp_path).db)
    assert 'too many references to "v1"' in str(error_of(conn, "SELECT count(*) FROM v40"))


# --------------------------------------------------------------------------- 4, 8: healthy files
HEALTHY_FK_ONLY = cases("CHECK (json_valid(settings))", "index on json_extract()",
                        "generated column using json_extract()", "DEFAULT using strftime()",
                        "math functions in CHECK, index and generated column", "UTF-16le database",
                        "migrations trigger deletes parents", "migrations trigger updates parents")


@pytest.mark.parametrize("name", HEALTHY_FK_ONLY)
def test_healthy_file_fails_only_on_the_reference(name, tmp_path):
    built = build(name, tmp_path)
    assert built.case.healthy
    conn = connect(built.db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.execute("PRAGMA foreign_keys = ON")
    error = error_of(conn, APP_INSERT)
    assert error is not None and error.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY"


@pytest.mark.parametrize("name, refused", [
    ("CHECK (json_valid(settings))", "malformed database schema (veo3_video_upscales) - unsafe use of json_valid()"),
    ("index on json_extract()", "malformed database schema (idx_upscales_preset) - unsafe use of json_extract()"),
    ("generated column using json_extract()",
     "malformed database schema (veo3_video_upscales) - unsafe use of json_extract()"),
    ("DEFAULT using strftime()", None),
    ("math functions in CHECK, index and generated column", None),
])
def test_what_trusted_schema_off_refuses_on_sqlite_3_40(name, refused, tmp_path):
    """Recorded: with trusted_schema off before the schema is read, SQLite 3.40 refuses to load
    a schema whose CHECK, expression index or generated column calls a JSON function (not marked
    innocuous): every statement fails as "malformed", even one on another table. Date and math
    functions are innocuous and load."""
    assert sqlite3.sqlite_version_info[:2] == (3, 40), "re-record these facts for this SQLite"
    db = build(name, tmp_path).db
    for sql in ("SELECT count(*) FROM profiles", "PRAGMA quick_check", APP_INSERT):
        error = error_of(connect(db, trusted=False), sql)
        assert (str(error) if error else None) == refused, sql


def test_utf16_database_is_utf16(tmp_path):
    conn = connect(build("UTF-16le database", tmp_path).db)
    assert conn.execute("PRAGMA encoding").fetchone() == ("UTF-16le",)
    assert conn.execute("SELECT count(*) FROM veo3_video_upscales").fetchone() == (232,)


@pytest.mark.parametrize("name, changed", [
    ("migrations trigger deletes parents", "SELECT count(*) FROM veo3_projects"),
    ("migrations trigger updates parents", "SELECT group_concat(name) FROM profiles"),
])
def test_recording_a_version_changes_other_tables(name, changed, tmp_path):
    conn = connect(build(name, tmp_path).db)
    before = conn.execute(changed).fetchone()
    conn.execute("INSERT INTO migrations VALUES (30, '030_relax_upscale_fks', ?)", (STAMP,))
    assert conn.execute(changed).fetchone() != before


# --------------------------------------------------------------------------- 5, 13: unbounded work
@pytest.mark.parametrize("name, sql", [
    (cases("trigger inserting an endless recursive CTE")[0], APP_INSERT),
    (cases("view over an endless recursive CTE")[0], "SELECT count(*) FROM endless"),
])
def test_endless_work_only_stops_at_a_deadline(name, sql, tmp_path):
    conn = connect(build(name, tmp_path).db)
    deadline = time.monotonic() + 1
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    assert "interrupted" in str(error_of(conn, sql))


#: case -> (statement, whether it takes more than the harness's 500 MB, what SQLite answers when it
#: is let finish, or None when it is stopped at 500 MB)
BOMBS = {
    "printf bomb in a view": ("SELECT length(s) FROM big_text", True, None),
    "printf bomb in a trigger": (APP_INSERT, True, None),
    "printf bomb in an expression index": (APP_INSERT, True, None),
    "randomblob(1e9) DEFAULT": (APP_INSERT, True, None),  # and then SQLITE_TOOBIG: the record passes 1 GB
    "replace(hex(zeroblob)) generated column": ("SELECT length(preview) FROM veo3_video_upscales LIMIT 1", True, None),
    "replace(zeroblob) CHECK": ("UPDATE veo3_video_upscales SET id = id WHERE rowid = 1", False, "ok []"),
    "zeroblob(2e9) DEFAULT": (APP_INSERT, False, "error SQLITE_TOOBIG string or blob too big"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", cases(*BOMBS))
def test_memory_bomb_goes_off_in_plain_sqlite(name, tmp_path):
    sql, over_500_mb, answer = BOMBS[name]
    result = probe(build(name, tmp_path).db, sql, tmp_path=tmp_path, stop_above_mb=500)
    # the watcher samples memory: a bomb may pass 500 MB and finish between two samples
    assert (result.killed or result.peak_mb > 500) == over_500_mb, result
    if answer is not None:
        assert result.stdout.strip() == answer, result


def test_check_bomb_builds_200_mb_per_row(tmp_path):
    result = probe(build("replace(zeroblob) CHECK", tmp_path).db, BOMBS["replace(zeroblob) CHECK"][0],
                   tmp_path=tmp_path)
    assert result.peak_mb > 190, result


@pytest.mark.slow
def test_check_bomb_makes_quick_check_slow(tmp_path):
    result = probe(build("replace(zeroblob) CHECK", tmp_path).db, "PRAGMA quick_check", tmp_path=tmp_path,
                   hard_limit=5)
    assert result.killed


# --------------------------------------------------------------------------- 6, 11: sizes of the schema
@pytest.mark.parametrize("name, tables", [(cases("10,000 tables")[0], 10_000),
                                          (cases("2,000 tables with foreign keys")[0], 2_000)])
def test_many_tables(name, tables, tmp_path):
    conn = connect(build(name, tmp_path).db)
    assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE name GLOB 't[0-9]*'").fetchone() == (tables,)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    keys = conn.execute(f"SELECT \"table\" FROM pragma_foreign_key_list('t{tables - 1}')").fetchall()
    assert keys == ([(f"t{tables - 2}",)] if "foreign" in name else [])


@pytest.mark.parametrize("name, columns", [(cases("600 columns")[0], 612), (cases("1,900 columns")[0], 1_912)])
def test_wide_tables(name, columns, tmp_path):
    assert len(upscale_columns(build(name, tmp_path).db)) == columns


# --------------------------------------------------------------------------- 9: the desynchronised index
# named at collection (not in the body), so every xdist worker's COVERED holds it
@pytest.mark.parametrize("name", cases("parent row missing from its key index"))
def test_index_desync_passes_quick_check_and_hides_an_existing_row(name, tmp_path):
    built = build(name, tmp_path)
    conn = connect(built.db)
    assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    problems = " ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    assert f"missing from index {built.case.expect_in_output}" in problems
    assert conn.execute(MISSING_PROJECT).fetchone() == (1,)  # the row is in the table ...
    assert conn.execute(MISSING_PROJECT.replace(" NOT INDEXED", "")).fetchone() == (0,)  # ... not in the index
    conn.execute("PRAGMA foreign_keys = ON")
    assert error_of(conn, APP_INSERT).sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY"


# --------------------------------------------------------------------------- 10: another reason to fail
OTHER_REASONS = {
    "AUTOINCREMENT exhausted in a log table": "SQLITE_FULL",
    "NOT NULL column without default": "SQLITE_CONSTRAINT_NOTNULL",
    "UNIQUE collision": "SQLITE_CONSTRAINT_UNIQUE",
    "CHECK that fails": "SQLITE_CONSTRAINT_CHECK",
    "trigger raising a foreign-key message": "SQLITE_CONSTRAINT_TRIGGER",
}


@pytest.mark.parametrize("name", cases(*OTHER_REASONS))
def test_insert_fails_for_another_reason_while_a_reference_is_missing(name, tmp_path):
    code = OTHER_REASONS[name]
    built = build(name, tmp_path)
    conn = connect(built.db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute(MISSING_PROJECT).fetchone() == (0,)
    conn.execute("PRAGMA foreign_keys = ON")
    error = error_of(conn, APP_INSERT)
    assert error.sqlite_errorname == code
    assert built.case.expect_in_output in f"{error} {error.sqlite_errorname}"


def test_trigger_message_reads_like_a_foreign_key_failure(tmp_path):
    conn = connect(build("trigger raising a foreign-key message", tmp_path).db)
    assert str(error_of(conn, APP_INSERT)) == "FOREIGN KEY constraint failed"


# --------------------------------------------------------------------------- 12: names that are not UTF-8
ALL_COLUMN_NAMES = ("SELECT CAST(p.name AS BLOB) FROM sqlite_schema AS s, pragma_table_info(s.name) AS p "
                    "WHERE s.type = 'table'")


@pytest.mark.parametrize("name, sql, stored", [
    (cases("table and column names not UTF-8")[0], "SELECT CAST(name AS BLOB) FROM sqlite_schema", BAD_UTF8_TABLE),
    ("table and column names not UTF-8", ALL_COLUMN_NAMES, BAD_UTF8_COLUMN),
    (cases("upscale column name not UTF-8")[0], ALL_COLUMN_NAMES, BAD_UTF8_COLUMN),
])
def test_names_are_not_utf8(name, sql, stored, tmp_path):
    conn = connect(build(name, tmp_path).db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert stored in [row[0] for row in conn.execute(sql)]
    with pytest.raises(UnicodeDecodeError):
        stored.decode("utf-8")


# --------------------------------------------------------------------------- 13: more from security.html
@pytest.mark.parametrize("name, sql, refused", [
    (cases("load_extension in trigger and view")[0], "SELECT * FROM loads", "unsafe use of load_extension()"),
    (cases("fts3_tokenizer pointer and an FTS4 table")[0], "SELECT * FROM tokenizer_pointer",
     "unsafe use of fts3_tokenizer()"),
    (cases("5,000 nested parentheses")[0], "SELECT * FROM sqlite_schema",
     "malformed database schema (crafted) - parser stack overflow"),
    (cases("5,000-term sum")[0], "SELECT * FROM sqlite_schema",
     "malformed database schema (crafted) - Expression tree is too large (maximum depth 1000)"),
    (cases("5,000-way compound select")[0], "SELECT * FROM sqlite_schema",
     "malformed database schema (crafted) - too many terms in compound SELECT"),
])
def test_what_plain_sqlite_refuses_by_itself(name, sql, refused, tmp_path):
    """Recorded: load_extension() and fts3_tokenizer() are direct-only, refused in views and
    triggers even with trusted_schema on (not in CHECK constraints: see the shell test above), and
    a declaration over SQLite's limits makes the whole schema unloadable."""
    assert str(error_of(connect(build(name, tmp_path).db), sql)) == refused


@pytest.mark.parametrize("name, sql, expected", [
    (cases("990-term sum")[0], "SELECT x FROM crafted", [(990,)]),
    (cases("500-way compound select")[0], "SELECT count(*) FROM crafted", [(500,)]),
    (cases("fts3_tokenizer pointer and an FTS4 table")[0],
     "SELECT body FROM upscale_notes WHERE upscale_notes MATCH 'upscale'", [("upscale notes",)]),
    (cases("crafted sqlite_stat1 and sqlite_stat4")[0],
     "SELECT count(*) FROM sqlite_stat1 WHERE stat LIKE '18446744073709551615%'", [(4,)]),
    (cases("crafted sqlite_stat1 and sqlite_stat4")[0], "SELECT count(*) FROM sqlite_stat4", [(2,)]),
    (cases("100 KB identifiers")[0], "SELECT max(length(name)) FROM sqlite_schema", [(100_000,)]),
    (cases("100 KB identifiers")[0],
     "SELECT max(length(name)) FROM pragma_table_info('veo3_video_upscales')", [(100_000,)]),
])
def test_legal_at_sqlites_defaults(name, sql, expected, tmp_path):
    conn = connect(build(name, tmp_path).db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute(sql).fetchall() == expected


@pytest.mark.parametrize("name", cases("5,000 triggers on the upscale table"))
def test_5000_triggers_all_fire(name, tmp_path):
    conn = connect(build(name, tmp_path).db)
    assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'").fetchone() == (5_000,)
    conn.execute(APP_INSERT)
    assert conn.execute("SELECT n FROM upscale_counter").fetchone() == (5_000,)


def test_load_extension_calls_are_in_trigger_and_view(tmp_path):
    db = build("load_extension in trigger and view", tmp_path).db
    assert "load_extension(" in stored_sql(db, "load_on_upscale") and "load_extension(" in stored_sql(db, "loads")


# --------------------------------------------------------------------------- completeness
def test_every_case_has_its_property_checked():
    # runs last in this file: pytest collects (and so fills COVERED) before running anything
    assert set(CORPUS) - COVERED == set()
