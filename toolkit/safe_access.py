"""Safe access to a customer's database file.

The original is only ever read as bytes (never opened by SQLite, which could write to its
``-shm`` or checkpoint its ``-wal``).  We copy the database together with its ``-wal`` (and a
hot ``-journal``) into a private work folder and let SQLite recover that copy exactly as the
app would see it.  Every command fingerprints the original and its sidecars before and after,
and fails loudly if a single byte changed.
"""
from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import math
import os
import shutil
import sqlite3
import stat
import struct
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from . import errors, guards
from .sqlite_codes import Kind, is_interrupt, kind_of
from .sqlnames import quote

SQLITE_MAGIC = b"SQLite format 3\x00"
WAL_MAGICS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
#: Sidecars SQLite needs to see the same data the app sees (-shm is rebuilt from -wal).
COPIED_SIDECARS = tuple(s for s in SIDECAR_SUFFIXES if s != "-shm")
CHUNK = 1 << 20

ASK_FOR_COPY = "ask the customer to close the app and send the .db file together with its -wal file"


# --------------------------------------------------------------------------- fingerprints
@dataclass(frozen=True)
class Fingerprint:
    """SHA-256 of a database file and each sidecar that exists beside it."""

    path: str
    hashes: dict[str, str] = field(default_factory=dict)  # file name -> sha256

    def changed_files(self, other: Fingerprint) -> list[str]:
        names = set(self.hashes) | set(other.hashes)
        return sorted(n for n in names if self.hashes.get(n) != other.hashes.get(n))


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)  # one buffer read into again and again: no fresh megabyte per chunk
    view = memoryview(buffer)
    with open(path, "rb") as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def fingerprint(path: str | Path, main_sha256: str | None = None) -> Fingerprint:
    """`main_sha256`: the main file's hash, already taken in a pass that read it for another reason."""
    path = Path(path)
    hashes = {}
    for candidate in [path, *(sidecar(path, s) for s in SIDECAR_SUFFIXES)]:
        if candidate == path and main_sha256 is not None:
            hashes[candidate.name] = main_sha256
        elif candidate.is_file():
            hashes[candidate.name] = sha256_file(candidate)
    return Fingerprint(str(path), hashes)


def verify_unchanged(before: Fingerprint, after: Fingerprint | None = None) -> Fingerprint:
    """Raise unless the original still has the hashes it had when it was copied (`after`:
    a closing fingerprint already taken, e.g. in a background thread)."""
    after = after or fingerprint(before.path)
    changed = before.changed_files(after)
    if changed:
        raise _changed(before.path, changed)
    return after


def verify_copied(work: WorkCopy, after: Fingerprint, *, same_as_copied: bool = True) -> Fingerprint:
    """`verify_unchanged` for a work copy; the original's fingerprint as it was copied.  When its
    main file was not hashed then (`WorkCopy.main_hash_deferred`), `same_as_copied` says whether
    comparing it with the copy, byte for byte, found it holding what was copied: the hash `after`
    took of it in that read is then its hash as copied too."""
    before = work.fingerprint
    if work.main_hash_deferred:
        name = work.original.name
        if not same_as_copied:
            raise _changed(before.path, [name])
        before = Fingerprint(before.path, {**before.hashes, name: after.hashes[name]})
    verify_unchanged(before, after)
    return before


def _changed(path: str, names: list[str]) -> errors.OriginalChangedError:
    return errors.OriginalChangedError(
        f"{path} changed while the toolkit was reading it ({', '.join(names)}); "
        "the toolkit only reads it, so another program (probably the app) is writing it and nothing was "
        f"written: {ASK_FOR_COPY}.",
        path,
    )


def sidecar(path: str | Path, suffix: str) -> Path:
    path = Path(path)
    return path.with_name(path.name + suffix)


# --------------------------------------------------------------------------- what a file's header says
#: How many bytes `sniff` reads: enough to tell text from binary and random bytes from a format.
HEAD_BYTES = 4096
SQLITE2_MAGIC = b"** This file contains an SQLite 2"
JOURNAL_MAGIC = b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7"
#: The -shm's first field is its version, 3007000, in the machine's byte order.
SHM_MAGICS = (struct.pack("<I", 3007000), struct.pack(">I", 3007000))


