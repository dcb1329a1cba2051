"""What the primer notebook (`notebooks/00_foreign_keys_primer.ipynb`) needs that is not its lesson.

The lesson is the SQL in the notebook's cells (`toolkit.sqlcells.run`); this module holds the rest:
two connections to one temporary file (for the per-connection pragma), the checker of the exercises
(which runs the learner's SQL on a fresh database and says in a sentence whether it does what was
asked), and the small helpers notebook 05 uses to run statements on a copy of a file.
"""
from __future__ import annotations

import html
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

from .sqlcells import SqlRun, run, scratch


def connect(path: str = ":memory:") -> sqlite3.Connection:
    # autocommit, so that BEGIN is only ever ours: Python's implicit transactions would hide the
    # pragma-inside-a-transaction behaviour this primer is about. Plain sqlite3, not sqlite-utils: the
    # primer shows SQLite's own statements and pragmas, and sqlite-utils' Database() sets one of them
    # (recursive_triggers) and wraps its writes in transactions of its own.
    return sqlite3.connect(path, isolation_level=None)


@dataclass(frozen=True)
class Outcome:
    """What SQLite did with one statement: it succeeded, or the exact error it raised."""

    statement: str
    succeeded: bool
    error: str | None = None
    exception: str | None = None
    error_name: str | None = None

    @property
    def result(self) -> str:
        return "succeeded" if self.succeeded else f"{self.exception}: {self.error}"


