"""The makers: one small function (or factory) per attack, grouped by the issue's classes.

Most start from the headline sample (`build.headline`), so that every command reaches the parts a
crafted file targets: the upscale table, its three references, the app's insert and `migrations`.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from collections.abc import Callable

from toolkit.samples import HEADLINE, SAMPLES_DIR

from . import journal
from .build import (UPSCALES, add_columns, add_empty_tables, add_schema_rows, add_table_constraint, editing,
                    headline, page_size, payload_library, quote, run_sql, set_page_size, set_sql, shell_canary,
                    sparse_extend, table_sql)
from .case import DB_NAME

Maker = Callable[[Path], Path]
GiB = 1 << 30


# --------------------------------------------------------------------------- 1, 7: journals
def super_journal(target: Callable[[Path], str]) -> Maker:
    """A hot journal changing nothing, whose super-journal record names `target(db)`: opening
    the database (or any copy of it with its journal) makes SQLite delete that file."""
    def make(folder: Path) -> Path:
        db = headline(folder)
        size = page_size(db)
        journal.hot_journal(db, page_size=size, initial_pages=db.stat().st_size // size, super_journal=target(db))
        return db
    return make


def journal_claiming_pages(pages: int) -> Maker:
    """A hot journal whose header says the database had `pages` pages: replaying it extends the
    database (sparsely) to that size."""
    def make(folder: Path) -> Path:
        db = headline(folder)
        journal.hot_journal(db, page_size=page_size(db), initial_pages=pages)
        return db
    return make


def sparse_tail(size: int) -> Maker:
    """A valid database followed by a hole up to `size` bytes: SQLite reads only the pages the
    header counts, a byte-for-byte copy moves them all."""
    return lambda folder: sparse_extend(headline(folder), size)


# --------------------------------------------------------------------------- 2: text after a declaration
def command_after_declaration(name: str, command: str) -> Maker:
    """`name`'s stored declaration followed by `;` and a shell dot-command: SQLite parses only the
    first statement (the file loads and checks clean), a script printing the text verbatim gives
    the sqlite3 shell a line of its own to run."""
    def make(folder: Path) -> Path:
        db = headline(folder)
        line = command.format(canary=shell_canary(folder))
        with editing(db, writable_schema=True) as conn:
            sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (name,)).fetchone()[0]
            set_sql(conn, name, f"{sql};\n{line}")
        return db
    return make


def newline_command_in_column_name(folder: Path) -> Path:
    """A column whose quoted name holds a newline and a dot-command: harmless inside a statement,
    a live shell line wherever a script puts the name in a `--` comment."""
    name = f"note\n.shell touch {shell_canary(folder)}\n"
    return add_columns(headline(folder), UPSCALES, [f"{quote(name)} TEXT"])


def check_loading_a_library(table: str, when: str) -> Maker:
    """A CHECK on `table` that loads a library for every row written where `when` holds. SQLite
    3.40 does not apply "direct-only" to CHECK constraints: load_extension() runs from one even
    with trusted_schema off; only extension loading being disabled stops it (Python's default,
    not the sqlite3 shell's, into which the README pipes `fix --sql`)."""
    def make(folder: Path) -> Path:
        load = f"load_extension('{payload_library(folder)}')"
        return add_table_constraint(headline(folder), table, f"CHECK (NOT ({when}) OR {load} IS NULL)")
    return make


# --------------------------------------------------------------------------- 3, 13: views
def view_rows(count: int, body: Callable[[int], str]) -> Maker:
    """`count` views v1..vN, each declared by `body(i)`, written straight into sqlite_schema."""
    def make(folder: Path) -> Path:
        rows = ((f"v{i}", f"v{i}", f"CREATE VIEW v{i} AS {body(i)}") for i in range(1, count + 1))
        return add_schema_rows(headline(folder), "view", rows)
    return make


def chained(i: int) -> str:
    return "SELECT id AS x FROM profiles" if i == 1 else f"SELECT x FROM v{i - 1}"


def fanned_out(i: int) -> str:
    # each level joins the previous one with itself: 2**i references to v1
    return "SELECT id AS x FROM profiles" if i == 1 else f"SELECT a.x AS x FROM v{i - 1} AS a, v{i - 1} AS b"


def one_view(sql: str, *, writable: bool = False) -> Maker:
    """One view: created by SQL (a declaration SQLite accepts at its default limits), or written
    into sqlite_schema (`writable`: one it would refuse to create, and so refuses to load)."""
    def make(folder: Path) -> Path:
        db = headline(folder)
        if writable:
            return add_schema_rows(db, "view", [("crafted", "crafted", f"CREATE VIEW crafted AS {sql}")])
        return run_sql(db, f"CREATE VIEW crafted AS {sql};")
    return make


def nested_parentheses(depth: int) -> str:
    return "SELECT " + "(" * depth + "1" + ")" * depth + " AS x"


def long_sum(terms: int) -> str:
    # a left-deep tree: its height is the number of terms
    return "SELECT " + "+".join(["1"] * terms) + " AS x"


def compound(terms: int) -> str:
    return " UNION ALL ".join(f"SELECT {i} AS n" for i in range(terms))


# --------------------------------------------------------------------------- 4, 5, 8, 10, 13: SQL on the headline
def with_sql(script: str) -> Maker:
    """The headline sample with `script` run on it as plain SQL."""
    return lambda folder: run_sql(headline(folder), script)


def with_columns(*columns: str, fill: dict[str, str] | None = None) -> Maker:
    """The headline sample with `columns` appended to the upscale table's declaration."""
    return lambda folder: add_columns(headline(folder), UPSCALES, list(columns), fill=fill)


def with_table_constraint(constraint: str, table: str = UPSCALES) -> Maker:
    """The headline sample with a table constraint appended to `table`'s declaration (existing
    rows satisfy it; the app's insert decides)."""
    return lambda folder: add_table_constraint(headline(folder), table, constraint)


INFINITE = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
PRINTF_900MB = "printf('%.*c', 900000000, 'x')"
# The column reference keeps SQLite from computing these once per statement (it factors constant
# expressions out), so they are built for every row. replace() copies 100 MB of zeros into 100 MB
# of text (x'00' reads as an empty pattern: nothing is replaced), 200 MB at once; hex() first
# gives 100 MB of '0' that become 200 MB of 'ab', 500 MB at once.
REPLACE_200MB_PER_ROW = "replace(zeroblob(100000000 + 0 * length(id)), x'00', 'ab')"
REPLACE_HEX_500MB_PER_ROW = "replace(hex(zeroblob(50000000 + 0 * length(id))), '0', 'ab')"


# --------------------------------------------------------------------------- 6: many tables
def many_tables(count: int, *, chained_keys: bool) -> Maker:
    """`count` small tables (a page each: pages are made 512 bytes to keep the file small); with
    `chained_keys` each one's column references the previous table's key."""
    def declaration(i: int) -> str:
        ref = f" REFERENCES t{i - 1}(id)" if chained_keys and i else ""
        return f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, parent INTEGER{ref})"

    def make(folder: Path) -> Path:
        db = set_page_size(headline(folder), 512)
        return add_empty_tables(db, ((f"t{i}", declaration(i)) for i in range(count)))
    return make