class FileKind(StrEnum):
    """What a file's first bytes say it is; everything but SQLITE3 is not a database SQLite 3 can read."""

    SQLITE3 = "sqlite3"
    EMPTY = "empty"
    TEXT = "text"
    GZIP = "gzip"
    ZIP = "zip"
    PNG = "png"
    JPEG = "jpeg"
    GIF = "gif"
    PDF = "pdf"
    SQLITE2 = "sqlite2"
    WAL = "wal-sidecar"
    JOURNAL = "journal-sidecar"
    SHM = "shm-sidecar"
    ENCRYPTED = "encrypted"
    UNKNOWN_BINARY = "unknown-binary"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    FileKind.SQLITE3: "a SQLite 3 database",
    FileKind.EMPTY: "an empty file",
    FileKind.TEXT: "a text file",
    FileKind.GZIP: "a gzip archive",
    FileKind.ZIP: "a ZIP archive",
    FileKind.PNG: "a PNG image",
    FileKind.JPEG: "a JPEG image",
    FileKind.GIF: "a GIF image",
    FileKind.PDF: "a PDF document",
    FileKind.SQLITE2: "a SQLite 2.x database, a format SQLite 3 cannot read",
    FileKind.WAL: "a SQLite write-ahead log (-wal), not the database itself",
    FileKind.JOURNAL: "a SQLite rollback journal (-journal), not the database itself",
    FileKind.SHM: "a SQLite shared-memory index (-shm), not the database itself",
    FileKind.ENCRYPTED: "encrypted or random data",
    FileKind.UNKNOWN_BINARY: "some other binary format",
}
# SQLite 2's header is text, so it is looked for before text is.
_SIGNATURES = (
    (SQLITE_MAGIC, FileKind.SQLITE3), (SQLITE2_MAGIC, FileKind.SQLITE2), (b"\x89PNG", FileKind.PNG),
    (b"\xff\xd8\xff", FileKind.JPEG), (b"GIF8", FileKind.GIF), (b"PK\x03\x04", FileKind.ZIP),
    (b"PK\x05\x06", FileKind.ZIP), (b"%PDF", FileKind.PDF), (b"\x1f\x8b", FileKind.GZIP),
    (JOURNAL_MAGIC, FileKind.JOURNAL), *((magic, FileKind.WAL) for magic in WAL_MAGICS),
    *((magic, FileKind.SHM) for magic in SHM_MAGICS),
)
# A journal SQLite zeroed (journal_mode=PERSIST) has no magic left: only its name says what it is.
_SIDECAR_KINDS = {"-wal": FileKind.WAL, "-journal": FileKind.JOURNAL, "-shm": FileKind.SHM}


def _is_text(head: bytes) -> bool:
    # incremental: a multi-byte character cut by the end of the head is still text
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t\f" for ch in text)


def _looks_random(head: bytes) -> bool:
    if len(head) < 256:
        return False
    counts = [0] * 256
    for byte in head:
        counts[byte] += 1
    return -sum(c / len(head) * math.log2(c / len(head)) for c in counts if c) > 7.0


def sniff(head: bytes, name: str = "") -> FileKind:
    """What a file whose first bytes are `head` (and whose name is `name`) is, by its header alone."""
    if not head:
        return FileKind.EMPTY
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if _is_text(head):
        return FileKind.TEXT
    for suffix, kind in _SIDECAR_KINDS.items():
        if name.endswith(suffix):
            return kind
    return FileKind.ENCRYPTED if _looks_random(head) else FileKind.UNKNOWN_BINARY


def sniff_file(path: str | Path) -> FileKind | None:
    """What a regular file's header says it is, reading only its first bytes; None when it is not a
    regular file or cannot be read (check_input then says why)."""
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # before open(): a FIFO would block it forever
            return None
        with open(path, "rb") as fh:
            return sniff(fh.read(HEAD_BYTES), path.name)
    except OSError:
        return None


def foreign_file_error(path: str | Path, kind: FileKind) -> errors.BadInputError:
    """The one sentence for a file that is not a SQLite 3 database, by what its header says it is."""
    if kind is FileKind.EMPTY:
        return errors.EmptyFileError(
            f"{path} is empty (0 bytes), so the copy the customer sent holds no data; {ASK_FOR_COPY}.", path)
    if kind is FileKind.ENCRYPTED:
        return errors.EncryptedDatabaseError(
            f"{path} is not a readable SQLite database: it has no SQLite header and its bytes "
            "look random, as an encrypted database (SQLCipher, for one) does; ask the customer for "
            "an unencrypted copy of the app's database.",
            path,
        )
    return errors.NotADatabaseError(
        f"{path} is not a SQLite database (it looks like {kind.description}); "
        "ask the customer for the app's .db file from its data folder.",
        path,
    )


# --------------------------------------------------------------------------- validation
def header_pages(head: bytes) -> tuple[int, int | None]:
    """The page size and page count a database header gives (fileformat2.html).  The count is
    None unless it is authoritative: non-zero, with version-valid-for matching the change
    counter (files written by SQLite >= 3.7.0); otherwise the file's size is."""
    raw = int.from_bytes(head[16:18], "big")
    page_size = 65536 if raw == 1 else raw
    change_counter, page_count = struct.unpack(">II", head[24:32])
    valid = page_count and change_counter == int.from_bytes(head[92:96], "big")
    return page_size, page_count if valid else None


def _check_header(path: Path, size: int) -> None:
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    kind = sniff(head, path.name)
    if kind is not FileKind.SQLITE3:
        raise foreign_file_error(path, kind)
    if size < 100:
        raise errors.TruncatedDatabaseError(
            f"{path} is truncated: it stops inside the 100-byte SQLite header ({size} bytes); "
            f"{ASK_FOR_COPY}.",
            path,
        )
    page_size, page_count = header_pages(head)
    if page_size < 512 or page_size & (page_size - 1):
        raise errors.CorruptDatabaseError(
            f"{path} has a damaged SQLite header (page size {int.from_bytes(head[16:18], 'big')} is impossible); "
            f"{ASK_FOR_COPY}.",
            path,
        )
    if page_count and size < page_count * page_size:
        raise errors.TruncatedDatabaseError(
            f"{path} is truncated: its header says {page_count} pages of {page_size} bytes "
            f"({page_count * page_size} bytes) but the file has {size}; {ASK_FOR_COPY}.",
            path,
        )
    if size % page_size:
        raise errors.TruncatedDatabaseError(
            f"{path} is truncated: {size} bytes is not a whole number of {page_size}-byte pages; "
            f"{ASK_FOR_COPY}.",
            path,
        )


