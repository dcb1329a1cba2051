"""The failing script the app ran (`diagnose --sql`), split and checked before anything runs.

Text as it is found in an app's log: `BEGIN; ...; COMMIT;`, `BEGIN IMMEDIATE`, `END`, comments,
CRLF line ends, no final semicolon.  It is split where SQLite itself would end a statement
(`sqlite3.complete_statement`, which knows strings, quoted names, comments and the BEGIN ... END
body of a CREATE TRIGGER), and each statement is prepared on a blank in-memory database: SQLite's
parser says whether it is SQL, and SQLite's authorizer reports what it would do (attach a file,
run a pragma, call a function) as SQLite understands it, not as a pattern matches it.

Refused, in one sentence (exit 2), is anything that could reach outside the copy or change the
engine: ATTACH, DETACH, VACUUM (VACUUM INTO writes a new file), any function that is not one of
SQLite's own (`guards.BUILTIN_FUNCTIONS`: `load_extension` and the like are not), and every
pragma that is not on the allow-list below.  A statement on tables the blank database does not
have stops preparing at the first missing table, before the authorizer sees the rest of it:
`authorizer_for_replay()` enforces the same rules on the copy's connection, statement by
statement, while the replay runs.

The allow-list of pragmas (anything else, including every pragma SQLite does not know, is refused):

- set to any value, or read: `foreign_keys`, `defer_foreign_keys` (what an app sets for its keys);
- run with or without a table or index name, as they only read: `foreign_key_check`,
  `foreign_key_list`, `table_info`, `table_xinfo`, `index_list`, `index_info`, `index_xinfo`;
- read only, never set: `user_version`, `application_id`, `schema_version`, `data_version`,
  `encoding`, `journal_mode`, `page_size`, `page_count`, `freelist_count` (migration tools read
  them; setting them changes the file's format, its safety or how the engine trusts it).
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from . import errors, guards
from .ddl import Token, significant, tokenize
from .scripts import is_parse_error
from .sqlite_codes import Kind, kind_of

#: A script longer than this is not an app's failing transaction (and is not split: each check
#: of a statement reads it from its start).
MAX_SCRIPT_CHARS = 10_000_000

#: Pragmas an app sets (or reads) for its own foreign keys.
SETTABLE_PRAGMAS = frozenset({"foreign_keys", "defer_foreign_keys"})
#: Pragmas that only read, with or without a table or index name as their argument.
READING_PRAGMAS = frozenset({"foreign_key_check", "foreign_key_list", "table_info", "table_xinfo", "index_list",
                             "index_info", "index_xinfo"})
#: Pragmas allowed as a query only: reading them changes nothing, setting them changes the file.
QUERY_PRAGMAS = frozenset({"user_version", "application_id", "schema_version", "data_version", "encoding",
                           "journal_mode", "page_size", "page_count", "freelist_count"})


class StatementKind(StrEnum):
    """What a statement is, by its first keyword (`WITH ...` by the statement its CTEs lead to)."""

    BEGIN = "begin"
    COMMIT = "commit"  # COMMIT or END
    ROLLBACK = "rollback"  # the whole transaction
    ROLLBACK_TO = "rollback_to"  # ROLLBACK TO a savepoint: the transaction goes on
    SAVEPOINT = "savepoint"
    RELEASE = "release"
    PRAGMA = "pragma"
    INSERT = "insert"
    REPLACE = "replace"
    UPDATE = "update"
    DELETE = "delete"
    SELECT = "select"
    CREATE = "create"
    DROP = "drop"
    ALTER = "alter"
    ANALYZE = "analyze"
    REINDEX = "reindex"
    ATTACH = "attach"
    DETACH = "detach"
    VACUUM = "vacuum"
    EXPLAIN = "explain"
    OTHER = "other"


_FIRST_WORDS = {kind.name: kind for kind in StatementKind if kind not in (StatementKind.ROLLBACK_TO,
                                                                           StatementKind.OTHER)}
_FIRST_WORDS.update({"END": StatementKind.COMMIT, "VALUES": StatementKind.SELECT})
_WITH_LEADS_TO = frozenset({"INSERT", "REPLACE", "UPDATE", "DELETE", "SELECT", "VALUES"})
#: Kinds that write rows of the file.
WRITES = frozenset({StatementKind.INSERT, StatementKind.REPLACE, StatementKind.UPDATE, StatementKind.DELETE})


class Refusal(StrEnum):
    """Why a statement is not replayed."""

    ATTACH = "attach"
    DETACH = "detach"
    VACUUM = "vacuum"
    PRAGMA = "pragma"
    FUNCTION = "function"


@dataclass(frozen=True)
class Statement:
    """One statement of the script: `sql` is its text without leading or trailing comments and
    without its final semicolon; `pragma` and `pragma_value` are SQLite's reading of a PRAGMA
    (name in lower case; the value as written, None when the pragma is only queried)."""

    number: int
    sql: str
    kind: StatementKind
    pragma: str | None = None
    pragma_value: str | None = None
    #: Values bound to the statement's `?` marks (a statement the toolkit built from typed values).
    params: tuple[Any, ...] = ()

    @property
    def beginning(self) -> str:
        """The start of the statement as a sentence quotes it."""
        first = " ".join(self.sql.split())
        return first if len(first) <= 60 else first[:57] + "..."

    @property
    def writes(self) -> bool:
        return self.kind in WRITES


@dataclass(frozen=True)
class Script:
    source: str
    statements: tuple[Statement, ...] = field(default_factory=tuple)

    @property
    def explicit_transaction(self) -> bool:
        """Whether the app opened its own transaction (else each statement commits on its own)."""
        return any(s.kind in (StatementKind.BEGIN, StatementKind.SAVEPOINT) for s in self.statements)


# --------------------------------------------------------------------------- the rules
def pragma_refusal(name: str | None, value: str | None) -> str | None:
    """Why this pragma is refused (None when it is on the allow-list)."""
    pragma = (name or "").lower()
    if pragma in SETTABLE_PRAGMAS or pragma in READING_PRAGMAS:
        return None
    if pragma in QUERY_PRAGMAS and value is None:
        return None
    shown = f"PRAGMA {name} = {value}" if value is not None else f"PRAGMA {name}"
    return (f"runs {shown}, which could change the file or the engine (the toolkit replays foreign_keys, "
            "defer_foreign_keys and pragmas that only read, such as foreign_key_check)")


def function_refusal(name: str | None) -> str | None:
    """Why calling this function is refused (None for SQLite's own functions)."""
    function = (name or "").lower()
    if function in guards.BUILTIN_FUNCTIONS:
        return None
    if function in guards.DENIED_FUNCTIONS:
        return f"calls {name}(), which can reach outside the statement (load code, read or write files)"
    return f"calls {name}(), which is not one of SQLite's own functions"


def refusal_of(action: int, arg1: str | None, arg2: str | None) -> tuple[Refusal, str] | None:
    """What the authorizer refuses for this action, and why (None: allowed)."""
    if action == sqlite3.SQLITE_ATTACH:
        return Refusal.ATTACH, f"attaches another database file ({arg1!r}), which is outside the copy"
    if action == sqlite3.SQLITE_DETACH:
        return Refusal.DETACH, "detaches a database"
    if action == sqlite3.SQLITE_PRAGMA:
        why = pragma_refusal(arg1, arg2)
        return (Refusal.PRAGMA, why) if why else None
    if action == sqlite3.SQLITE_FUNCTION:
        why = function_refusal(arg2)
        return (Refusal.FUNCTION, why) if why else None
    return None


Authorize = Callable[[int, "str | None", "str | None", "str | None", "str | None"], int]


class ReplayAuthorizer:
    """SQLite's authorizer for the copy's connection while the app's statements are replayed:
    it denies what `parse_script` refuses, for statements whose tables exist only on the copy,
    and records why (`refused`, newest last).  `inner` is the authorizer the connection already
    has (`guards.Authorizer`): every action this one allows is passed on to it.

    SQLite reports a denied ATTACH, DETACH or PRAGMA as SQLITE_AUTH but a denied function as
    SQLITE_ERROR ("not authorized to use function"): the replay asks `refusal()` after any error,
    having called `reset()` before the statement, rather than reading the error's code."""

    def __init__(self, inner: Authorize | None = None) -> None:
        self.inner = inner
        self.refused: list[tuple[Refusal, str]] = []

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        refused = refusal_of(action, arg1, arg2)
        if refused is not None:
            self.refused.append(refused)
            return sqlite3.SQLITE_DENY
        if self.inner is not None:
            return self.inner(action, arg1, arg2, db, source)
        return sqlite3.SQLITE_OK

    def reset(self) -> None:
        """Forget earlier refusals: call before each statement."""
        self.refused.clear()

    def refusal(self, statement: Statement, source: str) -> errors.RefusedStatementError | None:
        """The sentence for `statement` if this authorizer denied something in it since `reset()`
        (SQLite then refused to prepare it: nothing of it ran); None when it denied nothing."""
        if not self.refused:
            return None
        return _refused(statement, source, *self.refused[0])


def authorizer_for_replay(inner: Authorize | None = None) -> ReplayAuthorizer:
    """The authorizer to install on the copy's connection for the replay (see ReplayAuthorizer).

    A statement it denies fails to prepare: nothing of it ran (see `ReplayAuthorizer.refusal`)."""
    return ReplayAuthorizer(inner)


def _refused(statement: Statement, source: str, refusal: Refusal, why: str) -> errors.RefusedStatementError:
    return errors.RefusedStatementError(
        f"{source}: statement {statement.number}, beginning {statement.beginning!r}, {why}; the toolkit replays "
        "only the app's own statements on its copy: remove it and try again.",
        statement=statement.number, refusal=refusal)


# --------------------------------------------------------------------------- splitting
#: SQLite's limit on one statement's length on the toolkit's connections.
MAX_STATEMENT_CHARS = guards.LIMITS[sqlite3.SQLITE_LIMIT_SQL_LENGTH]
#: Just enough of SQLite's tokenizer to find the semicolons that may end a statement, read lazily
#: (a script may hold millions of tokens): blanks and comments, literals (strings, quoted names,
#: blobs), a quote or comment left open, semicolons, words.  Possessive quantifiers: an open
#: quote is found in one pass, without backtracking.
_LEX = re.compile(r"""
    (?P<blank>\s++|--[^\n]*+|/\*(?:[^*]|\*(?!/))*+\*/)
  | (?P<literal>[xX]?'[^']*+(?:''[^']*+)*+'|"[^"]*+(?:""[^"]*+)*+"|`[^`]*+(?:``[^`]*+)*+`|\[[^\]]*+\])
  | (?P<open>/\*|['"`\[])
  | (?P<semicolon>;)
  | (?P<word>[^\W\d][\w$]*+)
  | (?P<other>.)
""", re.S | re.X)


def _ends(text: str) -> Iterator[tuple[int, bool]]:
    """The semicolons where a statement may end, each with whether END comes just before it:
    those outside literals and comments, up to a quote or comment left open (SQLite reads the rest
    of the text as inside it).  SQLite's complete_statement decides which of them do end one."""
    previous = ""
    for match in _LEX.finditer(text):
        kind = match.lastgroup
        if kind == "open":
            return
        if kind == "semicolon":
            yield match.start(), previous == "END"
        if kind != "blank":
            previous = match.group().upper() if kind == "word" else ""


def split(text: str) -> list[str]:
    """The pieces of `text` SQLite would run one by one, each with its semicolon; the last piece
    may have none (an app's log often omits it), and may be incomplete or too long."""
    pieces: list[str] = []
    start = 0
    in_trigger = False
    for end, after_end in _ends(text):
        if end - start > MAX_STATEMENT_CHARS:
            break  # too long to be one of SQLite's statements: the rest is refused as one piece
        # once a semicolon did not end the statement it is a trigger's body, which only "END;"
        # can end: checking only those keeps a long body from being read again at each semicolon
        if in_trigger and not after_end:
            continue
        if sqlite3.complete_statement(text[start:end + 1]):
            pieces.append(text[start:end + 1])
            start, in_trigger = end + 1, False
        else:
            in_trigger = True
    if text[start:].strip():
        pieces.append(text[start:])
    return pieces


def _body(piece: str) -> list[Token]:
    """The significant tokens of a piece: no comments, no final semicolons."""
    tokens = significant(tokenize(piece))
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    return tokens


def kind_of_statement(tokens: list[Token]) -> StatementKind:
    words = [t.upper for t in tokens]
    first = words[0] if words else ""
    if first == "ROLLBACK" and "TO" in words:
        return StatementKind.ROLLBACK_TO
    if first == "WITH":
        depth = 0
        for t in tokens:
            depth += (t.text == "(") - (t.text == ")")
            if depth == 0 and t.upper in _WITH_LEADS_TO:
                return _FIRST_WORDS[t.upper]
        return StatementKind.OTHER
    return _FIRST_WORDS.get(first, StatementKind.OTHER)


# --------------------------------------------------------------------------- checking
class _Recorder:
    """The authorizer on the blank database: it records the first refused action and denies it
    (so nothing refused is even compiled), and keeps what SQLite read as the pragma."""

    def __init__(self) -> None:
        self.refused: tuple[Refusal, str] | None = None
        self.pragma: tuple[str | None, str | None] | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action == sqlite3.SQLITE_PRAGMA and self.pragma is None:
            self.pragma = (arg1, arg2)
        refused = refusal_of(action, arg1, arg2)
        if refused is None:
            return sqlite3.SQLITE_OK
        self.refused = self.refused or refused
        return sqlite3.SQLITE_DENY


def _blank() -> sqlite3.Connection:
    blank = sqlite3.connect(":memory:", isolation_level=None)
    for limit, value in guards.LIMITS.items():
        blank.setlimit(limit, value)
    if hasattr(blank, "enable_load_extension"):
        blank.enable_load_extension(False)
    return blank


def _missing_function(exc: sqlite3.Error) -> str | None:
    # SQLITE_ERROR again: the code says it is the statement's fault, the text which fault
    text = str(exc)
    if kind_of(exc) is Kind.ERROR and text.startswith("no such function: "):
        return text.removeprefix("no such function: ")
    return None


def parameters(sql: str) -> list[str]:
    """The parameters a statement holds (`?`, `?3`, `:name`, `@name`, `$name`), as written: an app's
    log shows a statement with them and its values apart, and replayed as it stands SQLite would
    bind NULL to each, which is not what the app ran."""
    tokens = significant(tokenize(sql))
    found = []
    for i, t in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1].start == t.end else None
        if t.text == "?":
            found.append("?" + (after.text if after is not None and after.kind == "number" else ""))
        elif t.text in (":", "@", "$") and after is not None and after.kind in ("word", "number"):
            found.append(t.text + after.text)
    return found


