"""SQL a learner reads, edits and re-runs in a notebook cell, with SQLite's answer right below.

`run(conn, script)` executes a script statement by statement (split where SQLite itself says a
statement is complete) and keeps, for each, the rows it returned or the error SQLite raised, so a
failing statement is shown as SQLite's own message in place and the statements after it still run,
as they would in the sqlite3 shell with `.bail off`.  Nothing is cut: the result renders as an HTML
table with every statement and value whole, left-aligned, escaped.

The connections are scratch databases the notebook makes (`scratch()`), never a customer's file.
"""
from __future__ import annotations

import html
import sqlite3
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .statements import split


def scratch(path: str = ":memory:", *, foreign_keys: bool = True) -> sqlite3.Connection:
    """A connection to a throwaway database, in autocommit mode (the script's own BEGIN/COMMIT
    decide the transactions, as in the sqlite3 shell), foreign keys on unless asked otherwise."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    return conn


@dataclass(frozen=True)
class Step:
    """One statement and what SQLite answered."""

    sql: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    #: SQLite's message when it refused the statement, else None
    error: str | None = None
    #: the exception's class name (IntegrityError, OperationalError, ...) when it refused it
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def answer(self) -> str:
        """What SQLite said, as one line of text: the error, the rows, or 'ok'."""
        if self.error is not None:
            return f"{self.error_kind}: {self.error}"
        if not self.rows:
            return "ok" if not self.columns else "(no rows)"
        return "; ".join(", ".join(_literal(v) for v in row) for row in self.rows)


@dataclass(frozen=True)
class SqlRun:
    """A script's statements and SQLite's answer to each."""

    steps: tuple[Step, ...]

    def __iter__(self) -> Any:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    @property
    def errors(self) -> list[str]:
        return [s.error for s in self.steps if s.error is not None]

    def last(self) -> Step:
        return self.steps[-1]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([(s.sql, s.answer()) for s in self.steps], columns=["statement", "SQLite says"])

    def _repr_html_(self) -> str:
        cells = []
        for s in self.steps:
            colour = "#b00020" if s.error is not None else "inherit"
            cells.append(
                f"<tr><td style='text-align:left;vertical-align:top'><pre style='margin:0;white-space:pre-wrap'>"
                f"{html.escape(s.sql)}</pre></td><td style='text-align:left;vertical-align:top;color:{colour}'>"
                f"{_answer_html(s)}</td></tr>")
        head = "<th style='text-align:left'>statement</th><th style='text-align:left'>SQLite says</th>"
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(cells)}</tbody></table>"

    def __repr__(self) -> str:
        return "\n".join(f"{s.sql}\n  -> {s.answer()}" for s in self.steps)


def _literal(value: Any) -> str:
    """A value as SQL would spell it: text quoted, so 5 and '5' never look alike."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bytes):
        return "X'" + value.hex().upper() + "'"
    return repr(value)


def _answer_html(step: Step) -> str:
    if step.error is not None or not step.rows:
        return html.escape(step.answer())
    head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in step.columns)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(_literal(v))}</td>" for v in row)
                   + "</tr>" for row in step.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def run(conn: sqlite3.Connection, script: str) -> SqlRun:
    """Run each statement of `script` on `conn`; a refused statement is recorded, not raised."""
    steps = []
    for sql in (piece.strip() for piece in split(script)):
        if not sql:
            continue
        try:
            cursor = conn.execute(sql)
            rows = tuple(tuple(r) for r in cursor.fetchall())
            columns = tuple(d[0] for d in cursor.description or ())
            steps.append(Step(sql, columns, rows))
        except sqlite3.Error as exc:
            steps.append(Step(sql, (), (), str(exc), type(exc).__name__))
    return SqlRun(tuple(steps))
