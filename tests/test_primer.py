"""What the primer notebook needs besides its SQL: two connections to one file, the exercises' checker,
and the statement helpers notebook 05 uses; all on real SQLite databases."""
import sqlite3
import tempfile
from contextlib import closing

import pytest

from toolkit import primer
from toolkit.sqlcells import run

FK_FAILED = "FOREIGN KEY constraint failed"
MISMATCH = 'foreign key mismatch - "track" referencing "artist"'
Exercise = primer.Exercise


def test_attempt_records_errors_instead_of_raising():
    with closing(primer.connect()) as conn:
        ok = primer.attempt(conn, "CREATE TABLE t(x)")
        bad = primer.attempt(conn, "INSERT INTO nowhere VALUES (1)")
    assert ok.succeeded and ok.result == "succeeded" and ok.error is None
    assert not bad.succeeded and bad.exception == "OperationalError" and bad.error == "no such table: nowhere"
    assert bad.result == "OperationalError: no such table: nowhere"


def test_attempt_script_gives_sqlites_verdict_with_keys_on_and_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "shop.db"
    with closing(primer.connect(str(path))) as conn:
        conn.executescript("CREATE TABLE p(id INTEGER PRIMARY KEY);"
                           "CREATE TABLE c(p_id REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);"
                           "INSERT INTO p VALUES (1);")
    before = path.read_bytes()
    orphan = primer.attempt_script(path, "INSERT INTO c VALUES (2)")
    at_commit = primer.attempt_script(path, "BEGIN; INSERT INTO c VALUES (2); COMMIT;")
    fixed_in_time = primer.attempt_script(path, "BEGIN; INSERT INTO c VALUES (2); INSERT INTO p VALUES (2); COMMIT;")
    assert not orphan.succeeded and orphan.error == FK_FAILED and orphan.exception == "IntegrityError"
    assert orphan.error_name == "SQLITE_CONSTRAINT_FOREIGNKEY"
    assert not at_commit.succeeded and at_commit.error == FK_FAILED
    assert fixed_in_time.succeeded and fixed_in_time.result == "succeeded"
    with closing(primer.copy_in_memory(path)) as copy:
        copy.execute("INSERT INTO p VALUES (3)")
        assert copy.execute("SELECT count(*) FROM p").fetchone() == (2,)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]