def check(statement: Statement, source: str, blank: sqlite3.Connection | None = None) -> Statement:
    """`statement` with SQLite's reading of its pragma, once SQLite has parsed it on a blank
    database and its authorizer has seen nothing refused; else one sentence.

    `blank`: a blank in-memory connection to reuse (EXPLAIN runs nothing, so one serves a whole
    script: no statement changes what the next one parses)."""
    if statement.kind in (StatementKind.ATTACH, StatementKind.DETACH, StatementKind.VACUUM):
        # VACUUM never reaches the authorizer; ATTACH and DETACH do, and are refused there too
        why = {StatementKind.ATTACH: "attaches another database file, which is outside the copy",
               StatementKind.DETACH: "detaches a database",
               StatementKind.VACUUM: "vacuums the database (VACUUM INTO writes another file)"}[statement.kind]
        raise _refused(statement, source, Refusal(statement.kind.value), why)
    bound = parameters(statement.sql)
    if bound:
        raise errors.BadStatementError(
            f"{source}: statement {statement.number}, beginning {statement.beginning!r}, has parameters "
            f"({', '.join(bound)}) whose values the app bound apart: write each value in its place, as the "
            "log lists them after the statement, and try again.")
    recorder = _Recorder()
    own = blank is None
    blank = _blank() if blank is None else blank
    blank.set_authorizer(recorder)
    prefix = "" if statement.kind is StatementKind.EXPLAIN else "EXPLAIN "
    try:
        blank.execute(prefix + statement.sql).fetchall()
    except sqlite3.Error as exc:
        if recorder.refused is not None:
            raise _refused(statement, source, *recorder.refused) from None
        if is_parse_error(exc):
            raise errors.BadStatementError(
                f"{source}: statement {statement.number}, beginning {statement.beginning!r}, is not SQL that "
                f"SQLite parses ({exc}): paste the statements exactly as the app's log shows them.") from None
        missing = _missing_function(exc)
        if missing is not None:
            raise _refused(statement, source, Refusal.FUNCTION, function_refusal(missing) or "") from None
        # anything else ("no such table" on a blank database) means it parsed
    finally:
        blank.set_authorizer(None)
        if own:
            blank.close()
    if recorder.pragma is None:
        return statement
    name, value = recorder.pragma
    return Statement(statement.number, statement.sql, statement.kind, (name or "").lower(), value)


