"""Safe access: the original is only read, copies include the -wal, bad files get our errors."""
import gzip
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from badinputs import CORPUS, make_bad, unprivileged, write_lock_held
from conftest import GOOD, ids
from toolkit import errors
from toolkit.safe_access import (FileKind, check_input, copy_database, fingerprint, foreign_file_error, open_copy,
                                 overlapped_copy, safe_connection, sniff, sniff_file, verify_unchanged)
from toolkit.samples import SAMPLES_DIR


@pytest.mark.parametrize("scenario", GOOD, ids=ids)
def test_copy_is_complete_and_original_unchanged(scenario, sample, tmp_path):
    path = sample(scenario.filename)
    before = fingerprint(path)
    with open_copy(path) as work:
        conn = work.connect()
        copied = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        conn.close()
    assert copied[0] > 0
    assert fingerprint(path) == before


def test_wal_content_is_in_the_copy_and_sidecars_are_untouched(sample, tmp_path):
    path = sample("wal_pending.db")
    # a -shm as the running app would leave it: must not be touched either
    shm = path.with_name(path.name + "-shm")
    shm.write_bytes(b"\x00" * 32768)
    before = fingerprint(path)
    assert set(before.hashes) == {"wal_pending.db", "wal_pending.db-wal", "wal_pending.db-shm"}
    dest = tmp_path / "copy.db"
    work = copy_database(path, dest)
    assert work.wal_frames > 0 and work.journal_mode == "wal"
    assert not dest.with_name("copy.db-wal").exists()  # the copy is one self-contained file
    rows = sqlite3.connect(dest).execute("SELECT count(*) FROM veo3_video_upscales").fetchone()[0]
    verify_unchanged(before)
    # what SQLite itself sees in a plain copy of the pair
    (tmp_path / "plain").mkdir()
    for name in ("wal_pending.db", "wal_pending.db-wal"):
        shutil.copyfile(path.with_name(name), tmp_path / "plain" / name)
    expected = sqlite3.connect(tmp_path / "plain" / "wal_pending.db").execute(
        "SELECT count(*) FROM veo3_video_upscales").fetchone()[0]
    assert rows == expected


def test_a_change_to_the_original_is_detected(sample):
    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    with open(path, "r+b") as fh:
        fh.seek(5000)
        fh.write(b"x")
    with pytest.raises(errors.OriginalChangedError, match="changed"):
        verify_unchanged(before)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_inputs_raise_the_toolkits_own_error(name, tmp_path):
    path = make_bad(name, tmp_path)
    expected = getattr(errors, CORPUS[name][1])
    before = fingerprint(path) if path.is_file() else None
    with pytest.raises(expected) as info, open_copy(path):
        pass
    message = str(info.value)
    assert str(path) in message and message.count(". ") == 0 and message.endswith(".")
    if before:
        assert fingerprint(path) == before


def _read_every_table(conn):
    for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchall():
        conn.execute(f'SELECT * FROM "{name}"').fetchall()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_overlapped_copies_refuse_bad_inputs_as_checked_copies_do(name, tmp_path):
    # the check runs beside the work, which reads every page: whichever meets the damage first, the
    # file is reported with the same error as when the check runs before anything is read
    path = make_bad(name, tmp_path)
    expected = getattr(errors, CORPUS[name][1])
    before = fingerprint(path) if path.is_file() else None
    with pytest.raises(expected) as info, safe_connection(path, overlap=True) as (_, conn):
        _read_every_table(conn)
    message = str(info.value)
    assert str(path) in message and message.endswith(".")
    if before:
        assert fingerprint(path) == before


@pytest.mark.parametrize("scenario", GOOD, ids=ids)
def test_overlapped_copy_is_complete_removed_after_and_proves_the_original(scenario, sample):
    path = sample(scenario.filename)
    before = fingerprint(path)
    with overlapped_copy(path) as work:
        conn = work.connect()
        _read_every_table(conn)
        copied = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        conn.close()
        assert work.fingerprint == before
    assert copied[0] > 0 and not work.path.exists()
    assert fingerprint(path) == before