# SQLite's POSIX lock bytes (os_unix.c): PENDING, RESERVED, then the SHARED range.
_PENDING_BYTE = 0x40000000
_LOCK_RANGE = 2 + 510
# In WAL mode the writer holds an exclusive lock on byte 120 of the -shm (WAL_WRITE_LOCK),
# a checkpointer on 121.
_SHM_WRITE_LOCKS = (120, 2)


def _write_lock_holder(path: Path, start: int, length: int) -> int | None:
    """PID of another process holding a write lock on [start, start+length), if any."""
    try:
        import fcntl
    except ImportError:  # not POSIX: SQLite uses other locks there; nothing to probe
        return None
    fmt = "hhqqi4x"  # struct flock on Linux/glibc 64-bit
    query = struct.pack(fmt, fcntl.F_RDLCK, os.SEEK_SET, start, length, 0)
    try:
        with open(path, "rb") as fh:
            answer = fcntl.fcntl(fh.fileno(), fcntl.F_GETLK, query)
    except OSError:
        return None
    l_type, _, _, _, pid = struct.unpack(fmt, answer)
    return pid if l_type == fcntl.F_WRLCK else None


def _check_not_locked(path: Path) -> None:
    holder = _write_lock_holder(path, _PENDING_BYTE, _LOCK_RANGE)
    shm = sidecar(path, "-shm")
    if holder is None and shm.is_file():
        holder = _write_lock_holder(shm, *_SHM_WRITE_LOCKS)
    if holder is not None:
        raise errors.LockedDatabaseError(
            f"{path} is locked by another program (process {holder}) that is writing to it; "
            "close the app (or wait for it to finish) and copy the file again, with its -wal.",
            path,
        )


def check_input(path: str | Path) -> Path:
    """Validate a customer's path before anything reads it; return it as a Path."""
    path = Path(path)
    if not path.exists():
        wal = sidecar(path, "-wal")
        if wal.exists():
            raise errors.MissingFileError(
                f"{path} is missing but its {wal.name} is here: the -wal only holds recent "
                "changes; ask the customer for the .db file itself, sent together with the -wal.",
                path,
            )
        raise errors.MissingFileError(
            f"{path} does not exist; check the path, or ask the customer where the app keeps its database.",
            path,
        )
    if path.is_dir():
        raise errors.NotAFileError(
            f"{path} is a folder, not a database file; point the toolkit at the app's .db file inside it.",
            path,
        )
    if not stat.S_ISREG(path.stat().st_mode):  # before any open(): a FIFO would block it forever
        raise errors.NotAFileError(
            f"{path} is not a regular file; point the toolkit at the app's .db file.", path
        )
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise errors.UnreadableFileError(
            f"{path} cannot be read (permission denied); copy it somewhere you can read, or fix its permissions.",
            path,
        ) from None
    except OSError as exc:
        raise errors.UnreadableFileError(
            f"{path} cannot be read ({exc.strerror}); copy it somewhere readable and try again.", path
        ) from None
    size = path.stat().st_size
    if size == 0:
        raise foreign_file_error(path, FileKind.EMPTY)
    _check_header(path, size)
    _check_not_locked(path)
    return path


# --------------------------------------------------------------------------- connections
def connect(path: str | Path, *, time_limit: float | None = None, uri: bool = False) -> guards.GuardedConnection:
    """Open a database (always a COPY) with the toolkit's guards in place (`guards.guard`):
    SQLite's limits, a heap limit, a deadline (`time_limit` seconds, by default scaled by the
    file's size), an authorizer that lets views and triggers call only SQLite's built-in
    functions, no extension loading and no recursive triggers (Debian builds SQLite with them
    on; the app has them off).  Autocommit mode: the caller spells out its transactions."""
    conn = sqlite3.connect(str(path), isolation_level=None, uri=uri, check_same_thread=False,
                           factory=guards.GuardedConnection)
    # customer files can hold TEXT that is not valid UTF-8; show it, never crash on it
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
    if time_limit is None:
        time_limit = guards.default_time_limit(0 if uri else _size(Path(path)))
    guards.guard(conn, time_limit)
    return conn


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


#: SQLite's texts for its limits (guards.LIMITS), and what each means for the file.
_LIMIT_TEXTS = {
    "string or blob too big": f"a value larger than the toolkit's {guards.MAX_VALUE_BYTES // guards.MB} MB limit",
    "expression tree is too large": "an expression nested deeper than SQLite's limit",
    "too many columns": "more columns than SQLite's limit of 2000 in one table or result",
    "too many terms in compound select": "a compound SELECT of more than 500 parts",
    "too many levels of trigger recursion": "triggers that fire one another more than 100 levels deep",
    "statement too long": "an SQL statement longer than 1,000,000 bytes",
    "too many sql variables": "more bound values than SQLite's limit",
    "too many attached databases": "more attached files than the toolkit allows",
    "too many arguments on function": "a function call with more than 127 arguments",
    "too many operations": "a statement that compiles to more than 5 million operations",
    # the only function the toolkit registers is its bounded printf (guards.BoundedPrintf)
    "user-defined function raised exception": f"a printf() width or precision over {guards.MAX_PRINTF_REPEAT:,}",
}