def _incomplete(number: int, piece: str, source: str) -> errors.BadStatementError:
    shown = " ".join(piece.split())[:60]
    return errors.BadStatementError(
        f"{source}: statement {number}, beginning {shown!r}, is not complete (a quote, a comment, a bracket "
        "or a trigger's BEGIN ... END is left open): paste the whole statement.")


def _statements(pieces: list[str], source: str) -> list[Statement]:
    statements: list[Statement] = []
    for piece in pieces:
        number = len(statements) + 1
        if len(piece) > MAX_STATEMENT_CHARS:
            raise errors.BadStatementError(
                f"{source}: statement {number}, beginning {' '.join(piece[:200].split())[:60]!r}, is longer than "
                f"the {MAX_STATEMENT_CHARS:,} characters the toolkit lets SQLite read as one statement: paste "
                "the statements of the failing transaction only.")
        if not sqlite3.complete_statement(piece if piece.rstrip().endswith(";") else piece + "\n;"):
            raise _incomplete(number, piece, source)
        try:
            tokens = _body(piece)
        except ValueError:
            raise _incomplete(number, piece, source) from None
        if tokens:
            sql = piece[tokens[0].start:tokens[-1].end]
            statements.append(Statement(number, sql, kind_of_statement(tokens)))
    return statements