def many_triggers(count: int) -> Maker:
    """`count` AFTER INSERT triggers on the upscale table, each bumping a counter."""
    def make(folder: Path) -> Path:
        db = run_sql(headline(folder), "CREATE TABLE upscale_counter (n); INSERT INTO upscale_counter VALUES (0);")
        rows = ((f"count_{i}", UPSCALES, f"CREATE TRIGGER count_{i} AFTER INSERT ON {UPSCALES} "
                 "BEGIN UPDATE upscale_counter SET n = n + 1; END") for i in range(count))
        return add_schema_rows(db, "trigger", rows)
    return make


# --------------------------------------------------------------------------- 9: a desynchronised index
def parent_row_missing_from_its_key_index(folder: Path) -> Path:
    """Put the project the app's insert references back into veo3_projects, but not into the
    table's primary-key index: the row exists, every key lookup (and SQLite's foreign-key check)
    says it does not. quick_check does not compare indexes with tables, integrity_check does.

    Done by hiding the index from SQLite for one insert: its sqlite_schema row is taken out and
    the table declared without PRIMARY KEY, then both are put back as they were."""
    db = headline(folder)
    index = "sqlite_autoindex_veo3_projects_1"
    with editing(db) as conn:
        generation = conn.execute("SELECT profile_id, project_id FROM veo3_video_generations "
                                  "ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
    with editing(db, writable_schema=True) as conn:
        declaration = table_sql(conn, "veo3_projects")
        saved = conn.execute("SELECT type, name, tbl_name, rootpage, sql FROM sqlite_schema WHERE name = ?",
                             (index,)).fetchone()
        conn.execute("DELETE FROM sqlite_schema WHERE name = ?", (index,))
        set_sql(conn, "veo3_projects", declaration.replace("id TEXT PRIMARY KEY", "id TEXT", 1))
    with editing(db) as conn:
        conn.execute("INSERT INTO veo3_projects (id, profile_id, name, created_at) VALUES (?, ?, ?, ?)",
                     (generation[1], generation[0], "Restored project", "2025-03-01T10:00:00.000Z"))
    with editing(db, writable_schema=True) as conn:
        set_sql(conn, "veo3_projects", declaration)
        conn.execute("INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES (?, ?, ?, ?, ?)", saved)
    return db


# --------------------------------------------------------------------------- 12: names that are not UTF-8
BAD_UTF8_TABLE = b"upscale_\xffnotes"
BAD_UTF8_COLUMN = b"note_\xc3("  # a lead byte followed by a byte that cannot continue it


def table_with_non_utf8_names(folder: Path) -> Path:
    """A child table of the upscales whose table and column names are bytes that are not UTF-8:
    created under plain names, then renamed in sqlite_schema (SQLite stores TEXT unchecked)."""
    db = run_sql(headline(folder), """
        CREATE TABLE plain_notes (plain_column TEXT, upscale_id TEXT REFERENCES veo3_video_upscales(id));
        INSERT INTO plain_notes VALUES ('a note', (SELECT id FROM veo3_video_upscales LIMIT 1));""")
    with editing(db, writable_schema=True) as conn:
        sql = table_sql(conn, "plain_notes").encode()
        sql = sql.replace(b"plain_notes", b'"' + BAD_UTF8_TABLE + b'"').replace(
            b"plain_column", b'"' + BAD_UTF8_COLUMN + b'"')
        conn.execute("UPDATE sqlite_schema SET name = CAST(?1 AS TEXT), tbl_name = CAST(?1 AS TEXT), "
                     "sql = CAST(?2 AS TEXT) WHERE name = 'plain_notes'", (BAD_UTF8_TABLE, sql))
    return db


def upscale_column_with_non_utf8_name(folder: Path) -> Path:
    # surrogateescape carries the raw bytes through str; set_sql writes them back as bytes
    name = BAD_UTF8_COLUMN.decode("utf-8", "surrogateescape")
    return add_columns(headline(folder), UPSCALES, [f"{quote(name)} TEXT"])


# --------------------------------------------------------------------------- 13: more from security.html
def crafted_statistics(folder: Path) -> Path:
    """sqlite_stat1 rows that lie (the planner trusts them: a full scan looks free, a key looks
    shared by every row) and a sqlite_stat4 table of malformed samples (read by builds with
    SQLITE_ENABLE_STAT4)."""
    db = run_sql(headline(folder), "ANALYZE;")
    with editing(db, writable_schema=True) as conn:
        conn.execute("UPDATE sqlite_stat1 SET stat = '18446744073709551615 18446744073709551615 unordered sz=65535'"
                     " WHERE idx LIKE 'sqlite_autoindex%'")
        conn.execute("UPDATE sqlite_stat1 SET stat = '1 1' WHERE idx NOT LIKE 'sqlite_autoindex%'")
        conn.execute("INSERT INTO sqlite_stat1 VALUES ('veo3_video_upscales', NULL, '-1'), ('no_such_table', 'x', 'y')")
        conn.execute("CREATE TABLE IF NOT EXISTS sqlite_stat4 (tbl, idx, neq, nlt, ndlt, sample)")
        # samples: a record header claiming more bytes than it has, and an empty one
        samples = [("1 1", "0 0", "0 0", bytes.fromhex("7f" * 10)), ("4294967295 1", "-5 0", "0 0", b"")]
        conn.executemany("INSERT INTO sqlite_stat4 VALUES "
                         "('veo3_projects', 'sqlite_autoindex_veo3_projects_1', ?, ?, ?, ?)", samples)
    return db


def utf16_database(folder: Path) -> Path:
    """The headline sample re-created in a UTF-16le database (the text encoding is fixed when a
    file is created, and attached files must share it, so the sample is replayed as SQL)."""
    db = folder / DB_NAME
    source = sqlite3.connect(f"file:{SAMPLES_DIR / HEADLINE}?mode=ro&immutable=1", uri=True)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA encoding = 'UTF-16le'")
        conn.executescript("\n".join(source.iterdump()))
    finally:
        conn.close()
        source.close()
    return db
