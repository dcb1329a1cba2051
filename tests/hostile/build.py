"""Small tools the cases are made with: a copy of the app's headline sample, and edits to it
that plain SQL refuses (through `PRAGMA writable_schema`) or that would be slow as statements."""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from collections.abc import Iterable, Iterator

from toolkit.samples import HEADLINE, SAMPLES_DIR

from .case import DB_NAME, SHELL_CANARY_NAME

UPSCALES = "veo3_video_upscales"
# fields of the 100-byte database header (fileformat2.html, "The Database Header")
HEADER_PAGE_SIZE = slice(16, 18)
HEADER_CHANGE_COUNTER = slice(24, 28)
HEADER_PAGE_COUNT = slice(28, 32)
HEADER_FREELIST_PAGES = slice(36, 40)
HEADER_AUTOVACUUM_ROOT = slice(52, 56)
HEADER_VERSION_VALID_FOR = slice(92, 96)


def quote(name: str) -> str:
    return '"{}"'.format(name.replace('"', '""'))


def headline(folder: Path) -> Path:
    """A copy of the sample that reproduces the customer's failure (project_id has no parent),
    so that `diagnose` and `fix` reach the upscale table, its references and `migrations`."""
    db = folder / DB_NAME
    shutil.copyfile(SAMPLES_DIR / HEADLINE, db)
    return db


@contextlib.contextmanager
def editing(db: Path, *, writable_schema: bool = False) -> Iterator[sqlite3.Connection]:
    """One transaction on `db`, committed on success (closed without commit, so rolled back, on
    an error). With `writable_schema`, sqlite_schema's rows can be written as data: the next
    connection parses them as the file's schema."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        if writable_schema:
            conn.execute("PRAGMA writable_schema = ON")
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


def run_sql(db: Path, script: str) -> Path:
    """Plain SQL on the copy (the file stays one SQLite itself would write)."""
    with editing(db) as conn:
        for statement in split_statements(script):
            conn.execute(statement)
    return db


def split_statements(script: str) -> list[str]:
    """`script` cut into complete statements (CREATE TRIGGER bodies hold semicolons)."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    assert not current.rstrip(";").strip(), f"incomplete statement: {current!r}"
    return statements


def table_sql(conn: sqlite3.Connection, name: str) -> str:
    return conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (name,)).fetchone()[0]


def set_sql(conn: sqlite3.Connection, name: str, sql: str | bytes) -> None:
    """Replace an object's declaration as stored. It is written as bytes cast to TEXT, which SQLite
    stores unchecked: `sql` may carry bytes that are not UTF-8 (as str, via surrogateescape)."""
    if isinstance(sql, str):
        sql = sql.encode("utf-8", "surrogateescape")
    conn.execute("UPDATE sqlite_schema SET sql = CAST(? AS TEXT) WHERE name = ?", (sql, name))


def add_schema_rows(db: Path, kind: str, rows: Iterable[tuple[str, str, str]]) -> Path:
    """Views or triggers (name, table, sql) written straight into sqlite_schema: thousands of them
    in a fraction of a second, and declarations SQLite's parser would refuse at creation time."""
    with editing(db, writable_schema=True) as conn:
        conn.executemany(
            "INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES (?, ?, ?, 0, ?)",
            ((kind, name, table, sql) for name, table, sql in rows))
    return db


def add_columns(db: Path, table: str, columns: list[str], *, fill: dict[str, str] | None = None) -> Path:
    """Append column definitions to a table's declaration as stored (ALTER TABLE refuses
    non-constant DEFAULTs, NOT NULL without a default and more than a few columns quickly).
    Existing rows then read NULL (or a constant DEFAULT) for them; `fill` sets values afterwards
    with an UPDATE, so that a NOT NULL column holds no NULL and the file stays consistent."""
    with editing(db, writable_schema=True) as conn:
        sql = table_sql(conn, table)
        set_sql(conn, table, declaration_with_columns(sql, columns))
    if fill:
        with editing(db) as conn:
            assignments = ", ".join(f"{quote(c)} = {value}" for c, value in fill.items())
            conn.execute(f"UPDATE {quote(table)} SET {assignments}")
    return db


def add_table_constraint(db: Path, table: str, constraint: str) -> Path:
    """Append a table constraint to a table's declaration as stored (SQLite has no ALTER for it)."""
    with editing(db, writable_schema=True) as conn:
        sql = table_sql(conn, table)
        set_sql(conn, table, f"{sql[:sql.rindex(')')].rstrip()},\n  {constraint}\n)")
    return db


