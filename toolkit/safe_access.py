"""Safe access to a customer's database file.

The original is only ever read as bytes (never opened by SQLite, which could write to its
``-shm`` or checkpoint its ``-wal``).  We copy the database together with its ``-wal`` (and a
hot ``-journal``) into a private work folder and let SQLite recover that copy exactly as the
app would see it.  Every command fingerprints the original and its sidecars before and after,
and fails loudly if a single byte changed.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import sqlite3
import stat
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import errors

SQLITE_MAGIC = b"SQLite format 3\x00"
WAL_MAGICS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
#: Sidecars SQLite needs to see the same data the app sees (-shm is rebuilt from -wal).
COPIED_SIDECARS = ("-wal", "-journal")
CHUNK = 1 << 20
DEFAULT_TIME_LIMIT = float(os.environ.get("TOOLKIT_TIME_LIMIT", "900"))

ASK_FOR_COPY = "ask the customer to close the app and send the .db file together with its -wal file"


# --------------------------------------------------------------------------- fingerprints
@dataclass(frozen=True)
class Fingerprint:
    """SHA-256 of a database file and each sidecar that exists beside it."""

    path: str
    hashes: dict[str, str] = field(default_factory=dict)  # file name -> sha256

    def changed_files(self, other: "Fingerprint") -> list[str]:
        names = set(self.hashes) | set(other.hashes)
        return sorted(n for n in names if self.hashes.get(n) != other.hashes.get(n))


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(path: str | Path) -> Fingerprint:
    path = Path(path)
    hashes = {}
    for candidate in [path, *(sidecar(path, s) for s in SIDECAR_SUFFIXES)]:
        if candidate.is_file():
            hashes[candidate.name] = sha256_file(candidate)
    return Fingerprint(str(path), hashes)


def verify_unchanged(before: Fingerprint, after: Fingerprint | None = None) -> Fingerprint:
    """Raise unless the original still has the hashes it had when it was copied (`after`:
    a closing fingerprint already taken, e.g. in a background thread)."""
    after = after or fingerprint(before.path)
    changed = before.changed_files(after)
    if changed:
        raise errors.OriginalChangedError(
            f"{before.path} changed while the toolkit was reading it ({', '.join(changed)}); "
            "the toolkit only reads it, so another program (probably the app) is writing it and nothing was "
            f"written: {ASK_FOR_COPY}.",
            before.path,
        )
    return after


def sidecar(path: str | Path, suffix: str) -> Path:
    path = Path(path)
    return path.with_name(path.name + suffix)


# --------------------------------------------------------------------------- validation
def _describe_foreign_bytes(head: bytes) -> tuple[str, bool]:
    """Name what a non-SQLite file looks like; the flag says it looks encrypted."""
    signatures = {
        b"\x89PNG": "a PNG image",
        b"\xff\xd8\xff": "a JPEG image",
        b"GIF8": "a GIF image",
        b"PK\x03\x04": "a ZIP archive",
        b"%PDF": "a PDF document",
        b"\x1f\x8b": "a gzip archive",
    }
    for magic, name in signatures.items():
        if head.startswith(magic):
            return name, False
    if head[:4] in WAL_MAGICS:
        return "a SQLite write-ahead log (-wal), not the database itself", False
    try:
        text = head.decode("utf-8")
        if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
            return "a text file", False
    except UnicodeDecodeError:
        pass
    if len(head) >= 256:
        counts = [0] * 256
        for byte in head:
            counts[byte] += 1
        entropy = -sum(c / len(head) * math.log2(c / len(head)) for c in counts if c)
        if entropy > 7.0:
            return "encrypted or random data", True
    return "some other binary format", False


def _check_header(path: Path, size: int) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.startswith(SQLITE_MAGIC):
        kind, encrypted = _describe_foreign_bytes(head)
        if encrypted:
            raise errors.EncryptedDatabaseError(
                f"{path} is not a readable SQLite database: it has no SQLite header and its bytes "
                "look random, as an encrypted database (SQLCipher, for one) does; ask the customer for "
                "an unencrypted copy of the app's database.",
                path,
            )
        raise errors.NotADatabaseError(
            f"{path} is not a SQLite database (it looks like {kind}); "
            "ask the customer for the app's .db file from its data folder.",
            path,
        )
    if size < 100:
        raise errors.TruncatedDatabaseError(
            f"{path} is truncated: it stops inside the 100-byte SQLite header ({size} bytes); "
            f"{ASK_FOR_COPY}.",
            path,
        )
    raw_page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise errors.CorruptDatabaseError(
            f"{path} has a damaged SQLite header (page size {raw_page_size} is impossible); "
            f"{ASK_FOR_COPY}.",
            path,
        )
    change_counter, page_count = struct.unpack(">II", head[24:32])
    valid_for = int.from_bytes(head[92:96], "big")
    # The header's page count is only authoritative when version-valid-for matches the
    # change counter (files written by SQLite >= 3.7.0).
    if page_count and change_counter == valid_for and size < page_count * page_size:
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
        raise errors.EmptyFileError(
            f"{path} is empty (0 bytes), so the copy the customer sent holds no data; {ASK_FOR_COPY}.",
            path,
        )
    _check_header(path, size)
    _check_not_locked(path)
    return path


# --------------------------------------------------------------------------- connections
def connect(path: str | Path, *, time_limit: float | None = None, uri: bool = False) -> sqlite3.Connection:
    """Open a database (always a COPY) with the toolkit's guards in place.

    Autocommit mode (the caller spells out its transactions), untrusted schema (a customer's
    views and triggers cannot call functions with side effects), no extension loading, no
    recursive triggers (Debian builds SQLite with them on; the app has them off), and a
    deadline enforced by SQLite's progress handler so no crafted file can hang the tool.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, uri=uri, check_same_thread=False)
    # customer files can hold TEXT that is not valid UTF-8; show it, never crash on it
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
    limit = DEFAULT_TIME_LIMIT if time_limit is None else time_limit
    deadline = time.monotonic() + limit
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 20_000)
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.execute("PRAGMA recursive_triggers = OFF")
    conn.execute("PRAGMA cell_size_check = ON")
    if hasattr(conn, "enable_load_extension"):
        conn.enable_load_extension(False)
    return conn