def test_overlapped_copy_reports_a_change_to_the_original_made_during_the_work(sample):
    path = sample("v26_seed_failure.db")
    with pytest.raises(errors.OriginalChangedError, match="changed"), overlapped_copy(path) as work:
        assert work.path.exists()
        with open(path, "r+b") as fh:  # another program writes the customer's file mid-read
            fh.seek(5000)
            fh.write(b"x")
        # the closing hash, started beside the work, may have read the file before this write: the
        # file's size and modification time, taken before the copy, send it to be hashed again


def test_unreadable_file(sample):
    path = sample("v26_seed_failure.db")
    os.chmod(path, 0)
    if os.geteuid() == 0:  # root reads anything: run the CLI without the capabilities that let it
        result = subprocess.run([*unprivileged(), sys.executable, "-m", "toolkit", "inspect", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert "permission denied" in result.stderr and "Traceback" not in result.stderr
    else:
        with pytest.raises(errors.UnreadableFileError), open_copy(path):
            pass


@pytest.mark.parametrize("mode", ["delete", "wal"])
def test_file_locked_by_a_writer_in_another_process(sample, mode):
    path = sample("v26_seed_failure.db")
    with write_lock_held(path, mode) as pid:
        before = fingerprint(path)
        with pytest.raises(errors.LockedDatabaseError, match=f"process {pid}"), open_copy(path):
            pass
        assert fingerprint(path) == before


def test_path_with_spaces_and_unicode_works(sample, tmp_path):
    src = sample("v26_seed_failure.db")
    odd = tmp_path / "Customer Files — 顧客" / "user data 'v26' \"copy\".db"
    odd.parent.mkdir()
    shutil.copyfile(src, odd)
    with open_copy(odd) as work:
        assert work.connect().execute("SELECT count(*) FROM veo3_video_upscales").fetchone()[0] > 0


def test_a_padded_tail_is_not_copied(sample, tmp_path):
    """A gigabyte of nothing after the pages the header counts: read once (hashed), never written."""
    path = sample("v26_seed_failure.db")
    held = path.stat().st_size
    os.truncate(path, 1 << 30)
    before = fingerprint(path)
    work = copy_database(path, tmp_path / "copy.db")
    assert work.path.stat().st_size == held
    assert sqlite3.connect(work.path).execute("PRAGMA quick_check").fetchone() == ("ok",)
    verify_unchanged(before)


def test_a_journal_naming_a_super_journal_is_refused_and_deletes_nothing(sample, tmp_path):
    from hostile.journal import hot_journal

    path = sample("v26_seed_failure.db")
    canary = tmp_path / "canary.txt"
    canary.write_text("the engineer's file")
    hot_journal(path, page_size=4096, initial_pages=path.stat().st_size // 4096, super_journal=str(canary))
    before = fingerprint(path)
    with pytest.raises(errors.UnsafeContentError, match="names another file") as caught, open_copy(path):
        pass
    assert str(canary) in caught.value.message
    assert canary.read_text() == "the engineer's file" and fingerprint(path) == before


def test_a_killed_runs_work_folder_is_removed_by_the_next_run(sample, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"fk-toolkit-copy-{dead.pid}-abcd1234"
    stale.mkdir()
    (stale / "work.db").write_bytes(b"the customer's data")
    alive = tmp_path / "fk-toolkit-copy-1-efgh5678"  # pid 1 is always alive
    alive.mkdir()
    unrelated = tmp_path / "fk-toolkit-notes"
    unrelated.mkdir()
    with open_copy(sample("v30_fixed.db"), workdir=tmp_path):
        pass
    assert not stale.exists() and alive.exists() and unrelated.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, unrelated.name, "v30_fixed.db"])


def test_a_file_that_is_mostly_a_hole_is_refused_before_it_is_read(sample):
    path = sample("v26_seed_failure.db")
    os.truncate(path, 5 << 40)  # five terabytes, a few pages of them written: hours to hash
    started = __import__("time").monotonic()
    with pytest.raises(errors.LimitExceededError, match="is a hole that holds nothing"), open_copy(path):
        pass
    assert __import__("time").monotonic() - started < 5


def test_a_journal_that_claims_pages_it_does_not_hold_is_refused(sample):
    """The journal puts back page 1 with a header that counts 262,144 pages: rolled back, the copy
    would be a gigabyte of nothing that SQLite then reads as the database."""
    import struct

    from hostile.journal import header

    path = sample("v26_seed_failure.db")
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    page1 = bytearray(data[:page_size])
    claimed = 262_144
    page1[28:32] = claimed.to_bytes(4, "big")
    page1[92:96] = page1[24:28]  # version-valid-for = change counter: the count is believed
    nonce = 0x5A17C0DE
    checksum = (nonce + sum(page1[i] for i in range(page_size - 200, 0, -200))) & 0xFFFFFFFF
    record = struct.pack(">I", 1) + bytes(page1) + struct.pack(">I", checksum)
    journal = header(page_size=page_size, initial_pages=claimed, records=1)
    Path(f"{path}-journal").write_bytes(journal + record)
    before = fingerprint(path)
    refused = pytest.raises((errors.LimitExceededError, errors.CorruptDatabaseError),
                            match="claims pages|header counts")
    with refused, open_copy(path):
        pass
    assert fingerprint(path) == before


def test_safe_connection_reads_a_copy_translates_errors_and_cleans_up(sample):
    from toolkit.safe_access import safe_connection

    path = sample("wal_pending.db")
    before = fingerprint(path)
    with safe_connection(path) as (work, conn):
        assert work.path != path and conn.execute("SELECT count(*) FROM veo3_video_upscales").fetchone()[0] > 0
    assert not work.path.exists() and fingerprint(path) == before
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")  # closed on exit
    with pytest.raises(errors.ToolkitError) as raised, safe_connection(path) as (_, conn):
        conn.execute("SELECT * FROM no_such_table")
    assert str(path) in raised.value.message


def test_sidecar_suffixes_are_spelled_once():
    """Every module names the sidecars through safe_access.SIDECAR_SUFFIXES, never its own tuple."""
    import re

    import toolkit

    spelled = re.compile(r"""["']-(wal|shm|journal)["']\s*,\s*["']-(wal|shm|journal)["']""")
    offenders = [f"{p.name}:{n}" for p in Path(toolkit.__file__).parent.glob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if spelled.search(line)]
    assert [o.split(":")[0] for o in offenders] == ["safe_access.py"]


def test_check_levels_name_their_pragmas():
    from toolkit.safe_access import CHECKS, Check

    assert [c.value for c in Check] == ["quick", "full", "none"] and set(CHECKS) == set(Check)
    assert Check.chosen(True) is Check.FULL and Check.chosen(False) is Check.QUICK
    assert (CHECKS[Check.QUICK], CHECKS[Check.FULL], CHECKS[Check.NONE]) == ("quick_check", "integrity_check", None)


# ---- what a file's header says it is: real files of each kind, made by the tools that make them ----------
def _zip(path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.db", b"SQLite format 3\x00")


def _shm(path: Path) -> None:
    """A real -shm: SQLite writes it while a connection to a WAL database is open."""
    db = path.with_name("live.db")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    shutil.copyfile(f"{db}-shm", path)
    conn.close()


def _persisted_journal(path: Path) -> None:
    """A -journal SQLite keeps with journal_mode=PERSIST: its header zeroed, so only its name says what it is."""
    db = path.with_name("persist.db")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = PERSIST")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    shutil.copyfile(f"{db}-journal", path)


HEADERS = {
    "app.db": (lambda p: shutil.copyfile(SAMPLES_DIR / "v30_fixed.db", p), FileKind.SQLITE3),
    "empty.db": (lambda p: p.write_bytes(b""), FileKind.EMPTY),
    "notes.txt": (lambda p: p.write_text("Dear support, ünïcode too.\n" * 200, encoding="utf-8"), FileKind.TEXT),
    "backup.db.gz": (lambda p: p.write_bytes(gzip.compress(b"SQLite format 3\x00")), FileKind.GZIP),
    "backup.zip": (_zip, FileKind.ZIP),
    "screenshot.png": (CORPUS["png image"][0], FileKind.PNG),  # a whole PNG: header, IHDR, IDAT, IEND
    "photo.jpg": (lambda p: p.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64), FileKind.JPEG),
    "manual.pdf": (lambda p: p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), FileKind.PDF),
    "old.db": (lambda p: p.write_bytes(b"** This file contains an SQLite 2.1 database **\x00" + b"\x00" * 64),
               FileKind.SQLITE2),
    "given.db-wal": (lambda p: shutil.copyfile(SAMPLES_DIR / "wal_pending.db-wal", p), FileKind.WAL),
    "given.db-shm": (_shm, FileKind.SHM),
    "given.db-journal": (_persisted_journal, FileKind.JOURNAL),
    "sqlcipher.db": (lambda p: p.write_bytes(os.urandom(8192)), FileKind.ENCRYPTED),
    "blob.bin": (lambda p: p.write_bytes(bytes(range(8)) * 8), FileKind.UNKNOWN_BINARY),
}


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_a_files_kind_is_read_from_its_header(name, tmp_path):
    make, kind = HEADERS[name]
    path = tmp_path / name
    make(path)
    before = fingerprint(path)
    assert sniff_file(path) is kind
    assert fingerprint(path) == before
    if kind is not FileKind.SQLITE3:  # check_input refuses it with the sentence triage's row carries
        with pytest.raises(errors.BadInputError) as refused:
            check_input(path)
        assert refused.value.message == foreign_file_error(path, kind).message
        assert kind.description in refused.value.message or kind in (FileKind.EMPTY, FileKind.ENCRYPTED)


def test_a_journals_magic_and_a_text_cut_mid_character_are_read_right():
    assert sniff(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\x00" * 20, "x.db") is FileKind.JOURNAL
    text = "é".encode() * 2048  # 4096 bytes: a head of 4095 cuts the last character in two
    assert sniff(text[:4095]) is FileKind.TEXT
    assert sniff(b"SQLite format 3") is FileKind.TEXT  # 15 bytes: not the 16-byte magic


def test_what_is_not_a_regular_file_is_left_to_check_input(tmp_path):
    os.mkfifo(tmp_path / "pipe")  # open() would block: sniff_file must not open it
    assert sniff_file(tmp_path / "pipe") is None
    assert sniff_file(tmp_path) is None and sniff_file(tmp_path / "missing.db") is None


# ---- the copy: the kernel's, hashed beside it ---------------------------------------------------
def test_the_copy_keeps_the_originals_holes_and_bytes_and_says_it_is_verbatim(sample, tmp_path):
    from toolkit.safe_access import hole_bytes, sha256_file

    path = sample("v26_seed_failure.db")
    size = path.stat().st_size
    with open(path, "r+b") as fh:  # a hole past the pages SQLite reads (a padded file), then a byte
        fh.truncate(size + (64 << 20))
        fh.seek(size + (64 << 20) - 1)
        fh.write(b"\1")
    if hole_bytes(path) < (32 << 20):
        pytest.skip("this file system does not keep holes")
    before = fingerprint(path)
    work = copy_database(path, tmp_path / "copy.db")
    assert work.verbatim and work.fingerprint == before
    assert before.hashes[path.name] == sha256_file(path)
    copied = (tmp_path / "copy.db").read_bytes()
    assert copied == path.read_bytes()[:len(copied)] and len(copied) == size  # the header's pages only
    assert os.stat(tmp_path / "copy.db").st_blocks * 512 < (8 << 20)


def test_a_replayed_log_makes_the_copy_not_verbatim(sample, tmp_path):
    work = copy_database(sample("wal_pending.db"), tmp_path / "copy.db")
    assert not work.verbatim and work.wal_frames > 0


@pytest.mark.parametrize("case", ["as it is", "with its -wal", "with a tail"])
def test_a_copy_to_be_compared_later_leaves_the_main_files_hash_to_that_comparison(sample, tmp_path, case):
    from toolkit.safe_access import sha256_file, stamps, verify_copied

    path = sample("wal_pending.db" if case == "with its -wal" else "v26_seed_failure.db")
    if case == "with a tail":
        with open(path, "ab") as fh:  # bytes past the header's pages: the copy leaves them out
            fh.write(b"\0" * 4096)
    before = fingerprint(path)
    work = copy_database(path, tmp_path / "copy.db", compare_later=True)
    assert work.main_hash_deferred == (case == "as it is")
    assert work.stamps == stamps(path) and path.name in work.stamps
    if work.main_hash_deferred:
        assert path.name not in work.fingerprint.hashes
        opening = verify_copied(work, fingerprint(path, main_sha256=sha256_file(path)))
        assert opening == before
        with pytest.raises(errors.OriginalChangedError, match=path.name):
            verify_copied(work, before, same_as_copied=False)
    else:
        assert work.fingerprint == before and verify_copied(work, fingerprint(path)) == before
