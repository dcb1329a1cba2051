"""Hot rollback journals, byte by byte (SQLite's fileformat2.html, "The Rollback Journal", and
pager.c: readJournalHdr, readSuperJournal, pager_playback, pager_delsuper).

A journal beside a database is "hot" (replayed by the next connection that reads the database)
when it is non-empty, starts with the magic, and no connection holds a write lock. SQLite then:
1. reads a super-journal name from the journal's END, if a valid record is there; if it names a
   file that does not exist the journal is not replayed;
2. truncates or EXTENDS the database to the header's "initial page count" and copies back the
   page records (we write none);
3. deletes the journal, then opens the super-journal, reads it as a list of child-journal names
   and, when none of them still points back at it, DELETES the super-journal: whatever file the
   name resolves to (absolute, or relative to the process's working directory).
"""
from __future__ import annotations

import struct
from pathlib import Path

MAGIC = bytes.fromhex("d9d505f920a163d7")
PENDING_BYTE = 0x40000000
SECTOR = 512  # the journal header fills one sector; 512 is SQLite's smallest on Linux
NONCE = 0x5A17C0DE  # the checksum initializer; only page records use it


def header(*, page_size: int, initial_pages: int, records: int = 0) -> bytes:
    """The first sector: magic, record count, nonce, the database's size before the transaction
    (in pages), sector size and page size; the rest of the sector is padding."""
    fields = struct.pack(">IIIII", records, NONCE, initial_pages, SECTOR, page_size)
    return (MAGIC + fields).ljust(SECTOR, b"\0")


def super_journal_record(name: bytes, page_size: int) -> bytes:
    """The record SQLite appends when a transaction spans several databases: the PENDING_BYTE
    page's number (never a real page), the name, its length, its checksum, the magic."""
    # SQLite sums the name as C `char`s (signed on x86); ASCII names sum the same either way
    assert name.isascii(), name
    checksum = sum(name) & 0xFFFFFFFF
    return (struct.pack(">I", PENDING_BYTE // page_size + 1) + name
            + struct.pack(">II", len(name), checksum) + MAGIC)


def hot_journal(db: Path, *, page_size: int, initial_pages: int, super_journal: str | None = None) -> Path:
    """Write `db`'s `-journal`: a valid header with no page records, and a super-journal record
    naming `super_journal` when given."""
    data = header(page_size=page_size, initial_pages=initial_pages)
    if super_journal is not None:
        data += super_journal_record(super_journal.encode(), page_size)
    journal = db.with_name(db.name + "-journal")
    journal.write_bytes(data)
    return journal


def super_journal_name(journal: bytes) -> bytes | None:
    """The name a journal's super-journal record holds, read as SQLite reads it (None: no record)."""
    if len(journal) < 16 or journal[-8:] != MAGIC:
        return None
    length, checksum = struct.unpack(">II", journal[-16:-8])
    name = journal[-16 - length:-16]
    if length == 0 or len(name) != length or sum(name) & 0xFFFFFFFF != checksum:
        return None
    return name