def _interrupted(path: str | Path) -> errors.ToolkitError:
    if guards.interrupt_requested():
        return errors.UserInterruptError(
            f"Interrupted (Ctrl-C) while reading {path}; nothing was written and the work folder was removed.",
            path)
    seconds = guards.last_stop.seconds if guards.last_stop else guards.BASE_TIME_LIMIT
    return errors.QueryTimeoutError(
        f"{path}: SQLite was still working after the time limit ({seconds:g} s); a trigger, view or "
        "expression in the file runs very long (or without end), so raise --time-limit or send the file "
        "to engineering.",
        path,
    )


def _out_of_memory(path: str | Path) -> errors.ToolkitError:
    return errors.LimitExceededError(
        f"{path} needs more memory than the toolkit lets SQLite use ({guards.HEAP_LIMIT // guards.MB} MB): "
        "a value, view or trigger in it builds something huge, so the file may be crafted; send it to "
        "engineering.", path)


def _limit(path: str | Path, text: str, meaning: str) -> errors.ToolkitError:
    return errors.LimitExceededError(
        f"{path} holds {meaning} (SQLite says \"{text}\"), a limit the toolkit keeps on files it did "
        "not write; send the file to engineering.", path)


def _limit_meaning(text: str) -> str | None:
    lower = text.lower()
    return next((meaning for needle, meaning in _LIMIT_TEXTS.items() if needle in lower), None)


def _too_big(path: str | Path, text: str) -> errors.ToolkitError:
    # SQLITE_TOOBIG: a value or a statement too long; the text only names which
    return _limit(path, text, _limit_meaning(text) or _LIMIT_TEXTS["string or blob too big"])


def _refused(path: str | Path, text: str) -> errors.ToolkitError:
    return errors.SQLiteRefusedError(
        f"SQLite could not read {path} as the toolkit asked (it says \"{text}\"); nothing was written, so send "
        "the file to engineering.", path)


def _sqlite_error(path: str | Path, text: str) -> errors.ToolkitError:
    # SQLITE_ERROR covers most limits, a missing function and a function the authorizer denied
    # (SQLITE_AUTH is only a denied statement) alike: the code decides the kind, the text the detail
    meaning = _limit_meaning(text)
    if meaning is not None:
        return _limit(path, text, meaning)
    if "not authorized" in text.lower():
        return _not_authorized(path)
    if "no such function" in text.lower():
        return errors.UnsafeContentError(
            f"{path} uses a function its app defines itself (SQLite says \"{text}\"), which the toolkit "
            "cannot run; ask which app wrote the file, or send it to engineering.", path)
    return _refused(path, text)


def _not_authorized(path: str | Path) -> errors.ToolkitError:
    return errors.UnsafeContentError(
        f"{path} has a view or trigger that calls a function outside SQLite's own built-ins, or writes "
        "where the toolkit's own step must not; the toolkit runs nothing of the kind, so send the file to "
        "engineering.", path)


def _not_a_database(path: str | Path, text: str) -> errors.ToolkitError:
    return errors.NotADatabaseError(
        f"{path} is not a readable SQLite database (SQLite says: {text}); "
        "ask the customer for the app's .db file, unencrypted.", path)


def _locked(path: str | Path, text: str) -> errors.ToolkitError:
    return errors.LockedDatabaseError(
        f"{path} is locked (SQLite says: {text}); close the app and copy the file again.", path)


def _corrupt(path: str | Path, text: str) -> errors.ToolkitError:
    return errors.CorruptDatabaseError(
        f"{path} is damaged: SQLite says \"{text}\"; {ASK_FOR_COPY}, or restore it from a backup.", path)


_Builder = Callable[[str | Path, str, Path | None], errors.ToolkitError]

#: What each kind of SQLite error on a work copy means, for the customer's file at `path`.
_BUILDERS: dict[Kind, _Builder] = {
    Kind.INTERRUPT: lambda path, text, work: _interrupted(path),
    Kind.NOMEM: lambda path, text, work: _out_of_memory(path),
    Kind.TOOBIG: lambda path, text, work: _too_big(path, text),
    Kind.ERROR: lambda path, text, work: _sqlite_error(path, text),
    Kind.AUTH: lambda path, text, work: _not_authorized(path),
    Kind.NOTADB: lambda path, text, work: _not_a_database(path, text),
    Kind.BUSY: lambda path, text, work: _locked(path, text),
    Kind.CORRUPT: lambda path, text, work: _corrupt(path, text),
    # SQLite only ever writes the toolkit's own copies: no room there is the machine's disk
    Kind.FULL: lambda path, text, work: errors.environment_failure(
        lasting_folder(work), errors.EnvironmentProblem.FULL, need=_size(Path(path))),
    Kind.IOERR: lambda path, text, work: errors.environment_failure(
        lasting_folder(work), errors.EnvironmentProblem.IO, detail=text),
}


def lasting_folder(work: str | Path | None) -> Path:
    """The folder a work folder lives in (the temp folder by default): the one a message names,
    since the work folder itself is removed before the message is read."""
    folder = Path(work) if work is not None else Path(tempfile.gettempdir())
    while folder.name.lstrip(".").startswith(WORKDIR_PREFIX):
        folder = folder.parent
    return folder