def attempt(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> Outcome:
    """Run one statement and record SQLite's verdict instead of raising it."""
    try:
        conn.execute(sql, params)
    except sqlite3.Error as error:
        # sqlite_errorname exists from Python 3.11; older interpreters only have the message
        return Outcome(sql, False, str(error), type(error).__name__, getattr(error, "sqlite_errorname", None))
    return Outcome(sql, True)


def copy_in_memory(path: str | Path) -> sqlite3.Connection:
    """A connection (autocommit, as `connect`) to a copy in memory of the file at `path`, which is
    only opened read-only: whatever runs on the copy, even a COMMIT, never reaches the file."""
    conn = connect()
    with closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as source:
        source.backup(conn)
    return conn


def attempt_script(path: str | Path, script: str) -> Outcome:
    """Run `script` as an app would, foreign keys ON and its own BEGIN and COMMIT kept, on a copy in
    memory of the file at `path` (`copy_in_memory`), and record SQLite's verdict: the statements may
    succeed or cascade without changing the file, so a notebook can be run again."""
    with closing(copy_in_memory(path)) as conn:
        set_foreign_keys(conn, True)
        try:
            conn.executescript(script)
        except sqlite3.Error as error:
            return Outcome(script, False, str(error), type(error).__name__, getattr(error, "sqlite_errorname", None))
    return Outcome(script, True)


def foreign_keys(conn: sqlite3.Connection) -> int:
    on: int = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    return on


def set_foreign_keys(conn: sqlite3.Connection, on: bool) -> int:
    """Ask for enforcement on or off and return what SQLite actually set (it may ignore the request)."""
    conn.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    return foreign_keys(conn)


# ─ two connections to one file: enforcement belongs to the connection ──────────────────────────

@dataclass(frozen=True)
class SharedFile:
    """Two connections to one new database file, both left at SQLite's default for every pragma."""

    path: Path
    first: sqlite3.Connection
    second: sqlite3.Connection

    def close(self) -> None:
        """Close both connections and remove the file's temporary folder."""
        self.first.close()
        self.second.close()
        shutil.rmtree(self.path.parent, ignore_errors=True)

    def __enter__(self) -> SharedFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def two_connections() -> SharedFile:
    """Two autocommit connections (`connect`) to one new file in a temporary folder of its own."""
    folder = Path(tempfile.mkdtemp(prefix="fk-primer-"))
    path = folder / "shared.db"
    shared = SharedFile(path, connect(str(path)), connect(str(path)))
    # a notebook stopped before its closing cell still leaves no folder behind once the kernel ends
    weakref.finalize(shared, shutil.rmtree, folder, True)
    return shared


# ─ exercises: the learner's SQL, run on a fresh database, judged by what SQLite did ─────────────

class Exercise(StrEnum):
    """The primer's exercises, each checked on a fresh database of its own (`SETUP`)."""

    NEW_ARTIST = "new-artist"  # add a track by an artist who is not in the table yet
    FIND_ORPHANS = "find-orphans"  # list the trackid of every track whose artist is missing
    FIX_MISMATCH = "fix-mismatch"  # one statement that makes track's key usable


RUNNING_EXAMPLE = """
CREATE TABLE artist(artistid INTEGER PRIMARY KEY, artistname TEXT);
CREATE TABLE track(trackid INTEGER, trackname TEXT, trackartist INTEGER REFERENCES artist(artistid));
INSERT INTO artist VALUES (1, 'Dean Martin'), (2, 'Frank Sinatra');
INSERT INTO track VALUES (11, 'That''s Amore', 1), (12, 'Christmas Blues', 1), (13, 'My Way', 2);
"""

#: The database each exercise's answer runs on (foreign keys ON), as the notebook describes it.
SETUP: dict[Exercise, str] = {
    Exercise.NEW_ARTIST: RUNNING_EXAMPLE,
    # written with enforcement off: 13 loses its artist, 14 never had one, 15's key is NULL
    Exercise.FIND_ORPHANS: RUNNING_EXAMPLE + """
PRAGMA foreign_keys = OFF;
INSERT INTO track VALUES (14, 'Mr. Bojangles', 3), (15, 'Yesterday', NULL);
DELETE FROM artist WHERE artistid = 2;
PRAGMA foreign_keys = ON;
""",
    # the key points at artistname, which is neither PRIMARY KEY nor UNIQUE; the rows go in with
    # enforcement off because, on such a schema, even a parent INSERT of several rows raises the mismatch
    Exercise.FIX_MISMATCH: """
CREATE TABLE artist(artistid INTEGER PRIMARY KEY, artistname TEXT);
CREATE TABLE track(trackid INTEGER, trackname TEXT, trackartist TEXT REFERENCES artist(artistname));
PRAGMA foreign_keys = OFF;
INSERT INTO artist VALUES (1, 'Dean Martin'), (2, 'Frank Sinatra');
INSERT INTO track VALUES (11, 'That''s Amore', 'Dean Martin');
PRAGMA foreign_keys = ON;
""",
}


@dataclass(frozen=True)
class Verdict:
    """Whether the learner's SQL did what the exercise asked, in one sentence, with what SQLite said."""

    exercise: Exercise
    passed: bool
    sentence: str
    answer: SqlRun

    def __str__(self) -> str:
        return f"{'Yes' if self.passed else 'Not yet'}: {self.sentence}"

    def __repr__(self) -> str:
        return f"{self}\n{self.answer!r}"

    def _repr_html_(self) -> str:
        colour = "#1b5e20" if self.passed else "#b00020"
        return (f"<p style='text-align:left;color:{colour}'>{html.escape(str(self))}</p>"
                f"<p style='text-align:left'>Your SQL, run on a fresh database:</p>{self.answer._repr_html_()}")


FOREIGN_KEY_FAILED = "FOREIGN KEY constraint failed"


def _fresh(exercise: Exercise) -> sqlite3.Connection:
    """A new database in memory made by the exercise's SETUP, foreign keys ON."""
    conn = scratch()
    if errors := run(conn, SETUP[exercise]).errors:
        # a setup SQLite refuses would make every verdict wrong: stop instead of judging
        raise AssertionError(f"the setup of exercise {exercise} failed on SQLite {sqlite3.sqlite_version}: {errors}")
    return conn


def _refused(answer: SqlRun) -> str | None:
    step = next((s for s in answer if not s.ok), None)
    return None if step is None else f"SQLite refused \"{' '.join(step.sql.split())}\": {step.error}."


def _judge_new_artist(conn: sqlite3.Connection, answer: SqlRun) -> tuple[bool, str]:
    if refused := _refused(answer):
        return False, refused
    found = conn.execute("SELECT quote(t.trackartist), a.artistname FROM track AS t LEFT JOIN artist AS a "
                         "ON a.artistid = t.trackartist WHERE t.trackname = 'Yesterday'").fetchall()
    if not found:
        return False, "there is no track named 'Yesterday' afterwards."
    key, name = found[0]
    if name != "The Beatles":
        return False, f"'Yesterday' is stored with trackartist = {key}, which is not an artist named 'The Beatles'."
    violations = conn.execute("PRAGMA foreign_key_check").fetchall()
    if violations:
        return False, (f"'Yesterday' is stored, but PRAGMA foreign_key_check lists {len(violations)} row(s) "
                       "without a parent (was enforcement off while they were written?).")
    return True, (f"SQLite stored 'Yesterday' by 'The Beatles' (trackartist = {key}), and PRAGMA foreign_key_check "
                  "finds no row without a parent.")


def _orphans_and_nulls() -> tuple[set[Any], set[Any]]:
    """The trackids PRAGMA foreign_key_check reports on the exercise's database, and those with a NULL key
    (asked of a database of its own, so that an answer that changes the rows cannot change them)."""
    with closing(_fresh(Exercise.FIND_ORPHANS)) as conn:
        rowids = [row[1] for row in conn.execute("PRAGMA foreign_key_check(track)")]
        orphans = {k for (k,) in conn.execute(
            f"SELECT trackid FROM track WHERE rowid IN ({', '.join('?' * len(rowids))})", rowids)}
        nulls = {k for (k,) in conn.execute("SELECT trackid FROM track WHERE trackartist IS NULL")}
    return orphans, nulls


def _listed(values: set[Any]) -> str:
    return ", ".join(str(v) for v in sorted(values, key=repr)) or "nothing"


def _judge_find_orphans(_: sqlite3.Connection, answer: SqlRun) -> tuple[bool, str]:
    if refused := _refused(answer):
        return False, refused
    if not answer or not answer.last().columns:
        return False, "your answer does not end with a SELECT whose rows could be checked."
    got = {row[0] for row in answer.last().rows}
    orphans, nulls = _orphans_and_nulls()
    if got == orphans:
        return True, f"it lists {_listed(got)}, the tracks PRAGMA foreign_key_check reports."
    sentence = f"it lists {_listed(got)}, but the tracks without an artist are {_listed(orphans)}"
    if got & nulls:
        return False, (f"{sentence}; {_listed(got & nulls)} has a NULL trackartist, which is never checked, "
                       "so it is no orphan.")
    return False, f"{sentence}."


def _judge_fix_mismatch(conn: sqlite3.Connection, answer: SqlRun) -> tuple[bool, str]:
    if refused := _refused(answer):
        return False, refused
    known = run(conn, "INSERT INTO track VALUES (21, 'Volare', 'Dean Martin')").last()
    if not known.ok:
        return False, f"a track by 'Dean Martin' still gets: {known.error}."
    unknown = run(conn, "INSERT INTO track VALUES (22, 'Lost', 'Nobody')").last()
    if unknown.error != FOREIGN_KEY_FAILED:
        return False, ("a track by 'Dean Martin' is accepted, but so is one by 'Nobody': the key is no longer "
                       "checked (is enforcement off, or the REFERENCES gone?).")
    return True, (f"a track by 'Dean Martin' is accepted and one by 'Nobody' gets {FOREIGN_KEY_FAILED}: "
                  "the key is checked again.")


_JUDGES: dict[Exercise, Callable[[sqlite3.Connection, SqlRun], tuple[bool, str]]] = {
    Exercise.NEW_ARTIST: _judge_new_artist,
    Exercise.FIND_ORPHANS: _judge_find_orphans,
    Exercise.FIX_MISMATCH: _judge_fix_mismatch,
}


def check(exercise: Exercise, answer: str) -> Verdict:
    """Run `answer` on a fresh database made by `SETUP[exercise]` and judge it by what SQLite did."""
    with closing(_fresh(exercise)) as conn:
        result = run(conn, answer)
        passed, sentence = _JUDGES[exercise](conn, result)
    return Verdict(exercise, passed, sentence, result)
