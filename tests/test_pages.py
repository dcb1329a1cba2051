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
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(i, "v" * 50) for i in range(rows)])
    conn.execute("COMMIT")
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


# ---- the edited copy read against the original (no digests) ------------------------------------
def _edits(data, layout, page):
    """(name, edit) pairs applied to a copy of the file: what either proof must see the same way."""
    size = layout.geometry.page_size

    def flip(at):
        data[at] ^= 0xFF

    return {
        "nothing": lambda: None,
        "schema edit fields": lambda: (flip(HeaderField.CHANGE_COUNTER + 3), flip(HeaderField.SCHEMA_COOKIE + 3)),
        "user_version": lambda: flip(HeaderField.USER_VERSION + 3),
        "a data page": lambda: flip((page - 1) * size + 500),
        "the last byte of a data page": lambda: flip(page * size - 1),
        "a schema page": lambda: flip(size + 10) if 2 in layout.rewritable else flip(200),
        "a page added at the end": lambda: data.extend(b"\1" * size),
    }


@pytest.mark.parametrize("edit", ["nothing", "schema edit fields", "user_version", "a data page",
                                  "the last byte of a data page", "a schema page", "a page added at the end"])
@pytest.mark.parametrize("page_size", [512, 4096, 65536])
def test_comparing_with_the_original_finds_what_the_digests_find(tmp_path, edit, page_size):
    from toolkit.pages import compare_with_original
    from toolkit.safe_access import sha256_file

    original = _file(tmp_path / "a.db", page_size=page_size, rows=3000)
    layout = read_layout(original)
    data = bytearray(original.read_bytes())
    page = max(set(range(2, layout.geometry.page_count + 1)) - layout.rewritable)
    _edits(data, layout, page)[edit]()
    edited = tmp_path / "b.db"
    edited.write_bytes(bytes(data))
    by_digests = unexpected_changes(page_digests(original), page_digests(edited), layout.rewritable)
    compared = compare_with_original(original, edited, layout.rewritable)
    assert compared.problems == by_digests
    assert bool(by_digests) == (edit in ("user_version", "a data page", "the last byte of a data page",
                                         "a page added at the end"))
    assert compared.original_sha256 == sha256_file(original)


def test_a_tail_the_copy_leaves_out_is_hashed_not_compared(tmp_path):
    from toolkit.pages import compare_with_original
    from toolkit.safe_access import sha256_file

    original = _file(tmp_path / "a.db")
    copy = tmp_path / "b.db"
    copy.write_bytes(original.read_bytes())
    with open(original, "ab") as fh:  # bytes past the pages the header counts: SQLite never reads them
        fh.write(b"tail" * 5000)
    compared = compare_with_original(original, copy, read_layout(copy).rewritable)
    assert compared.problems == [] and compared.original_sha256 == sha256_file(original)


# ---- what the copy kept, and the original checked against it -------------------------------------
def _with_free_pages(path):
    _file(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("DELETE FROM t WHERE id % 3 = 0")
    conn.execute("CREATE TABLE gone (x)")
    conn.executemany("INSERT INTO gone VALUES (?)", [("g" * 300,)] * 100)
    conn.execute("DROP TABLE gone")
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    conn.close()
    assert free > 10
    return path


def test_the_free_lists_leaves_are_pages_an_edit_may_take(tmp_path):
    path = _with_free_pages(tmp_path / "a.db")
    layout = read_layout(path)
    conn = sqlite3.connect(path)
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    conn.close()
    # SQLite's count is trunks and leaves together
    assert len(layout.free_pages) + len(layout.bookkeeping_pages) == free
    assert not layout.free_pages & (layout.schema_pages | layout.bookkeeping_pages)
    assert layout.may_change == layout.rewritable | layout.free_pages


def _copy_kept(original, folder):
    """A copy of `original`, its layout, and what it keeps where an edit may write (`pages.keep`)."""
    from toolkit.pages import keep

    copy = folder / "b.db"
    copy.write_bytes(original.read_bytes())
    layout = read_layout(copy)
    return copy, layout, keep(copy, layout.may_change)


def _pages_written(before, after):
    a, b = page_digests(before), page_digests(after)
    return {n for n in range(1, max(a.count, b.count) + 1) if a.page(n) != b.page(n)}


def test_an_edit_taking_free_pages_leaves_the_original_proven_as_copied(tmp_path):
    from toolkit.pages import compare_with_original
    from toolkit.safe_access import sha256_file

    original = _with_free_pages(tmp_path / "a.db")
    copy, before, kept = _copy_kept(original, tmp_path)
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("CREATE TABLE new_one (x)")  # the schema grows into pages the free list held
    conn.execute("CREATE INDEX new_index ON t (v)")
    conn.close()
    after = read_layout(copy)
    assert _pages_written(original, copy) & before.free_pages  # the new b-trees took pages off the free list
    allowed = before.may_change | after.rewritable
    compared = compare_with_original(original, copy, allowed, kept=kept)
    assert compared.original_changed == () and compared.original_sha256 == sha256_file(original)
    assert compared.problems == []


@pytest.mark.parametrize("where", ["a schema page the edit wrote", "the header", "its length"])
def test_the_original_no_longer_holding_what_the_copy_kept_is_said(tmp_path, where):
    from toolkit.pages import compare_with_original, keep

    original = _file(tmp_path / "a.db", long_schema=True)
    copy, layout, kept = _copy_kept(original, tmp_path)
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_schema SET sql = replace(sql, 'DEFAULT', 'default') WHERE name = 't'")
    conn.close()
    written = sorted(_pages_written(original, copy) & layout.schema_pages)
    data = bytearray(original.read_bytes())
    size = layout.geometry.page_size
    if where == "the header":
        data[60:64] = (7).to_bytes(4, "big")  # user_version: another program's write
    elif where == "its length":
        data.extend(b"\0" * size)
    else:
        at = (written[-1] - 1) * size + size - 1
        data[at] ^= 1
    original.write_bytes(bytes(data))
    compared = compare_with_original(original, copy, layout.rewritable, kept=kept)
    expected = (written[-1],) if where == "a schema page the edit wrote" else (0,)
    assert compared.original_changed == expected
    untouched = compare_with_original(copy, copy, layout.rewritable, kept=keep(copy, layout.may_change))
    assert untouched.original_changed == () and untouched.problems == []


def test_a_page_the_edit_changed_but_did_not_keep_is_a_problem(tmp_path):
    from toolkit.pages import compare_with_original, keep

    original = _file(tmp_path / "a.db")
    layout = read_layout(original)
    copy = tmp_path / "b.db"
    data = bytearray(original.read_bytes())
    page = max(set(range(2, layout.geometry.page_count + 1)) - layout.rewritable)
    data[(page - 1) * layout.geometry.page_size + 50] ^= 1
    copy.write_bytes(bytes(data))
    allowed = layout.rewritable | {page}
    assert compare_with_original(original, copy, allowed).problems == []
    kept = keep(original, layout.may_change)
    compared = compare_with_original(original, copy, allowed, kept=kept)
    assert compared.problems and str(page) in compared.problems[0] and compared.original_changed == ()
