"""A database file as pages: which pages hold what, and a digest of each.

Read from the file's bytes (https://www.sqlite.org/fileformat2.html), never through SQLite, so
that the fast path's proof does not trust the engine whose output it checks: every page of a
repaired copy other than the schema's and the free-list bookkeeping must be byte-identical to
the copy taken before the edit (`unexpected_changes`).

The walker follows b-tree pages (interior and leaf, table and index) and the overflow chains of
their cells, and the free-list trunk pages; it is small because it only ever walks the schema's
b-tree and the few b-trees a plan writes rows to, and it refuses, never guesses, a page it cannot
read (a loop, a page number past the end, an unknown page type).
"""
from __future__ import annotations

import hashlib
import struct
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO

from . import errors

HEADER_BYTES = 100
DIGEST_BYTES = 20  # SHA-1
#: SQLite never stores anything on the page holding this offset (os.h: PENDING_BYTE).
PENDING_BYTE = 0x40000000


class HeaderField(IntEnum):
    """Offsets of the header fields an edit of the schema may change (fileformat2.html, 1.3)."""

    CHANGE_COUNTER = 24
    PAGE_COUNT = 28
    FREELIST_TRUNK = 32
    FREELIST_COUNT = 36
    SCHEMA_COOKIE = 40
    USER_VERSION = 60
    VERSION_VALID_FOR = 92
    SQLITE_VERSION = 96


#: What any write transaction, or one that changes the schema, may change in the header.
SCHEMA_EDIT_FIELDS = frozenset({HeaderField.CHANGE_COUNTER, HeaderField.PAGE_COUNT, HeaderField.FREELIST_TRUNK,
                                HeaderField.FREELIST_COUNT, HeaderField.SCHEMA_COOKIE,
                                HeaderField.VERSION_VALID_FOR, HeaderField.SQLITE_VERSION})


class PageType(IntEnum):
    INTERIOR_INDEX = 2
    INTERIOR_TABLE = 5
    LEAF_INDEX = 10
    LEAF_TABLE = 13


@dataclass(frozen=True)
class Geometry:
    """A database file's page size, usable bytes per page, page count and auto-vacuum mode."""

    page_size: int
    #: bytes of each page b-trees use (the page size less the reserved bytes at its end)
    usable: int
    page_count: int
    auto_vacuum: bool


