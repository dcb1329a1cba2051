"""SQLite's errors told apart by their result codes (rescode.html), never by their wording.

Python 3.11's `sqlite3.Error` carries `sqlite_errorcode` (the extended result code) and
`sqlite_errorname`; SQLite's messages change between versions, its codes do not.  `kind_of`
is the one place that maps an exception to what happened; callers decide what it means.
"""
from __future__ import annotations

import sqlite3
from enum import StrEnum


class Kind(StrEnum):
    """What went wrong, as SQLite's primary result code (or extended code) says."""

    INTERRUPT = "interrupt"  # the progress handler stopped it: a deadline or Ctrl-C
    BUSY = "busy"  # SQLITE_BUSY and SQLITE_LOCKED: another connection holds a lock
    FULL = "full"  # a write found no room: the disk, max_page_count, or the largest rowid
    IOERR = "ioerr"  # the operating system failed a read or a write
    NOTADB = "notadb"  # not a database file, or an encrypted one
    CORRUPT = "corrupt"  # the file's structure is damaged
    TOOBIG = "toobig"  # a string or blob over SQLITE_LIMIT_LENGTH
    NOMEM = "nomem"  # the heap limit (or the machine's memory) was reached
    CONSTRAINT_FOREIGNKEY = "constraint_foreignkey"
    CONSTRAINT = "constraint"  # any other constraint: NOT NULL, UNIQUE, CHECK, a trigger's RAISE
    AUTH = "auth"  # the authorizer denied something
    CANTOPEN = "cantopen"
    READONLY = "readonly"
    PERM = "perm"
    ERROR = "error"  # SQLITE_ERROR: parse errors, missing tables and functions, most limits
    OTHER = "other"  # any other code, or none (an error the sqlite3 module raised itself)


#: Primary result codes (the low byte of an extended code) and their kinds.
_PRIMARY: dict[int, Kind] = {
    sqlite3.SQLITE_ERROR: Kind.ERROR,
    sqlite3.SQLITE_PERM: Kind.PERM,
    sqlite3.SQLITE_BUSY: Kind.BUSY,
    sqlite3.SQLITE_LOCKED: Kind.BUSY,
    sqlite3.SQLITE_NOMEM: Kind.NOMEM,
    sqlite3.SQLITE_READONLY: Kind.READONLY,
    sqlite3.SQLITE_INTERRUPT: Kind.INTERRUPT,
    sqlite3.SQLITE_IOERR: Kind.IOERR,
    sqlite3.SQLITE_CORRUPT: Kind.CORRUPT,
    sqlite3.SQLITE_FULL: Kind.FULL,
    sqlite3.SQLITE_CANTOPEN: Kind.CANTOPEN,
    sqlite3.SQLITE_TOOBIG: Kind.TOOBIG,
    sqlite3.SQLITE_CONSTRAINT: Kind.CONSTRAINT,
    sqlite3.SQLITE_AUTH: Kind.AUTH,
    sqlite3.SQLITE_NOTADB: Kind.NOTADB,
}
_BY_NAME: dict[str, Kind] = {f"SQLITE_{kind.name}": kind for kind in _PRIMARY.values()}
_BY_NAME["SQLITE_LOCKED"] = Kind.BUSY
_FOREIGN_KEY_NAME = "SQLITE_CONSTRAINT_FOREIGNKEY"


def kind_of_code(code: int | None) -> Kind:
    """The kind of an (extended) result code."""
    if code is None:
        return Kind.OTHER
    if code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
        return Kind.CONSTRAINT_FOREIGNKEY
    return _PRIMARY.get(code & 0xFF, Kind.OTHER)


def kind_of_name(name: str | None) -> Kind:
    """The kind of a result code's name as `sqlite_errorname` gives it (stored with a result)."""
    if not name:
        return Kind.OTHER
    if name == _FOREIGN_KEY_NAME:
        return Kind.CONSTRAINT_FOREIGNKEY
    # an extended name is its primary name and a suffix: SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT
    primary = "_".join(name.split("_")[:2])
    return _BY_NAME.get(primary, Kind.OTHER)


def kind_of(exc: BaseException) -> Kind:
    """The kind of an exception raised by SQLite (a `MemoryError` from a callback counts as NOMEM)."""
    if isinstance(exc, MemoryError):
        return Kind.NOMEM
    if not isinstance(exc, sqlite3.Error):
        return Kind.OTHER
    return kind_of_code(getattr(exc, "sqlite_errorcode", None))


#: Errors that are never a file's answer (a stopped statement, a failing disk): code that records
#: SQLite's refusal of a statement as a finding re-raises these.
PROPAGATED = frozenset({Kind.INTERRUPT, Kind.IOERR})


def is_interrupt(exc: BaseException) -> bool:
    """A statement stopped by the progress handler: never the file's answer, always re-raised."""
    return kind_of(exc) is Kind.INTERRUPT


#: The largest rowid: an AUTOINCREMENT table whose counter is here has no next row (SQLITE_FULL).
MAX_ROWID = 2**63 - 1


def full_by_the_file(conn: sqlite3.Connection) -> bool:
    """Whether a SQLITE_FULL just raised on `conn` is the file's own limit, not the disk's.

    SQLite reports three different things as SQLITE_FULL: an AUTOINCREMENT counter at the largest
    rowid, a file at its max_page_count, and a disk with no room.  The first two are the
    customer's file (an insert the app would see fail too); the last is the machine the toolkit
    runs on, whose disk holds only the toolkit's copy, so it is never the file's answer."""
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    (limit,) = conn.execute("PRAGMA max_page_count").fetchone()
    if pages >= limit:
        return True
    has_sequence = conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'").fetchone()
    return bool(has_sequence) and bool(
        conn.execute("SELECT 1 FROM sqlite_sequence WHERE seq >= ?", (MAX_ROWID,)).fetchone())