def translate(exc: sqlite3.Error | MemoryError, path: str | Path, work: str | Path | None = None
              ) -> errors.ToolkitError:
    """Turn an unexpected SQLite error on a copy of a customer's data (in the folder `work`;
    the temp folder by default) into a toolkit error, by its result code (`sqlite_codes`)."""
    build = _BUILDERS.get(kind_of(exc))
    text = str(exc)
    return build(path, text, Path(work) if work is not None else None) if build else _refused(path, text)


@contextlib.contextmanager
def sqlite_errors(path: str | Path, work: str | Path | None = None) -> Iterator[None]:
    """Report any SQLite error raised inside as the toolkit's error for `path` (`work`: the
    folder of the copies SQLite writes, the temp folder by default)."""
    try:
        yield
    except (sqlite3.Error, MemoryError) as exc:
        raise translate(exc, path, work) from None
    except (RecursionError, OverflowError, UnicodeError) as exc:
        raise errors.LimitExceededError(
            f"{path} could not be read ({type(exc).__name__}); the file may be crafted, so send it to engineering.",
            path,
        ) from None


# --------------------------------------------------------------------------- copies
@dataclass(frozen=True)
class WorkCopy:
    """A private, recovered copy of a customer's database."""

    original: Path
    path: Path
    fingerprint: Fingerprint
    wal_frames: int
    journal_mode: str
    #: the copy holds the original's bytes as they are (no -wal or journal was replayed into it)
    verbatim: bool = False
    #: the main file was not hashed when copied (`copy_database(compare_later=True)`): the caller
    #: proves it unchanged by comparing it with the copy, byte for byte, and hashes it then
    main_hash_deferred: bool = False
    #: size, times and inode of the original and its sidecars before the copy (`stamps`)
    stamps: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)

    def connect(self, *, time_limit: float | None = None) -> guards.GuardedConnection:
        return connect(self.path, time_limit=time_limit)


def _copy_data(src: Path, dest: Path, limit: int | None = None) -> None:
    """Copy the first `limit` bytes (all by default) of `src` to `dest`, in the kernel
    (copy_file_range: no trip through Python, 0.6 s a gigabyte here against 2.7 s for
    read-and-write), and only the file's data segments (SEEK_DATA / SEEK_HOLE): the copy is sparse
    where the original is, so a file padded with a 1 GiB hole costs a read, not a gigabyte of the
    work folder.  The caller hashes the original beside it, from the page cache."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        end = size if limit is None else min(size, limit)
        for start, stop in _data_segments(fin.fileno(), end):
            _copy_range(fin, fout, start, stop)
        fout.truncate(end)


def _data_segments(fd: int, end: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of `fd`'s first `end` bytes that is not a hole (the whole
    range where the file system cannot say)."""
    pos = 0
    while pos < end:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
            stop = min(end, os.lseek(fd, start, os.SEEK_HOLE))
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # nothing but a hole from pos on
                return
            yield pos, end  # SEEK_DATA not supported here
            return
        if start >= end:
            return
        yield start, stop
        pos = stop


def _copy_range(fin: BinaryIO, fout: BinaryIO, start: int, stop: int) -> None:
    """Copy bytes start..stop of `fin` to the same offsets of `fout`."""
    src_fd, dest_fd = fin.fileno(), fout.fileno()
    at = start
    while at < stop:
        try:
            done = os.copy_file_range(src_fd, dest_fd, min(stop - at, 1 << 30), at, at)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                raise
            break  # a file system the kernel cannot copy within: by hand from here
        if done == 0:  # the file shrank under us: what is left is not there to copy
            return
        at += done
    fin.seek(at)
    fout.seek(at)
    while at < stop and (chunk := fin.read(min(CHUNK, stop - at))):
        fout.write(chunk)
        at += len(chunk)


def pages_held(head: bytes, size: int) -> int:
    """Bytes of the database file SQLite reads: the header's page count when it is
    authoritative (`header_pages`), else the whole file."""
    page_size, page_count = header_pages(head)
    return min(size, page_count * page_size) if page_count else size


def _refuse_super_journal(src: Path) -> None:
    """A rollback journal that names a super-journal makes SQLite delete that file after the
    rollback, wherever it is (the customer's file itself, a file of the engineer's): the
    toolkit never replays one."""
    journal = sidecar(src, "-journal")
    if not journal.is_file():
        return
    name = guards.super_journal(guards.journal_tail(journal))
    if name is not None:
        shown = name.decode("utf-8", "replace")[:120]
        raise errors.UnsafeContentError(
            f"{src}-journal belongs to a transaction across several database files and names another file "
            f"({shown!r}) that SQLite would delete while recovering, so the toolkit will not replay it: ask the "
            "customer to open and close the app once, then send the .db (with its -wal, if any).", src)