def test_two_connections_share_one_file_and_each_keeps_its_own_enforcement(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with primer.two_connections() as shared:
        assert shared.path.parent.parent == tmp_path and shared.path.name == "shared.db"
        run(shared.first, "CREATE TABLE artist(artistid INTEGER PRIMARY KEY);"
                          "CREATE TABLE track(trackartist INTEGER REFERENCES artist(artistid));"
                          "PRAGMA foreign_keys = ON;")
        # neither connection was told anything: the second shows SQLite's default
        assert run(shared.second, "PRAGMA foreign_keys;").last().rows == ((0,),)
        assert run(shared.first, "INSERT INTO track VALUES (3);").last().error == FK_FAILED
        assert run(shared.second, "INSERT INTO track VALUES (3);").last().ok
        assert run(shared.first, "SELECT count(*) FROM track;").last().rows == ((1,),)
    assert list(tmp_path.iterdir()) == []  # both closed, the folder removed
    with pytest.raises(sqlite3.ProgrammingError):
        shared.first.execute("SELECT 1")


def test_two_connections_leave_no_folder_when_never_closed(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = primer.two_connections()
    run(shared.first, "CREATE TABLE t(x);")
    shared.first.close()
    shared.second.close()
    del shared  # as when a notebook's kernel ends before its closing cell
    assert list(tmp_path.iterdir()) == []


CORRECT = {
    Exercise.NEW_ARTIST: "INSERT INTO artist VALUES (3, 'The Beatles'); INSERT INTO track VALUES (15, 'Yesterday', 3);",
    Exercise.FIND_ORPHANS: "SELECT t.trackid FROM track AS t LEFT JOIN artist AS a ON a.artistid = t.trackartist "
                           "WHERE a.artistid IS NULL AND t.trackartist IS NOT NULL;",
    Exercise.FIX_MISMATCH: "CREATE UNIQUE INDEX artist_name ON artist(artistname);",
}


@pytest.mark.parametrize("exercise", list(Exercise))
def test_the_checker_accepts_a_correct_answer_by_running_it(exercise):
    verdict = primer.check(exercise, CORRECT[exercise])
    assert verdict.passed and str(verdict).startswith("Yes: ") and verdict.answer.errors == []
    assert verdict.exercise is exercise


def test_every_exercise_has_a_setup_sqlite_accepts_and_a_judge():
    assert set(primer.SETUP) == set(Exercise)
    for exercise in Exercise:
        assert primer.check(exercise, "").passed is False  # an empty answer never passes


@pytest.mark.parametrize("exercise, answer, sentence", [
    # the child before its parent: refused by the check this exercise is about
    (Exercise.NEW_ARTIST, "INSERT INTO track VALUES (15, 'Yesterday', 3);"
                          "INSERT INTO artist VALUES (3, 'The Beatles');",
     "Not yet: SQLite refused \"INSERT INTO track VALUES (15, 'Yesterday', 3);\": FOREIGN KEY constraint failed."),
    (Exercise.NEW_ARTIST, "INSERT INTO track VALUES (15, 'Yesterday', NULL);",
     "Not yet: 'Yesterday' is stored with trackartist = NULL, which is not an artist named 'The Beatles'."),
    # enforcement switched off, so an orphan slips in beside the right rows
    (Exercise.NEW_ARTIST, "PRAGMA foreign_keys = OFF; INSERT INTO artist VALUES (3, 'The Beatles');"
                          "INSERT INTO track VALUES (15, 'Yesterday', 3), (16, 'Help!', 9);",
     "Not yet: 'Yesterday' is stored, but PRAGMA foreign_key_check lists 1 row(s) without a parent "
     "(was enforcement off while they were written?)."),
    (Exercise.NEW_ARTIST, "SELECT 1;", "Not yet: there is no track named 'Yesterday' afterwards."),
    # a NULL key is no orphan
    (Exercise.FIND_ORPHANS, "SELECT trackid FROM track LEFT JOIN artist ON artistid = trackartist "
                            "WHERE artistid IS NULL;",
     "Not yet: it lists 13, 14, 15, but the tracks without an artist are 13, 14; 15 has a NULL trackartist, "
     "which is never checked, so it is no orphan."),
    (Exercise.FIND_ORPHANS, "SELECT trackid FROM track WHERE trackartist = 3;",
     "Not yet: it lists 14, but the tracks without an artist are 13, 14."),
    (Exercise.FIND_ORPHANS, "SELECT trackid FROM nowhere;", 'Not yet: SQLite refused "SELECT trackid FROM nowhere;": '
                                                          "no such table: nowhere."),
    (Exercise.FIND_ORPHANS, "DELETE FROM track WHERE trackid = 13;",
     "Not yet: your answer does not end with a SELECT whose rows could be checked."),
    # a unique index that compares otherwise than the column does not make a key
    (Exercise.FIX_MISMATCH, "CREATE UNIQUE INDEX artist_name ON artist(artistname COLLATE NOCASE);",
     f"Not yet: a track by 'Dean Martin' still gets: {MISMATCH}."),
    (Exercise.FIX_MISMATCH, "CREATE INDEX artist_name ON artist(artistname);",
     f"Not yet: a track by 'Dean Martin' still gets: {MISMATCH}."),
    (Exercise.FIX_MISMATCH, "PRAGMA foreign_keys = OFF;",
     "Not yet: a track by 'Dean Martin' is accepted, but so is one by 'Nobody': the key is no longer checked "
     "(is enforcement off, or the REFERENCES gone?)."),
])
def test_the_checker_says_in_a_sentence_why_a_wrong_answer_fails(exercise, answer, sentence):
    verdict = primer.check(exercise, answer)
    assert not verdict.passed and str(verdict) == sentence


def test_an_answer_that_deletes_the_orphans_is_still_judged_against_the_setup():
    verdict = primer.check(Exercise.FIND_ORPHANS, "DELETE FROM track WHERE trackid = 14; SELECT 13;")
    assert not verdict.passed and "the tracks without an artist are 13, 14" in str(verdict)


def test_a_verdict_renders_its_sentence_and_the_learners_sql_escaped():
    verdict = primer.check(Exercise.NEW_ARTIST, "INSERT INTO track VALUES (15, '<b>Yesterday</b>', 3);")
    page = verdict._repr_html_()
    assert "Not yet: SQLite refused" in page and "<b>" not in page and "&lt;b&gt;Yesterday&lt;/b&gt;" in page
    assert repr(verdict).splitlines()[0] == str(verdict)
    assert "-> IntegrityError: FOREIGN KEY constraint failed" in repr(verdict)