def geometry(head: bytes, file_size: int) -> Geometry:
    raw = int.from_bytes(head[16:18], "big")
    page_size = 65536 if raw == 1 else raw
    if page_size < 512 or page_size & (page_size - 1):
        raise ValueError(f"impossible page size {raw}")
    usable = page_size - head[20]
    return Geometry(page_size, usable, file_size // page_size, int.from_bytes(head[52:56], "big") != 0)


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    """SQLite's big-endian varint at buf[i]: (value, offset after it)."""
    value = 0
    for k in range(8):
        byte = buf[i + k]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + k + 1
    return (value << 8) | buf[i + 8], i + 9


def _local_payload(payload: int, usable: int, table_leaf: bool) -> int:
    """Bytes of a cell's payload stored on its own page (fileformat2.html, 1.6)."""
    most = usable - 35 if table_leaf else (usable - 12) * 64 // 255 - 23
    if payload <= most:
        return payload
    least = (usable - 12) * 32 // 255 - 23
    k = least + (payload - least) % (usable - 4)
    return k if k <= most else least


class _Reader:
    def __init__(self, fh: BinaryIO, geo: Geometry):
        self.fh, self.geo = fh, geo

    def page(self, number: int) -> bytes:
        if not 1 <= number <= self.geo.page_count:
            raise ValueError(f"page {number} is outside the file's {self.geo.page_count} pages")
        self.fh.seek((number - 1) * self.geo.page_size)
        return self.fh.read(self.geo.page_size)


def _overflow_chain(reader: _Reader, first: int, seen: set[int]) -> None:
    page = first
    while page:
        if page in seen:
            raise ValueError(f"page {page} is reached twice (an overflow loop)")
        seen.add(page)
        page = int.from_bytes(reader.page(page)[:4], "big")


def _cell_overflow(buf: bytes, at: int, kind: PageType, usable: int) -> int:
    """The first overflow page of the cell at `at` (0 when its payload fits on the page)."""
    if kind is PageType.INTERIOR_TABLE:
        return 0  # a child pointer and a rowid: no payload
    i = at + (4 if kind is PageType.INTERIOR_INDEX else 0)
    payload, i = _varint(buf, i)
    if kind is PageType.LEAF_TABLE:
        _, i = _varint(buf, i)  # the rowid
    local = _local_payload(payload, usable, kind is PageType.LEAF_TABLE)
    return int.from_bytes(buf[i + local:i + local + 4], "big") if local < payload else 0


def _walk(reader: _Reader, root: int, seen: set[int]) -> None:
    stack = [root]
    while stack:
        number = stack.pop()
        if number in seen:
            raise ValueError(f"page {number} is reached twice (a b-tree loop)")
        seen.add(number)
        buf = reader.page(number)
        base = HEADER_BYTES if number == 1 else 0
        try:
            kind = PageType(buf[base])
        except ValueError:
            raise ValueError(f"page {number} is not a b-tree page (type {buf[base]})") from None
        cells = int.from_bytes(buf[base + 3:base + 5], "big")
        interior = kind in (PageType.INTERIOR_INDEX, PageType.INTERIOR_TABLE)
        pointers = base + (12 if interior else 8)
        if interior:
            stack.append(int.from_bytes(buf[base + 8:base + 12], "big"))
        for k in range(cells):
            at = int.from_bytes(buf[pointers + 2 * k:pointers + 2 * k + 2], "big")
            if interior:
                stack.append(int.from_bytes(buf[at:at + 4], "big"))
            overflow = _cell_overflow(buf, at, kind, reader.geo.usable)
            if overflow:
                _overflow_chain(reader, overflow, seen)


def _freelist(reader: _Reader, head: bytes) -> tuple[set[int], set[int]]:
    """The free list's trunk pages and the leaf pages they list (fileformat2.html, 1.5)."""
    trunks: set[int] = set()
    leaves: set[int] = set()
    most = reader.geo.usable // 4 - 2
    page = int.from_bytes(head[32:36], "big")
    while page:
        if page in trunks:
            raise ValueError(f"free-list trunk page {page} is reached twice")
        trunks.add(page)
        buf = reader.page(page)
        count = int.from_bytes(buf[4:8], "big")
        if count > most:
            raise ValueError(f"free-list trunk page {page} lists {count} leaves (at most {most} fit)")
        for k in range(count):
            leaf = int.from_bytes(buf[8 + 4 * k:12 + 4 * k], "big")
            if not 1 <= leaf <= reader.geo.page_count:
                raise ValueError(f"free-list trunk page {page} lists page {leaf}, outside the file")
            leaves.add(leaf)
        page = int.from_bytes(buf[:4], "big")
    return trunks, leaves


def _ptrmap_pages(geo: Geometry) -> set[int]:
    """The pointer-map pages of an auto-vacuum file: page 2, then every usable/5 + 1 pages."""
    if not geo.auto_vacuum:
        return set()
    step = geo.usable // 5 + 1
    return set(range(2, geo.page_count + 1, step))


@dataclass(frozen=True)
class Layout:
    """Where a file keeps what an edit of its schema may rewrite."""

    geometry: Geometry
    #: pages of the schema's b-tree (rooted at page 1) and its overflow chains
    schema_pages: frozenset[int]
    #: pages of the other b-trees asked for (a table a plan writes rows to, its indexes)
    written_pages: frozenset[int]
    #: free-list trunk pages and, in auto-vacuum files, the pointer-map pages
    bookkeeping_pages: frozenset[int]
    #: the free list's leaf pages: an edit that needs a page may take one (it is then the schema's)
    free_pages: frozenset[int] = frozenset()

    @property
    def rewritable(self) -> frozenset[int]:
        return self.schema_pages | self.written_pages | self.bookkeeping_pages

    @property
    def may_change(self) -> frozenset[int]:
        """Every page an edit of the schema may write: what it rewrites, and the free pages it may take."""
        return self.rewritable | self.free_pages


@dataclass(frozen=True)
class Kept:
    """What a copy held, before an edit, where the edit may write: its header and a SHA-1 of each
    such page.  When the copy was the original's bytes, the original must still hold these."""

    size: int
    header: bytes
    digests: dict[int, bytes]


def keep(path: str | Path, numbers: Iterable[int]) -> Kept:
    """`Kept` for pages `numbers` of `path` (page 1's digest covers its bytes after the header),
    read one by one: a few schema pages, and the free list's."""
    digests = {}
    with open(path, "rb") as fh:
        header = fh.read(HEADER_BYTES)
        page_size = geometry(header, 0).page_size
        for number in sorted(numbers):
            fh.seek((number - 1) * page_size + (HEADER_BYTES if number == 1 else 0))
            page = fh.read(page_size - (HEADER_BYTES if number == 1 else 0))
            digests[number] = hashlib.sha1(page, usedforsecurity=False).digest()
    return Kept(Path(path).stat().st_size, header, digests)


def read_layout(path: str | Path, roots: Iterable[int] = ()) -> Layout:
    """The schema's pages, the pages of the b-trees rooted at `roots`, and the bookkeeping pages of
    the database file at `path` (a copy: the walk reads only bytes)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEADER_BYTES)
            geo = geometry(head, path.stat().st_size)
            reader = _Reader(fh, geo)
            schema: set[int] = set()
            _walk(reader, 1, schema)
            written: set[int] = set()
            for root in roots:
                if root:
                    _walk(reader, root, written)
            trunks, leaves = _freelist(reader, head)
            bookkeeping = trunks | _ptrmap_pages(geo)
    except (ValueError, IndexError, struct.error) as exc:
        raise errors.CorruptDatabaseError(
            f"{path} is damaged: its pages could not be walked ({exc}); the repair's proof reads them, so "
            "send the file to engineering.", path) from None
    return Layout(geo, frozenset(schema), frozenset(written), frozenset(bookkeeping), frozenset(leaves))


# --------------------------------------------------------------------------- digests
@dataclass(frozen=True)
class PageDigests:
    """A digest of every page of a file, with its header: one read, compared later."""

    page_size: int
    #: the 100-byte header, kept whole: its fields are compared one by one
    header: bytes
    #: SHA-1 of each page, page 1 first (page 1's digest covers its bytes after the header), the
    #: 20-byte digests end to end in one bytes object: 5 MB for a 1 GB file, not 18 MB of small objects
    digests: bytes

    @property
    def count(self) -> int:
        return len(self.digests) // DIGEST_BYTES

    def page(self, number: int) -> bytes:
        """Page `number`'s digest (b"" past the end of the file)."""
        return self.digests[(number - 1) * DIGEST_BYTES:number * DIGEST_BYTES]


def page_digests(path: str | Path) -> PageDigests:
    """One pass over the file: a digest of each page.  SHA-1, the fastest of hashlib's on a page
    (measured against BLAKE2b and MD5): the pages compared are the toolkit's own copy, so the
    digest guards against an engine's mistake, not an adversary's collision."""
    digests = bytearray()
    sha1 = hashlib.sha1
    with open(path, "rb") as fh:
        head = fh.read(HEADER_BYTES)
        size = geometry(head, Path(path).stat().st_size).page_size
        fh.seek(0)
        chunk_pages = max(1, (1 << 20) // size)
        while block := fh.read(chunk_pages * size):
            view = memoryview(block)  # slices of a view copy nothing
            first = HEADER_BYTES if not digests else 0
            for at in range(0, len(block), size):
                digests += sha1(view[at + (first if at == 0 else 0):at + size], usedforsecurity=False).digest()
    return PageDigests(size, head, bytes(digests))


def changed_header_fields(before: bytes, after: bytes) -> set[int]:
    """Offsets of the 4-byte header fields that differ (any other changed byte counts as offset -1)."""
    changed = {int(f) for f in HeaderField if before[f:f + 4] != after[f:f + 4]}
    masked = bytearray(before), bytearray(after)
    for buf in masked:
        for f in HeaderField:
            buf[f:f + 4] = b"\0\0\0\0"
    if masked[0] != masked[1]:
        changed.add(-1)
    return changed


def unexpected_changes(before: PageDigests, after: PageDigests, allowed_pages: frozenset[int],
                       allowed_fields: frozenset[int] = SCHEMA_EDIT_FIELDS) -> list[str]:
    """What changed between two digests of a file that should not have: pages outside
    `allowed_pages` (page numbers from 1) and header fields outside `allowed_fields`."""
    if before.page_size != after.page_size:
        return [f"the page size changed from {before.page_size} to {after.page_size}"]
    if before.digests == after.digests:
        changed: list[int] = []
    else:
        count = max(before.count, after.count)
        changed = [n for n in range(1, count + 1) if n not in allowed_pages and before.page(n) != after.page(n)]
    return _problems(before.header, after.header, changed, allowed_fields)


@dataclass(frozen=True)
class Comparison:
    """An edited copy read against the original it was copied from, in one pass over each."""

    #: what changed that should not have (empty: every other page byte-identical)
    problems: list[str]
    #: SHA-256 of the whole original, read in the same pass (its closing fingerprint)
    original_sha256: str
    pages_compared: int
    #: with `Kept`: where the original no longer holds what the copy held before the edit
    #: (0 for its header or its length)
    original_changed: tuple[int, ...] = ()


def compare_with_original(original: str | Path, edited: str | Path, allowed_pages: frozenset[int],
                          allowed_fields: frozenset[int] = SCHEMA_EDIT_FIELDS, kept: Kept | None = None
                          ) -> Comparison:
    """The edited copy's pages against the original's, where the copy held the original's bytes
    before the edit (no log was replayed into it): one read of each file, no digest of either,
    and the original hashed on the way (a page-sized `==` is a memcmp; a SHA-1 of the page costs
    more than reading it).  The original may be longer than the copy (a tail past the pages its
    header counts, which the copy leaves out): that tail is hashed, not compared.

    `kept` (what the copy held where the edit may write, taken before it): the pages the edit
    changed are also checked against it, so that the original is known to hold, byte for byte,
    what the copy held before the edit, its length and header included: no hash of it need be
    taken when it is copied."""
    changed: list[int] = []
    original_changed: list[int] = []
    with open(original, "rb") as fa, open(edited, "rb") as fb, _HashBeside() as digest:
        head_a, head_b = fa.read(HEADER_BYTES), fb.read(HEADER_BYTES)
        digest.update(head_a)
        try:
            size_a, size_b = geometry(head_a, 0).page_size, geometry(head_b, 0).page_size
        except ValueError as exc:
            raise errors.CorruptDatabaseError(
                f"{original} is damaged: its header says {exc}; send the file to engineering.", original) from None
        problems = [f"the page size changed from {size_a} to {size_b}"] if size_a != size_b else []
        if kept is not None and (head_a != kept.header or Path(original).stat().st_size != kept.size):
            original_changed.append(0)
        block = max(1, (1 << 20) // size_a) * size_a
        at, first = HEADER_BYTES, True  # page 1 after its header, then whole blocks of pages
        while True:
            want = block - (HEADER_BYTES if first else 0)
            a, b = fa.read(want), fb.read(want)
            if not a and not b:
                break
            digest.update(a)
            kept_a = a[:len(b)]  # past the copy's end the original is only hashed
            if not problems and kept_a != b:
                in_block = _changed_in_block(kept_a, b, at, size_a, first)
                changed += in_block
                if kept is not None:
                    original_changed += _no_longer_kept(a, at, size_a, in_block, kept)
            at += max(len(a), len(b))
            first = False
    original_size = Path(original).stat().st_size
    pages = max(Path(edited).stat().st_size, original_size) // size_a
    # with `kept`, a page of the original the edit changed must be one it kept: else what the
    # original held there before is not known
    unexpected = [n for n in changed if n not in allowed_pages
                  or (kept is not None and n not in kept.digests and n * size_a <= original_size)]
    return Comparison(problems or _problems(head_a, head_b, unexpected, allowed_fields), digest.hexdigest(), pages,
                      tuple(original_changed))


class _HashBeside:
    """SHA-256 of the blocks given to it, in their order, taken on a thread of its own while the
    caller reads and compares the next ones (hashlib lets go of the GIL): at most `ahead` blocks
    wait to be hashed."""

    def __init__(self, ahead: int = 8):
        self._digest = hashlib.sha256()
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._waiting: deque[Future[None]] = deque()
        self._ahead = ahead

    def update(self, data: bytes) -> None:
        self._waiting.append(self._pool.submit(self._digest.update, data))
        if len(self._waiting) > self._ahead:
            self._waiting.popleft().result()

    def hexdigest(self) -> str:
        while self._waiting:
            self._waiting.popleft().result()
        return self._digest.hexdigest()

    def __enter__(self) -> _HashBeside:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)


def _no_longer_kept(block: bytes, at: int, page_size: int, numbers: list[int], kept: Kept) -> list[int]:
    """Of the kept pages `numbers` in a block of the original read from offset `at`, those whose
    bytes are not what `kept` says the copy held before the edit."""
    gone = []
    for number in numbers:
        end = number * page_size - at
        if number not in kept.digests or end > len(block):
            continue
        page = block[max((number - 1) * page_size, HEADER_BYTES) - at:end]
        if kept.digests[number] != hashlib.sha1(page, usedforsecurity=False).digest():
            gone.append(number)
    return gone


def _changed_in_block(a: bytes, b: bytes, at: int, page_size: int, first: bool) -> list[int]:
    """Numbers of the pages that differ between two blocks read from offset `at` (the first
    block of a file starts after page 1's header)."""
    changed = []
    offset = HEADER_BYTES if first else 0
    length = max(len(a), len(b))
    start = 0
    while start < length:
        end = start + page_size - (offset if start == 0 else 0)
        if a[start:end] != b[start:end]:
            changed.append((at + start) // page_size + 1)
        start = end
    return changed


def _problems(head_before: bytes, head_after: bytes, changed_pages: list[int],
              allowed_fields: frozenset[int]) -> list[str]:
    problems = []
    fields = changed_header_fields(head_before, head_after) - set(allowed_fields)
    if fields:
        problems.append("the file header changed at " + ", ".join(
            HeaderField(f).name.lower() if f >= 0 else "a byte outside its known fields" for f in sorted(fields)))
    if changed_pages:
        shown = ", ".join(map(str, changed_pages[:10])) + (" ..." if len(changed_pages) > 10 else "")
        problems.append(f"{len(changed_pages)} page(s) outside the schema changed: {shown}")
    return problems