def _refuse_hostile_schema(conn: sqlite3.Connection, src: Path) -> None:
    """Refuse, before SQLite prepares anything on it, a schema that would make it recurse
    without bound, or that names things SQL cannot spell."""
    views = conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'view'").fetchall()
    nesting = guards.view_nesting(views)
    if nesting.too_deep:
        raise errors.LimitExceededError(
            f"{src} has views nested {nesting.depth} deep (expanding to {nesting.expansion:,} references, "
            f"at {nesting.deepest!r}); the toolkit expands at most {guards.MAX_VIEW_DEPTH} levels and "
            f"{guards.MAX_VIEW_EXPANSION:,} references, so the file may be crafted: send it to engineering.", src)
    conn.text_factory = bytes
    try:
        names = conn.execute("SELECT type, name FROM sqlite_schema").fetchall()
        _check_utf8(src, names)
        try:
            columns = conn.execute("SELECT 'column', c.name FROM sqlite_schema AS s, pragma_table_xinfo(s.name) AS c "
                                   "WHERE s.type = 'table'").fetchall()
        except sqlite3.OperationalError as exc:  # a virtual table whose module this SQLite lacks
            if is_interrupt(exc):
                raise
            columns = []
        _check_utf8(src, columns)
    finally:
        conn.text_factory = lambda raw: raw.decode("utf-8", "replace")


def _check_utf8(src: Path, names: list[tuple[Any, object]]) -> None:
    for kind, raw in names:
        if not isinstance(raw, bytes):  # a crafted row can hold NULL or a number
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.UnsafeContentError(
                f"{src} has a {bytes(kind or b'').decode('utf-8', 'replace')} whose name is not valid UTF-8 text "
                f"({raw[:40]!r}); SQL cannot "
                "spell that name, so the toolkit stops here: ask which app wrote the file, or send it to "
                "engineering.", src) from None


class Check(StrEnum):
    """How a copy is checked before anything is read from it."""

    QUICK = "quick"  # PRAGMA quick_check
    FULL = "full"  # PRAGMA integrity_check (--full-check)
    NONE = "none"  # the caller checks it itself (e.g. on the second core)

    @classmethod
    def chosen(cls, full_check: bool) -> Check:
        return cls.FULL if full_check else cls.QUICK


CHECKS: dict[Check, str | None] = {Check.QUICK: "quick_check", Check.FULL: "integrity_check", Check.NONE: None}


def _damage(path: str | Path, pragma: str, messages: list[Any]) -> errors.CorruptDatabaseError:
    lines = [line for m in messages for line in str(m).splitlines() if line and not line.startswith("***")]
    first = (lines or ["?"])[0][:200]
    return errors.CorruptDatabaseError(
        f"{path} is damaged: PRAGMA {pragma} reports problems, the first being \"{first}\"; "
        f"{ASK_FOR_COPY}, or restore it from a backup.", path)


def check_integrity(conn: sqlite3.Connection, path: str | Path, check: Check = Check.QUICK) -> None:
    """Refuse a damaged database: every answer drawn from one would be unreliable."""
    pragma = CHECKS[check]
    if pragma is None:
        return
    messages = [r[0] for r in conn.execute(f"PRAGMA {pragma}(10)")]
    if messages != ["ok"]:
        raise _damage(path, pragma, messages)


def check_indexes(conn: sqlite3.Connection, path: str | Path, tables: Iterable[str], schema: str = "main") -> None:
    """Refuse a file where an index of these tables does not hold one entry per row.

    quick_check does not compare an index with its table, and an answer read through an index
    (a parent key looked up by a foreign-key check) is only as good as that index.  Counting
    each index's entries against the table's rows (`INDEXED BY` / `NOT INDEXED`: each a walk of
    one b-tree's pages) catches a missing or extra entry at a fraction of integrity_check's cost
    (the parents of a million-row file: 0.2 s against 18 s)."""
    for table in dict.fromkeys(tables):
        indexes = [r[0] for r in conn.execute(f"SELECT name FROM {schema}.pragma_index_list(?) WHERE NOT partial",
                                              (table,))]
        if not indexes:
            continue
        (rows,) = conn.execute(f"SELECT count(*) FROM {schema}.{quote(table)} NOT INDEXED").fetchone()
        for index in indexes:
            (entries,) = conn.execute(f"SELECT count(*) FROM {schema}.{quote(table)} INDEXED BY {quote(index)}"
                                      ).fetchone()
            if entries != rows:
                raise index_damage(path, table, index, f"holds {entries} entries for {rows} rows")


def index_damage(path: str | Path, table: str, index: str, what: str) -> errors.CorruptDatabaseError:
    return errors.CorruptDatabaseError(
        f"{path} is damaged: the index {index} of {table} {what} (PRAGMA integrity_check reports it too), so "
        f"answers read through it would be wrong; {ASK_FOR_COPY}, or restore it from a backup.", path)


