"""What notebook 06 needs besides its SQL: copies of the samples to experiment on, a count of the work
SQLite does for a statement, and the checkers of its exercises.

The notebook's SQL stays in its cells (`sqlcells.run`); a checker takes the learner's SQL as a string,
runs it on a fresh scratch database of its own, and says in one sentence whether it does what the
exercise asks and, if not, what SQLite did instead.
"""
from __future__ import annotations

import html
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .samples import samples_dir
from .sqlcells import SqlRun, run, scratch

#: SQLite's own example (foreignkeys.html), the parent table of every exercise
ARTIST = "CREATE TABLE artist (artistid INTEGER PRIMARY KEY, artistname TEXT)"
#: the child as foreignkeys.html declares it first: an immediate key with no action
TRACK = ("CREATE TABLE track (trackid INTEGER PRIMARY KEY, trackname TEXT, "
         "trackartist INTEGER REFERENCES artist(artistid))")

#: the table an INSERT writes to (after any comments the statement starts with)
_INTO = re.compile(r"^(?:\s*--[^\n]*\n|\s*/\*.*?\*/)*\s*(?:INSERT|REPLACE)\b.*?\bINTO\s+[\"\[`]?(\w+)",
                   re.IGNORECASE | re.DOTALL)


def copy_of(name: str, *, with_wal: bool = True, into: Path | None = None) -> Path:
    """A copy of the sample `name` in `into` or a fresh temporary folder (with its -wal beside it when it
    has one and `with_wal`), so an experiment may write to it: the samples themselves are never opened."""
    source = samples_dir() / name
    folder = into if into is not None else Path(tempfile.mkdtemp(prefix="fk-lesson-"))
    shutil.copyfile(source, folder / name)
    wal = source.with_name(name + "-wal")
    if with_wal and wal.is_file():
        shutil.copyfile(wal, folder / wal.name)
    return folder / name


def vdbe_steps(conn: sqlite3.Connection, sql: str) -> int:
    """How many virtual-machine instructions SQLite executes for `sql`: a measure of its work that,
    unlike a timing, is the same on every run. The statement runs inside a savepoint that is rolled
    back, so the same data can be measured again."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.execute("SAVEPOINT measure")
    conn.set_progress_handler(count, 1)
    try:
        conn.execute(sql)
    finally:
        conn.set_progress_handler(None, 1)
        conn.execute("ROLLBACK TO measure")
        conn.execute("RELEASE measure")
    return steps


@dataclass(frozen=True)
class Check:
    """An exercise's verdict on the learner's answer, as one sentence."""

    passed: bool
    says: str

    def __repr__(self) -> str:
        return f"{'Right' if self.passed else 'Not yet'}: {self.says}"

    def _repr_html_(self) -> str:
        colour = "#1b5e20" if self.passed else "#b00020"
        return f"<p style='text-align:left;color:{colour}'>{html.escape(repr(self))}</p>"


def _refused(result: SqlRun) -> str | None:
    """The first statement SQLite refused, with its message, else None."""
    for step in result:
        if not step.ok:
            return f"SQLite refused `{step.sql}`: {step.error}"
    return None


def check_tracks_kept(create_track: str) -> Check:
    """Exercise: declare `track` so that deleting an artist keeps its tracks, with no artist."""
    conn = scratch()
    refused = _refused(run(conn, f"{ARTIST}; {create_track}"))
    if refused:
        return Check(False, refused)
    setup = run(conn, "INSERT INTO artist VALUES (1, 'Dean Martin');"
                      "INSERT INTO track (trackid, trackname, trackartist) VALUES (11, 'That''s Amore', 1), "
                      "(12, 'Christmas Blues', 1)")
    refused = _refused(setup) or _refused(run(conn, "DELETE FROM artist WHERE artistid = 1"))
    if refused:
        return Check(False, refused + "; the DELETE must succeed.")
    after = conn.execute("SELECT trackid, trackartist FROM track ORDER BY trackid").fetchall()
    if not after:
        return Check(False, "the DELETE took the tracks with it (that is what ON DELETE CASCADE does).")
    if after != [(11, None), (12, None)]:
        return Check(False, f"the tracks are kept but their trackartist is still {after[0][1]!r}, not NULL: "
                            "which ON DELETE action empties the column?")
    return Check(True, "the artist is gone and both tracks stay, with trackartist NULL (ON DELETE SET NULL on a "
                       "column that allows NULL).")


def _music() -> sqlite3.Connection:
    """A fresh scratch database with the running example's two tables, empty."""
    conn = scratch()
    conn.execute(ARTIST)
    conn.execute(TRACK)
    return conn


def check_child_first(script: str) -> Check:
    """Exercise: with track's key immediate, insert the track before its artist in one transaction."""
    conn = _music()
    result = run(conn, script)
    order = [m.group(1).lower() for m in (_INTO.search(s.sql) for s in result) if m]
    refused = _refused(result)
    if conn.in_transaction:
        conn.execute("ROLLBACK")
        return Check(False, (refused + "; " if refused else "") + "the transaction was left open: it must COMMIT.")
    if refused:
        return Check(False, refused + ".")
    if order[:1] != ["track"] or "artist" not in order:
        return Check(False, "insert into track first, then into artist, both in the script.")
    rows = conn.execute("SELECT trackartist, artistname FROM track JOIN artist ON artistid = trackartist "
                        "WHERE trackid = 14").fetchall()
    if rows != [(3, "Sammy Davis Jr.")]:
        return Check(False, "after the COMMIT track 14 should name artist 3, 'Sammy Davis Jr.'.")
    return Check(True, "the track went in first and the COMMIT succeeded: the key was checked at COMMIT, when "
                       "artist 3 existed.")


def check_child_index(create_index: str) -> Check:
    """Exercise: the statement that lets a DELETE from artist find the tracks without a full scan."""
    conn = _music()
    refused = _refused(run(conn, create_index))
    if refused:
        return Check(False, refused + ".")
    plan = [str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN DELETE FROM artist WHERE artistid = 1")]
    if any(step.startswith("SCAN track") for step in plan):
        return Check(False, f"the DELETE's plan still reads all of track: {'; '.join(plan)}.")
    return Check(True, f"the DELETE's plan: {'; '.join(plan)}.")
