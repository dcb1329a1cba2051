"""lessons: notebook 06's sample copies, its measure of SQLite's work, and its exercises' checkers."""
import hashlib
import shutil

import pytest

from toolkit.lessons import ARTIST, TRACK, Check, check_child_first, check_child_index, check_tracks_kept, copy_of, \
    vdbe_steps
from toolkit.samples import HEADLINE, samples_dir
from toolkit.sqlcells import scratch


def test_a_copy_of_a_sample_is_a_fresh_file_and_the_sample_is_untouched(tmp_path):
    sample = samples_dir() / HEADLINE
    before = hashlib.sha256(sample.read_bytes()).hexdigest()
    first = copy_of(HEADLINE)
    assert first.parent.name.startswith("fk-lesson-") and first.read_bytes() == sample.read_bytes()
    shutil.rmtree(first.parent)
    first = copy_of(HEADLINE, into=tmp_path)
    assert first == tmp_path / HEADLINE
    conn = scratch(str(first))
    conn.execute("DELETE FROM veo3_video_upscales")
    conn.close()
    assert hashlib.sha256(sample.read_bytes()).hexdigest() == before


def test_a_copy_carries_the_wal_unless_asked_not_to(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert copy_of("wal_pending.db", into=tmp_path / "a").with_name("wal_pending.db-wal").is_file()
    assert not copy_of("wal_pending.db", with_wal=False, into=tmp_path / "b").with_name("wal_pending.db-wal").exists()


def test_vdbe_steps_counts_the_child_scan_and_rolls_the_statement_back():
    conn = scratch()
    conn.execute(ARTIST)
    conn.execute(TRACK)
    conn.execute("INSERT INTO artist VALUES (1, 'Dean Martin'), (2, 'Frank Sinatra')")
    conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
                 "INSERT INTO track SELECT i, 'track ' || i, 1 FROM n")
    delete = "DELETE FROM artist WHERE artistid = 2"
    unindexed = vdbe_steps(conn, delete)
    assert vdbe_steps(conn, delete) == unindexed  # the same work again: the DELETE was rolled back
    assert conn.execute("SELECT count(*) FROM artist").fetchone() == (2,)
    conn.execute("CREATE INDEX trackindex ON track(trackartist)")
    assert unindexed > 5000 > 100 > vdbe_steps(conn, delete)


def test_check_renders_as_one_sentence():
    assert repr(Check(False, "the <DELETE> failed.")) == "Not yet: the <DELETE> failed."
    assert "&lt;DELETE&gt;" in Check(False, "the <DELETE> failed.")._repr_html_()


@pytest.mark.parametrize("answer, passed, says", [
    ("CREATE TABLE track (trackid INTEGER PRIMARY KEY, trackname TEXT, "
     "trackartist INTEGER REFERENCES artist(artistid) ON DELETE SET NULL)", True, "trackartist NULL"),
    ("CREATE TABLE track (trackid INTEGER PRIMARY KEY, trackname TEXT, "
     "trackartist INTEGER NOT NULL REFERENCES artist(artistid) ON DELETE SET NULL)", False,
     "NOT NULL constraint failed: track.trackartist"),
    ("CREATE TABLE track (trackid INTEGER PRIMARY KEY, trackname TEXT, "
     "trackartist INTEGER REFERENCES artist(artistid) ON DELETE CASCADE)", False, "took the tracks with it"),
    (TRACK, False, "FOREIGN KEY constraint failed"),
    ("CREATE TABLE track (trackid INTEGER PRIMARY KEY, trackname TEXT, trackartist INTEGER)", False,
     "still 1, not NULL"),
    ("CREATE TABLE track (oops", False, "SQLite refused"),
])
def test_the_tracks_kept_exercise(answer, passed, says):
    check = check_tracks_kept(answer)
    assert check.passed is passed and says in check.says


@pytest.mark.parametrize("answer, passed, says", [
    ("BEGIN; PRAGMA defer_foreign_keys = ON; INSERT INTO track VALUES (14, 'Mr. Bojangles', 3); "
     "INSERT INTO artist VALUES (3, 'Sammy Davis Jr.'); COMMIT;", True, "checked at COMMIT"),
    ("BEGIN; INSERT INTO track VALUES (14, 'Mr. Bojangles', 3); INSERT INTO artist VALUES (3, 'Sammy Davis Jr.'); "
     "COMMIT;", False, "FOREIGN KEY constraint failed"),
    ("-- a comment first\nBEGIN; PRAGMA defer_foreign_keys = ON; /* why */ "
     "INSERT INTO \"track\" VALUES (14, 'Mr. Bojangles', 3); INSERT INTO artist VALUES (3, 'Sammy Davis Jr.'); "
     "COMMIT;", True, "checked at COMMIT"),
    ("BEGIN; PRAGMA defer_foreign_keys = ON; INSERT INTO track VALUES (14, 'Mr. Bojangles', 3); ", False,
     "left open"),
    ("BEGIN; INSERT INTO artist VALUES (3, 'Sammy Davis Jr.'); INSERT INTO track VALUES (14, 'Mr. Bojangles', 3); "
     "COMMIT;", False, "track first"),
])
def test_the_child_first_exercise(answer, passed, says):
    check = check_child_first(answer)
    assert check.passed is passed and says in check.says


@pytest.mark.parametrize("answer, passed, says", [
    ("CREATE INDEX trackindex ON track(trackartist)", True, "SEARCH track USING COVERING INDEX trackindex"),
    ("CREATE INDEX trackname ON track(trackname)", False, "SCAN track"),
    ("CREATE INDEX x ON track(nope)", False, "no such column"),
])
def test_the_child_index_exercise(answer, passed, says):
    check = check_child_index(answer)
    assert check.passed is passed and says in check.says