def declaration_with_columns(sql: str, columns: list[str]) -> str:
    """`sql` (a CREATE TABLE) with `columns` added after its last column definition: before the
    first table constraint (the app's declarations put each on its own line, as "  FOREIGN KEY"),
    or before the closing parenthesis."""
    body_end = sql.rstrip().rindex(")")
    constraint = sql.find("\n  FOREIGN KEY")
    at = constraint if constraint != -1 else body_end
    text = "".join(f",\n  {c}" for c in columns)
    if constraint != -1:
        # the constraint is preceded by ",": put the new columns before that comma's clause
        return sql[:at].rstrip().rstrip(",") + text + ",\n" + sql[at + 1:]
    return sql[:at].rstrip() + text + "\n" + sql[at:]


def set_page_size(db: Path, size: int) -> Path:
    """Rewrite the copy with smaller pages, so that thousands of tables (a page each) stay small."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {size}")
        conn.execute("VACUUM")
    finally:
        conn.close()
    return db


def add_empty_tables(db: Path, tables: Iterable[tuple[str, str]]) -> Path:
    """Tables (name, CREATE TABLE sql) added without CREATE TABLE, which rescans sqlite_schema
    for each new table (10,000 of them take seconds): an empty table b-tree is one page of eight
    header bytes, so the pages are appended to the file and the rows written into sqlite_schema.
    Needs a file without auto-vacuum (no pointer map to keep) and an empty freelist."""
    tables = list(tables)
    size = page_size(db)
    data = bytearray(db.read_bytes())
    assert not any(data[HEADER_AUTOVACUUM_ROOT] + data[HEADER_FREELIST_PAGES]), "auto-vacuum or a freelist"
    first = len(data) // size + 1
    # a table leaf (0x0d) with no cells: cell content starts at the page's end
    empty_leaf = (bytes([0x0D, 0, 0, 0, 0]) + (size % 65536).to_bytes(2, "big") + b"\0").ljust(size, b"\0")
    data += empty_leaf * len(tables)
    counter = (int.from_bytes(data[HEADER_CHANGE_COUNTER], "big") + 1).to_bytes(4, "big")
    # the header's page count is trusted only while "version-valid-for" equals the change counter
    data[HEADER_CHANGE_COUNTER] = data[HEADER_VERSION_VALID_FOR] = counter
    data[HEADER_PAGE_COUNT] = (first - 1 + len(tables)).to_bytes(4, "big")
    db.write_bytes(bytes(data))
    with editing(db, writable_schema=True) as conn:
        conn.executemany("INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('table', ?, ?, ?, ?)",
                         ((name, name, first + i, sql) for i, (name, sql) in enumerate(tables)))
    return db


def page_size(db: Path) -> int:
    with open(db, "rb") as fh:
        head = fh.read(100)
    size = int.from_bytes(head[HEADER_PAGE_SIZE], "big")
    return 65536 if size == 1 else size


def held_bytes(db: Path) -> int:
    """The bytes of the pages the header counts: what a copy of the database needs, whatever
    follows them in the file."""
    with open(db, "rb") as fh:
        pages = int.from_bytes(fh.read(100)[HEADER_PAGE_COUNT], "big")
    return pages * page_size(db)


def shell_canary(folder: Path) -> Path:
    return folder / SHELL_CANARY_NAME


_PAYLOAD_C = """
#include <fcntl.h>
#include <unistd.h>
/* Runs when the library is loaded, before SQLite looks for an entry point. */
__attribute__((constructor)) static void ran(void) { close(open(CANARY, O_CREAT | O_WRONLY, 0644)); }
"""


def payload_library(folder: Path) -> Path:
    """A shared library whose only effect, when anything loads it, is to create the shell canary:
    what an attacker's `load_extension()` argument would be. Without a C compiler the path is left
    absent (a load is then only visible as the shell's "cannot open shared object" message)."""
    library = folder / "payload.so"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return library
    source = folder / "payload.c"
    source.write_text(_PAYLOAD_C)
    try:
        subprocess.run([compiler, "-shared", "-fPIC", f'-DCANARY="{shell_canary(folder)}"', "-o", str(library),
                        str(source)], check=True, capture_output=True, timeout=60)
    finally:
        source.unlink()
    return library


def sparse_extend(db: Path, size: int) -> Path:
    """Extend the file to `size` bytes without writing them (a hole reads as zeros)."""
    os.truncate(db, size)
    return db
