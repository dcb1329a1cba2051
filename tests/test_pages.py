"""pages: the schema's pages and the free list walked from the file's bytes, and per-page digests."""
import sqlite3

import pytest

from toolkit import errors
from toolkit.pages import HeaderField, page_digests, read_layout, unexpected_changes


def _file(path, *, page_size=1024, long_schema=False, rows=300):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {page_size}")
    # a declaration longer than a page: the schema's cell spills into an overflow chain
    padding = ", ".join(f"c{i} TEXT DEFAULT 'x'" for i in range(200)) if long_schema else "c0 TEXT"
    conn.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, {padding})")
    for i in range(20):
        conn.execute(f"CREATE TABLE side{i} (a)")
    conn.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(i, "v" * 50) for i in range(rows)])
    conn.close()
    return path


def _pages_of(path):
    conn = sqlite3.connect(path)
    (count,) = conn.execute("PRAGMA page_count").fetchone()
    conn.close()
    return count


def test_the_schema_pages_include_its_overflow_chain_and_no_table_page(tmp_path):
    path = _file(tmp_path / "a.db", long_schema=True)
    layout = read_layout(path)
    conn = sqlite3.connect(path)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = 't'").fetchone()
    conn.close()
    assert 1 in layout.schema_pages and len(layout.schema_pages) > 2  # the declaration overflowed
    assert root not in layout.schema_pages
    table = read_layout(path, [root])
    assert root in table.written_pages and not table.written_pages & table.schema_pages
    assert page_digests(path).count == _pages_of(path) == layout.geometry.page_count


def test_free_list_trunks_are_bookkeeping(tmp_path):
    path = _file(tmp_path / "a.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("DELETE FROM t")
    (trunk,) = conn.execute("PRAGMA freelist_count").fetchone()
    conn.close()
    layout = read_layout(path)
    assert trunk > 0 and layout.bookkeeping_pages  # the first trunk page at least
    head = path.read_bytes()[32:36]
    assert int.from_bytes(head, "big") in layout.bookkeeping_pages


def test_a_changed_data_page_is_found_and_the_schema_edit_fields_are_not(tmp_path):
    path = _file(tmp_path / "a.db")
    before = page_digests(path)
    data = bytearray(path.read_bytes())
    data[HeaderField.CHANGE_COUNTER + 3] ^= 1
    data[HeaderField.SCHEMA_COOKIE + 3] ^= 1
    path.write_bytes(bytes(data))
    layout = read_layout(path)
    assert unexpected_changes(before, page_digests(path), layout.rewritable) == []
    page = max(set(range(2, layout.geometry.page_count + 1)) - layout.rewritable)
    data[(page - 1) * 1024 + 500] ^= 0xFF
    data[HeaderField.USER_VERSION + 3] ^= 1
    path.write_bytes(bytes(data))
    problems = unexpected_changes(before, page_digests(path), layout.rewritable)
    assert any(f"changed: {page}" in p for p in problems) and any("user_version" in p for p in problems)


def test_a_loop_in_the_schema_is_refused_not_followed(tmp_path):
    path = _file(tmp_path / "a.db", page_size=512, rows=0)
    data = bytearray(path.read_bytes())
    # page 1 made an interior table page whose right-most child is page 1 itself
    data[100] = 5
    data[103:105] = b"\0\0"
    data[108:112] = (1).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(errors.CorruptDatabaseError, match="reached twice"):
        read_layout(path)