def copy_database(src: str | Path, dest: str | Path, *, check: Check = Check.QUICK,
                  compare_later: bool = False) -> WorkCopy:
    """Copy `src` (with its -wal / hot journal) to `dest`, recover it there, and check it
    (`check`: 'quick' = PRAGMA quick_check, 'full' = integrity_check, 'none').

    After this, `dest` is one self-contained file holding exactly what the app would see;
    the original has only been read.  The copy holds only the pages SQLite reads (a padded
    tail is not copied), and a journal that would make SQLite touch another file is refused.

    `compare_later`: the caller will compare the original with the copy byte for byte at the end
    (`pages.compare_with_original` with `pages.keep`), so when the copy is to hold the original's
    bytes exactly (no log to replay, no tail) the main file is not hashed now: that comparison
    proves the original still holds what was copied, and hashes it in the same read.
    """
    before = stamps(src)
    src = check_input(src)
    dest = Path(dest)
    _refuse_super_journal(src)
    with open(src, "rb") as fh:
        header = fh.read(100)
    journal_mode = "wal" if header[18:20] == b"\x02\x02" else "delete"
    # The -shm is only hashed (SQLite rebuilds it from the -wal).  Without a log to replay, the
    # header says which pages SQLite reads; a journal or -wal may need pages past that count, so
    # then the whole file is copied and trimmed after recovery.
    replays = any(sidecar(src, s).is_file() for s in COPIED_SIDECARS)
    size = src.stat().st_size
    deferred = compare_later and not replays and pages_held(header, size) == size
    for suffix in SIDECAR_SUFFIXES + ("",):
        _refuse_holes(sidecar(src, suffix), src)
    # the originals are hashed on other threads while the kernel copies them and SQLite recovers
    # and checks the copy: a change during the copy shows up in the closing comparison
    with ThreadPoolExecutor(max_workers=2) as hashing:
        pending: dict[str, Future[str]] = {}
        stored = 0
        for suffix in ("",) + COPIED_SIDECARS:
            sidecar(dest, suffix).unlink(missing_ok=True)
            original = sidecar(src, suffix)
            if original.is_file():
                if not (deferred and suffix == ""):
                    pending[original.name] = hashing.submit(sha256_file, original)
                limit = pages_held(header, original.stat().st_size) if suffix == "" and not replays else None
                _copy_data(original, sidecar(dest, suffix), limit)
                stored += sidecar(dest, suffix).stat().st_size
        shm = sidecar(src, "-shm")
        if shm.is_file():
            pending[shm.name] = hashing.submit(sha256_file, shm)
        log_frames = _recover(src, dest, stored, check)
        opening = Fingerprint(str(src), {name: digest.result() for name, digest in pending.items()})
    _remove_sidecars(dest)
    return WorkCopy(src, dest, opening, max(log_frames, 0), journal_mode, verbatim=not replays,
                    main_hash_deferred=deferred, stamps=before)


def _recover(src: Path, dest: Path, stored: int, check: Check) -> int:
    """Let SQLite replay the copy's log into it, cut it to its pages, refuse a hostile schema and
    check it; the log's frame count."""
    with sqlite_errors(src, dest.parent):
        conn = connect(dest)
        try:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            # TRUNCATE reports the frame counts after its reset, so count with PASSIVE first.
            _, log_frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        _remove_sidecars(dest)
        _settle(dest, src, stored)
        # a second connection, on the settled file: what it reads is what the checks saw
        conn = connect(dest)
        try:
            _refuse_hostile_schema(conn, src)
            check_integrity(conn, src, check)
        finally:
            conn.close()
    return int(log_frames)


def _remove_sidecars(path: Path) -> None:
    for suffix in COPIED_SIDECARS + ("-shm",):
        sidecar(path, suffix).unlink(missing_ok=True)


def hole_bytes(path: Path, *, max_segments: int = 100_000) -> int:
    """Bytes of `path` that are holes (never written, read back as zeros), by SEEK_DATA /
    SEEK_HOLE; 0 where the file system cannot say."""
    holes = pos = 0
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fd = fh.fileno()
        for _ in range(max_segments):
            if pos >= size:
                break
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data after pos: the rest is a hole
                    return holes + size - pos
                return 0  # SEEK_DATA not supported here
            holes += data - pos
            pos = os.lseek(fd, data, os.SEEK_HOLE)
    return holes


def _refuse_holes(path: Path, src: Path) -> None:
    """Every byte of the customer's files is read (to hash it): a file that is mostly a hole, a
    terabyte long with a few pages written, would take hours to read and holds nothing."""
    if not path.is_file():
        return
    holes = hole_bytes(path)
    if holes > guards.MAX_HOLE_BYTES:
        raise errors.LimitExceededError(
            f"{path} is {path.stat().st_size / guards.GB:,.1f} GB long but {holes / guards.GB:,.1f} GB of it is a hole "
            f"that holds nothing (a padded or crafted file); the toolkit reads at most "
            f"{guards.MAX_HOLE_BYTES // guards.GB} GB of nothing, so ask for the file as the app wrote it.", src)


def _settle(dest: Path, src: Path, stored: int) -> None:
    """Cut a recovered copy to the pages SQLite reads (a rolled-back journal can leave the file
    extended to the size it claims: 262,144 pages, a gigabyte of nothing), then refuse it if it
    still outgrows the files it was made from (replaying a log only puts back pages the log or
    the file holds) or is shorter than its own header says: the log claims what it does not hold."""
    size = dest.stat().st_size
    with open(dest, "rb") as fh:
        head = fh.read(100)
    held = pages_held(head, size)
    if held < size:
        os.truncate(dest, held)
    if held > stored + guards.MAX_RECOVERY_GROWTH:
        raise errors.LimitExceededError(
            f"Recovering {src} with its -wal or -journal makes it {held / guards.MB:,.0f} MB from "
            f"{stored / guards.MB:,.0f} MB of files: the log claims pages it does not hold (a crafted or damaged "
            f"log); {ASK_FOR_COPY}.", src)
    page_size, page_count = header_pages(head)
    if page_count and held < page_count * page_size:
        raise errors.CorruptDatabaseError(
            f"{src} is damaged: once recovered it holds {held // page_size:,} pages but its header counts "
            f"{page_count:,}; {ASK_FOR_COPY}.", src)