def translate(exc: sqlite3.Error, path: str | Path) -> errors.ToolkitError:
    """Turn an unexpected SQLite error on a customer's data into a toolkit error."""
    text = str(exc)
    if "interrupted" in text:
        return errors.QueryTimeoutError(
            f"{path} took longer than the time limit to read ({DEFAULT_TIME_LIMIT:g} s, set "
            "TOOLKIT_TIME_LIMIT to raise it); the file may be crafted or damaged, so send it to engineering.",
            path,
        )
    if "not a database" in text or "file is encrypted" in text:
        return errors.NotADatabaseError(
            f"{path} is not a readable SQLite database (SQLite says: {text}); "
            "ask the customer for the app's .db file, unencrypted.",
            path,
        )
    if "locked" in text or "busy" in text:
        return errors.LockedDatabaseError(
            f"{path} is locked (SQLite says: {text}); close the app and copy the file again.", path
        )
    return errors.CorruptDatabaseError(
        f"{path} is damaged: SQLite says \"{text}\"; {ASK_FOR_COPY}, or restore it from a backup.", path
    )


@contextlib.contextmanager
def sqlite_errors(path: str | Path) -> Iterator[None]:
    """Report any SQLite error raised inside as the toolkit's error for `path`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    except (MemoryError, RecursionError, OverflowError, UnicodeError) as exc:
        raise errors.CorruptDatabaseError(
            f"{path} could not be read ({type(exc).__name__}); the file may be crafted or damaged, "
            "so send it to engineering.",
            path,
        ) from None


# --------------------------------------------------------------------------- copies
@dataclass
class WorkCopy:
    """A private, recovered copy of a customer's database."""

    original: Path
    path: Path
    fingerprint: Fingerprint
    wal_frames: int
    journal_mode: str

    def connect(self, *, time_limit: float | None = None) -> sqlite3.Connection:
        return connect(self.path, time_limit=time_limit)


def _copy_bytes(src: Path, dest: Path) -> str:
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
    return digest.hexdigest()


CHECKS = {"quick": "quick_check", "full": "integrity_check", "none": None}


def check_integrity(conn: sqlite3.Connection, path: str | Path, check: str = "quick") -> None:
    """Refuse a damaged database: every answer drawn from one would be unreliable."""
    pragma = CHECKS[check]
    if pragma is None:
        return
    messages = [r[0] for r in conn.execute(f"PRAGMA {pragma}(10)")]
    if messages != ["ok"]:
        lines = [line for m in messages for line in str(m).splitlines() if line and not line.startswith("***")]
        first = (lines or ["?"])[0][:200]
        raise errors.CorruptDatabaseError(
            f"{path} is damaged: PRAGMA {pragma} reports problems, the first being \"{first}\"; "
            f"{ASK_FOR_COPY}, or restore it from a backup.", path)


def copy_database(src: str | Path, dest: str | Path, *, check: str = "quick") -> WorkCopy:
    """Copy `src` (with its -wal / hot journal) to `dest`, recover it there, and check it
    (`check`: 'quick' = PRAGMA quick_check, 'full' = integrity_check, 'none').

    After this, `dest` is one self-contained file holding exactly what the app would see;
    the original has only been read.
    """
    src = check_input(src)
    dest = Path(dest)
    with open(src, "rb") as fh:
        header = fh.read(20)
    journal_mode = "wal" if header[18:20] == b"\x02\x02" else "delete"
    # One read of each file both copies and fingerprints it; the -shm is only hashed (SQLite
    # rebuilds it from the -wal).  A change during the copy shows up in the final comparison.
    hashes = {}
    for suffix in ("",) + COPIED_SIDECARS:
        sidecar(dest, suffix).unlink(missing_ok=True)
        original = sidecar(src, suffix)
        if original.is_file():
            hashes[original.name] = _copy_bytes(original, sidecar(dest, suffix))
    shm = sidecar(src, "-shm")
    if shm.is_file():
        hashes[shm.name] = sha256_file(shm)
    before = Fingerprint(str(src), hashes)
    with sqlite_errors(src):
        conn = connect(dest)
        try:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            # TRUNCATE reports the frame counts after its reset, so count with PASSIVE first.
            _, log_frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            check_integrity(conn, src, check)
        finally:
            conn.close()
    for suffix in COPIED_SIDECARS + ("-shm",):
        sidecar(dest, suffix).unlink(missing_ok=True)
    return WorkCopy(src, dest, before, max(log_frames, 0), journal_mode)


@contextlib.contextmanager
def open_copy(path: str | Path, *, workdir: str | Path | None = None, check: str = "quick") -> Iterator[WorkCopy]:
    """Yield a recovered, checked work copy of `path`; afterwards prove the original unchanged."""
    tmp = Path(tempfile.mkdtemp(prefix="fk-toolkit-", dir=workdir))
    work: WorkCopy | None = None
    try:
        work = copy_database(path, tmp / "work.db", check=check)
        yield work
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if work is not None:
            verify_unchanged(work.fingerprint)
