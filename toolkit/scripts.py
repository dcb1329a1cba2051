"""SQL scripts the toolkit prints for the sqlite3 shell, made only of statements that say
exactly what they show.

Part of each script is text from the customer's file (a table's declaration, its indexes,
triggers and views).  A crafted schema entry can carry more after its statement: another
statement, or a line the sqlite3 shell runs as a dot-command (`.shell`, `.system`).  Every
statement is therefore checked before it is executed or printed: one statement, complete,
parsed by SQLite on a blank in-memory database, and with no line a shell could take as a
command of its own.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from . import errors, guards
from .sqlite_codes import Kind, kind_of

#: SQLite's words for text it could not parse (anything else, "no such table" on the blank
#: database for one, means the statement parsed).
_PARSE_ERRORS = ("syntax error", "incomplete input", "unrecognized token", "one statement at a time", "near \"")


def is_parse_error(exc: sqlite3.Error) -> bool:
    """Whether SQLite raised `exc` because it could not parse the text (not, say, "no such table")."""
    # a parse error is SQLITE_ERROR, as "no such table" is: the code decides the kind, the text which
    return kind_of(exc) is Kind.ERROR and any(marker in str(exc) for marker in _PARSE_ERRORS)


def terminated(statement: str) -> str:
    """The statement with a terminator the shell sees (after a trailing `--` comment, on a new line)."""
    body = statement.rstrip().rstrip(";").rstrip()
    return body + ";" if sqlite3.complete_statement(body + ";") else body + "\n;"


def check_statement(statement: str, source: str) -> str:
    """Return `statement` if it is one complete statement SQLite parses, with no line that
    starts a shell command; else refuse it in one sentence (`source` names the file)."""
    body = statement.rstrip().rstrip(";").rstrip()
    shown = body.splitlines()[0][:80] if body else ""

    def refuse(why: str) -> errors.UnsafeContentError:
        return errors.UnsafeContentError(
            f"{source}: the statement beginning {shown!r} {why}, so the toolkit will not run or print it; "
            "the file's schema may be crafted: send it to engineering.", source)

    if "\x00" in body:
        raise refuse("holds a NUL character")
    if any(line.startswith(".") for line in body.split("\n")):
        raise refuse("has a line starting with '.', which the sqlite3 shell would run as a command")
    whole = terminated(body)
    if not sqlite3.complete_statement(whole):
        raise refuse("is not a complete statement")
    for i, char in enumerate(body):
        if char == ";" and sqlite3.complete_statement(body[: i + 1]):
            raise refuse("is followed by more text after its end")
    blank = sqlite3.connect(":memory:", isolation_level=None)
    try:
        blank.execute("EXPLAIN " + body)
    except sqlite3.Error as exc:
        if is_parse_error(exc):
            raise refuse(f"does not parse (SQLite: {exc})") from None
    finally:
        blank.close()
    return statement


def render(statements: list[str], header: str = "") -> str:
    """Statements already passed by `check_statement`, as one script for the sqlite3 shell."""
    return header + "".join(terminated(s) + "\n" for s in statements)


def functions_called(declarations: Iterable[str], defaults: Iterable[str] = ()) -> set[str]:
    """Every function SQLite resolves in these CREATE TABLE / CREATE INDEX statements (CHECK,
    generated columns, index expressions) and DEFAULT expressions, as SQLite itself names them.

    Found on a blank in-memory database by an authorizer that records each function: a CHECK
    is evaluated with no authorizer when rows are written later (the sqlite3 shell has none, and
    loads extensions), so a script that writes to a table must know what that table calls."""
    called: set[str] = set()

    def record(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action == sqlite3.SQLITE_FUNCTION and arg2:
            called.add(arg2.lower())
        return sqlite3.SQLITE_OK

    blank = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for limit, value in guards.LIMITS.items():
            blank.setlimit(limit, value)
        blank.set_authorizer(record)
        for statement in declarations:
            blank.execute(statement)
        for expression in defaults:
            blank.execute(f"EXPLAIN SELECT {expression}")
    finally:
        blank.close()
    return called