# --------------------------------------------------------------------------- work folders
WORKDIR_PREFIX = "fk-toolkit-"


def work_folder(kind: str, parent: str | Path | None = None, *, hidden: bool = False) -> Path:
    """A private folder for one run's copies, named with this process's id so that the next
    run can remove it if this one is killed (`remove_stale_work_folders`)."""
    # absolute: SQLite resolves nothing in it against the working directory (the customer's folder, perhaps)
    folder = (Path(parent) if parent is not None else Path(tempfile.gettempdir())).resolve()
    remove_stale_work_folders(folder)
    prefix = f"{'.' if hidden else ''}{WORKDIR_PREFIX}{kind}-{os.getpid()}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=folder))


def remove_stale_work_folders(folder: Path) -> list[Path]:
    """Remove the work folders in `folder` that a killed run left behind (their process is gone)."""
    removed = []
    for stale in [*folder.glob(WORKDIR_PREFIX + "*"), *folder.glob("." + WORKDIR_PREFIX + "*")]:
        kind, _, rest = stale.name.lstrip(".")[len(WORKDIR_PREFIX):].partition("-")
        pid_text = rest.partition("-")[0]
        if not (kind.isalpha() and pid_text.isdigit()) or int(pid_text) == os.getpid():
            continue
        pid = int(pid_text)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
            removed.append(stale)
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def open_copy(path: str | Path, *, workdir: str | Path | None = None,
              check: Check = Check.QUICK) -> Iterator[WorkCopy]:
    """Yield a recovered, checked work copy of `path`; afterwards prove the original unchanged."""
    tmp = work_folder("copy", workdir)
    work: WorkCopy | None = None
    try:
        try:
            work = copy_database(path, tmp / "work.db", check=check)
        except OSError as exc:  # the temp folder's disk: full, read-only or failing
            failure = errors.from_os_error(exc, lasting_folder(tmp), need=_size(Path(path)))
            if failure is None:
                raise
            raise failure from None
        yield work
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if work is not None:
            verify_unchanged(work.fingerprint)


@contextlib.contextmanager
def safe_connection(path: str | Path, *, check: Check = Check.QUICK, overlap: bool = False
                    ) -> Iterator[tuple[WorkCopy, guards.GuardedConnection]]:
    """The one way the toolkit reads a customer's file: a recovered, checked work copy of
    `path` (`open_copy`), a guarded connection to it, and any SQLite error inside reported as
    the toolkit's error for `path`.  On exit the connection is closed, the copy removed and
    the original proven unchanged.

    `overlap`: the copy's check and the original's closing hash run on the second core beside
    the caller's work (`overlapped_copy`); the caller's answer counts only once the check passed."""
    copies = overlapped_copy(path, check=check) if overlap else open_copy(path, check=check)
    with copies as work, sqlite_errors(path):
        conn = work.connect()
        try:
            yield work, conn
        finally:
            conn.close()


def stamps(path: str | Path) -> dict[str, tuple[int, int, int, int]]:
    """Size, modification and change times, and inode of the file and its sidecars: what any write changes."""
    stamps = {}
    for candidate in [Path(path), *(sidecar(path, s) for s in SIDECAR_SUFFIXES)]:
        with contextlib.suppress(OSError):
            st = candidate.stat()
            stamps[candidate.name] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    return stamps


def _check_copy(work: WorkCopy, check: Check) -> None:
    with sqlite_errors(work.original, work.path.parent):
        conn = work.connect()
        try:
            check_integrity(conn, work.original, check)
        finally:
            conn.close()


@contextlib.contextmanager
def overlapped_copy(path: str | Path, *, workdir: str | Path | None = None,
                    check: Check = Check.QUICK) -> Iterator[WorkCopy]:
    """`open_copy`, with the copy's integrity check and the original's closing hash run in
    threads beside the caller's work (SQLite and hashlib release the GIL), as `fix` does: on a
    large file each is a pass over it that need not wait for the others.  Nothing is lost: the
    check has passed before the block's result is returned, a failure inside the block on a
    damaged file is reported as the damage, and the closing hash, taken once the copy is made,
    still proves the original unchanged (the toolkit never opens the original itself); should the
    file's size, times or inode differ at the end from before the copy, it is hashed again then."""
    tmp = work_folder("copy", workdir)
    work: WorkCopy | None = None
    try:
        with ThreadPoolExecutor(max_workers=2) as background:
            try:
                work = copy_database(path, tmp / "work.db", check=Check.NONE)
            except OSError as exc:  # the temp folder's disk: full, read-only or failing
                failure = errors.from_os_error(exc, lasting_folder(tmp), need=_size(Path(path)))
                if failure is None:
                    raise
                raise failure from None
            checked = background.submit(_check_copy, work, check)
            closing = background.submit(fingerprint, work.original)
            try:
                yield work
            except (sqlite3.Error, errors.ToolkitError):
                checked.result()  # a damaged file explains the failure: say so, not the symptom
                raise
            checked.result()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if work is not None:
            # a write after the closing hash read the file changes its size or time: hash it again
            after = closing.result() if stamps(path) == work.stamps else None
            verify_unchanged(work.fingerprint, after)