def parse_script(text: str, source: str) -> Script:
    """The statements of `text` (named `source` in sentences), each checked: one sentence
    (errors.BadStatementError or errors.RefusedStatementError, exit 2) for the first that is
    incomplete, does not parse or is refused."""
    text = text.removeprefix("\ufeff")  # a log saved by a Windows editor starts with a byte-order mark
    if len(text) > MAX_SCRIPT_CHARS:
        raise errors.BadStatementError(
            f"{source}: the script is {len(text):,} characters long, more than the {MAX_SCRIPT_CHARS:,} the toolkit "
            "replays: paste only the statements of the failing transaction.")
    nul = text.find("\x00")
    if nul != -1:
        before = [p for p in split(text[:nul]) if p.rstrip().endswith(";") and sqlite3.complete_statement(p)]
        number = sum(1 for p in before if _body(p)) + 1
        raise errors.BadStatementError(
            f"{source}: statement {number} holds a NUL character, which no statement an app ran can hold: "
            "paste the statements as text.")
    statements = _statements(split(text), source)
    if not statements:
        raise errors.BadStatementError(
            f"{source}: the script is empty (only blanks or comments): paste the statements the app ran.")
    blank = _blank()
    try:
        return Script(source, tuple(check(s, source, blank) for s in statements))
    finally:
        blank.close()
