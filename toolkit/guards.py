"""Guards for untrusted database files (SQLite's security.html, "untrusted database files").

Everything a crafted file can make SQLite do is bounded here, in one place:

- limits on every connection (`LIMITS`): value and statement sizes, expression depth, columns,
  compound selects, trigger depth, attached files, program size;
- a hard heap limit for SQLite in this process (`HEAP_LIMIT`), so a function in a view or a
  DEFAULT cannot allocate gigabytes;
- a deadline checked by SQLite's progress handler (`Deadline`), scaled by the file's size;
- an authorizer (`Authorizer`) that lets the schema's views and triggers call only SQLite's
  own built-in functions (`BUILTIN_FUNCTIONS`), and lets the toolkit's own writes fire none of
  the file's triggers;
- checks of the file's bytes and schema text made before SQLite prepares anything that could
  recurse without bound (`view_nesting`) or reach outside the work folder (`super_journal`).
"""
from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import struct
import time
from dataclasses import dataclass
from enum import Enum
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Self, cast

# --------------------------------------------------------------------------- limits
MB = 1 << 20
GB = 1 << 30
#: Holes (never-written ranges) the toolkit will read through in one customer file: every byte
#: is hashed, and a terabyte of nothing would take hours.
MAX_HOLE_BYTES = 4 * GB
#: How much a recovered copy may outgrow the files it was made from (its own pages, the log's
#: frames): a -wal commit frame or a journal header can claim any size.
MAX_RECOVERY_GROWTH = 64 * MB
#: The largest string or blob SQLite may build or read; legitimate app rows are far smaller,
#: and printf('%.*c', 900000000, 'x') or zeroblob(2e9) stop here instead of at the heap.
MAX_VALUE_BYTES = 64 * MB
LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: MAX_VALUE_BYTES,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 1_000_000,
    sqlite3.SQLITE_LIMIT_COLUMN: 2000,
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 1000,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 500,
    # a prepared program this large is a crafted expansion, not an app's statement
    sqlite3.SQLITE_LIMIT_VDBE_OP: 5_000_000,
    sqlite3.SQLITE_LIMIT_FUNCTION_ARG: 127,
    sqlite3.SQLITE_LIMIT_ATTACHED: 2,  # the proof attaches one copy to another; nothing else does
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 50_000,
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 32_766,
    # SQLite's default is 1000 nested trigger firings, each with its own stack frame
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: 100,
    sqlite3.SQLITE_LIMIT_WORKER_THREADS: 0,
}
#: SQLite's heap in this process (PRAGMA hard_heap_limit): a crafted expression fails with
#: SQLITE_NOMEM here instead of taking the machine's memory.  `fix` at a million rows needs
#: about 60 MB.
HEAP_LIMIT = 256 * MB
#: Views nested deeper than this, or expanding to more table references than
#: MAX_VIEW_EXPANSION, are refused before SQLite expands them: it recurses once per level
#: (20,000 levels overflow the C stack) and does not check the deadline while it prepares.
MAX_VIEW_DEPTH = 100
MAX_VIEW_EXPANSION = 20_000

# --------------------------------------------------------------------------- deadline
BASE_TIME_LIMIT = 20.0
SECONDS_PER_BYTE = 1 / (5 * MB)  # a 300 MB file gets 80 s


def default_time_limit(size_bytes: int) -> float:
    """Seconds SQLite may work on one file: TOOLKIT_TIME_LIMIT, else 20 s plus 1 s per 5 MB."""
    override = os.environ.get("TOOLKIT_TIME_LIMIT")
    if override:
        return float(override)
    return BASE_TIME_LIMIT + size_bytes * SECONDS_PER_BYTE


class Stop(Enum):
    """Why the progress handler stopped SQLite."""

    DEADLINE = "deadline"
    USER = "user"  # Ctrl-C


#: Set by the CLI's SIGINT handler; every connection's progress handler stops on it.
_interrupt_requested = False


def request_interrupt() -> None:
    global _interrupt_requested
    _interrupt_requested = True


def interrupt_requested() -> bool:
    return _interrupt_requested


#: One command's budget (`start_command`): every connection it opens stops by then, so a command
#: of several steps (report: diagnose, fix, compare) is bounded as a whole, not step by step.
_command: tuple[float, float] | None = None  # (seconds, monotonic deadline)


def start_command(seconds: float) -> None:
    global _command
    _command = (seconds, time.monotonic() + seconds)


class Deadline:
    """A progress handler: stops SQLite at the deadline or on Ctrl-C, and remembers which."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        if _command is not None and _command[1] < self.at:
            self.seconds, self.at = _command
        self.stopped: Stop | None = None

    def __call__(self) -> int:
        global last_stop
        if _interrupt_requested:
            self.stopped = Stop.USER
        elif time.monotonic() > self.at:
            self.stopped = Stop.DEADLINE
        else:
            return 0
        last_stop = self
        return 1

    def check(self) -> None:
        """Stop before a statement, as the progress handler stops one that runs."""
        if self():
            # the code SQLite gives a statement its progress handler stops: one test of it (sqlite_codes)
            stop = sqlite3.OperationalError("interrupted")
            stop.sqlite_errorcode, stop.sqlite_errorname = sqlite3.SQLITE_INTERRUPT, "SQLITE_INTERRUPT"
            raise stop


#: The deadline that stopped SQLite last in this process (for the sentence that reports it).
last_stop: Deadline | None = None


# --------------------------------------------------------------------------- authorizer
#: SQLite's own functions (3.40 and later) that compute a value from their arguments and touch
#: nothing outside the statement.  A view or trigger may call these and nothing else; every
#: function of the running SQLite is either here or in DENIED_FUNCTIONS (a test holds that).
BUILTIN_FUNCTIONS = frozenset([
    "->", "->>", "abs", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "avg", "ceil", "ceiling", "char",
    "coalesce", "concat", "concat_ws", "cos", "cosh", "count", "cume_dist", "current_date", "current_time",
    "current_timestamp", "date", "datetime", "degrees", "dense_rank", "exp", "first_value", "floor", "format", "glob",
    "group_concat", "hex", "if", "ifnull", "iif", "instr", "json", "json_array", "json_array_length",
    "json_error_position", "json_extract", "json_group_array", "json_group_object", "json_insert", "json_object",
    "json_patch", "json_pretty", "json_quote", "json_remove", "json_replace", "json_set", "json_type", "json_valid",
    "jsonb", "jsonb_array", "jsonb_extract", "jsonb_group_array", "jsonb_group_object", "jsonb_insert", "jsonb_object",
    "jsonb_patch", "jsonb_remove", "jsonb_replace", "jsonb_set", "julianday", "lag", "last_value", "lead", "length",
    "like", "likelihood", "likely", "ln", "log", "log10", "log2", "lower", "ltrim", "max", "min", "mod", "nth_value",
    "ntile", "nullif", "octet_length", "percent_rank", "pi", "pow", "power", "printf", "quote", "radians", "random",
    "randomblob", "rank", "replace", "round", "row_number", "rtrim", "sign", "sin", "sinh", "soundex", "sqlite_version",
    "sqlite_source_id", "sqrt", "strftime", "string_agg", "substr", "substring", "subtype", "sum", "tan", "tanh",
    "time", "timediff", "total", "trim", "trunc", "typeof", "unhex", "unicode", "unistr", "unistr_quote", "unixepoch",
    "unlikely", "upper", "zeroblob", "changes", "total_changes", "last_insert_rowid", "sqlite_compileoption_get",
    "sqlite_compileoption_used", "bm25", "highlight", "snippet", "match", "matchinfo", "offsets", "optimize",
    "rtreecheck", "rtreedepth", "rtreenode",
]) | frozenset({
    # SQLite's ALTER TABLE runs these on its own schema; SQL cannot call them (SQLITE_FUNC_INTERNAL)
    "sqlite_rename_table", "sqlite_rename_column", "sqlite_rename_test", "sqlite_rename_quotefix",
    "sqlite_drop_column",
})
#: Functions with effects outside the statement, or that hand out internal pointers.
DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "sqlite_log", "fts5", "fts5_source_id",
                              "readfile", "writefile", "edit", "shell_exec"})


class Authorizer:
    """SQLite's authorizer for every connection on a customer's copy.

    Views and triggers are resolved again each time a statement uses them, and the authorizer
    sees each function they call: only `BUILTIN_FUNCTIONS` pass.  (CHECK, DEFAULT, generated
    columns and index expressions are resolved once, when the schema loads, against the same
    connection, where no other function exists: no application function is ever registered
    and extension loading is off.)  While `own_writes` is set, anything a trigger of the file
    would do is denied, so the toolkit's own statements cannot change other tables."""

    def __init__(self) -> None:
        self.own_writes = False
        self.denied: list[str] = []

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in BUILTIN_FUNCTIONS:
            self.denied.append(f"function {arg2}()")
            return sqlite3.SQLITE_DENY
        if self.own_writes and source is not None and action in _WRITES:
            self.denied.append(f"trigger {source}")
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


_WRITES = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})


@contextlib.contextmanager
def own_writes(conn: sqlite3.Connection) -> Iterator[None]:
    """The toolkit's own statements on its copy: while they run the file's triggers may write
    nothing (the authorizer refuses the statement instead, so nothing the toolkit does not say can
    happen), and a failure rolls the open transaction back."""
    authorizer = getattr(conn, "authorizer", None)
    if authorizer is not None:
        authorizer.own_writes = True
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        if authorizer is not None:
            authorizer.own_writes = False


class GuardedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        cast("GuardedConnection", self.connection).deadline.check()
        return super().execute(sql, parameters)


class GuardedConnection(sqlite3.Connection):
    """A connection that keeps its guards at hand: why SQLite stopped, what was denied.

    The deadline is also checked before each statement: SQLite calls the progress handler
    only every N virtual-machine steps, and ten thousand small statements (one per table of a
    crafted file) may never reach N."""

    deadline: Deadline
    authorizer: Authorizer

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.deadline.check()
        return super().execute(sql, parameters)

    def cursor(self, factory: Callable[[sqlite3.Connection], sqlite3.Cursor] = GuardedCursor  # type: ignore[override]
               ) -> sqlite3.Cursor:
        return super().cursor(factory)


#: printf('%.*c', N, 'x') repeats its character in a loop SQLite cannot interrupt (N = 900 million:
#: six seconds in one function call, long after the value limit has failed it).
MAX_PRINTF_REPEAT = 1_000_000
_PRINTF_SPEC = re.compile(r"%[-+ 0#,!]*(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])")


#: A value SQLite stores or a function returns.
SqlValue = str | bytes | int | float | None


class BoundedPrintf:
    """printf() and format() for a guarded connection: SQLite's own, reached through a private
    in-memory connection, after refusing a width or precision that would loop for seconds.
    Registered before the schema loads, so CHECKs, indexes and views resolve to it too."""

    def __init__(self) -> None:
        self.builtin = sqlite3.connect(":memory:", check_same_thread=False)
        self.builtin.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)

    def __call__(self, fmt: SqlValue, *args: SqlValue) -> SqlValue:
        if not isinstance(fmt, str):
            plain: SqlValue = self.builtin.execute("SELECT printf(?)", (fmt,)).fetchone()[0]
            return plain
        queue = list(args)
        for width, precision, _ in _PRINTF_SPEC.findall(fmt):
            for size in (width, precision):
                if size == "*":
                    size = queue.pop(0) if queue else 0
                numeric = isinstance(size, (int, float)) or (isinstance(size, str) and size.isdigit())
                if numeric and abs(int(float(size))) > MAX_PRINTF_REPEAT:
                    raise ValueError("printf width or precision over the toolkit's limit")
        marks = ", ".join("?" * (1 + len(args)))
        formatted: SqlValue = self.builtin.execute(f"SELECT printf({marks})", (fmt, *args)).fetchone()[0]
        return formatted


def guard(conn: GuardedConnection, time_limit: float) -> None:
    """Put every guard on a fresh connection to a copy."""
    for limit, value in LIMITS.items():
        conn.setlimit(limit, value)
    printf = BoundedPrintf()
    for name in ("printf", "format"):
        conn.create_function(name, -1, printf, deterministic=True)
    conn.deadline = Deadline(time_limit)
    conn.set_progress_handler(conn.deadline, 10_000)
    if hasattr(conn, "enable_load_extension"):
        conn.enable_load_extension(False)
    # Functions in CHECK, DEFAULT, generated columns and expression indexes must load (SQLite
    # refuses JSON or date functions there when the schema is untrusted): only SQLite's own
    # functions exist on this connection, and the authorizer vets views and triggers.
    conn.execute("PRAGMA trusted_schema = ON")
    conn.execute("PRAGMA recursive_triggers = OFF")
    conn.execute("PRAGMA cell_size_check = ON")
    conn.execute("PRAGMA mmap_size = 0")  # a damaged file read through mmap can fault the process
    conn.execute(f"PRAGMA hard_heap_limit = {HEAP_LIMIT}").fetchall()
    conn.authorizer = Authorizer()
    conn.set_authorizer(conn.authorizer)


# --------------------------------------------------------------------------- journals
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def super_journal(journal: bytes) -> bytes | None:
    """The super-journal name a rollback journal's last record gives, if it has one.

    SQLite reads it from the journal's end (pager.c, readSuperJournal): name, 4-byte length,
    4-byte checksum, the journal magic.  When that file exists SQLite rolls the journal back
    and then deletes it, wherever it is: a crafted journal can name any file."""
    if len(journal) < 16 or journal[-8:] != JOURNAL_MAGIC:
        return None
    length, _checksum = struct.unpack(">II", journal[-16:-8])
    if length == 0 or length > len(journal) - 16:
        return None
    return journal[-16 - length:-16]


def journal_tail(path: os.PathLike[str] | str, size: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        fh.seek(max(0, end - size))
        return fh.read()


# --------------------------------------------------------------------------- views
@dataclass(frozen=True)
class ViewNesting:
    """How deep the file's views nest, and how many table references the worst one expands to."""

    deepest: str | None
    depth: int
    expansion: int

    @property
    def too_deep(self) -> bool:
        return self.depth > MAX_VIEW_DEPTH or self.expansion > MAX_VIEW_EXPANSION


def view_nesting(views: Iterable[tuple[str, str | None]]) -> ViewNesting:
    """Depth and expansion of each view, read from the schema text alone (no SQLite prepare):
    a view's depth is one more than the deepest view its SQL names; its expansion counts every
    view and table reference with repetition, as SQLite copies a view into each place it is
    named.  A name that could be a CTE or a table is counted as a view: an over-estimate only."""
    from .ddl import tokenize

    names: dict[str, list[str]] = {}
    for name, sql in views:
        try:
            words = [t.name.lower() for t in tokenize(sql or "") if t.kind in ("word", "ident", "string")]
        except ValueError:
            words = []
        names[name.lower()] = words
    depth: dict[str, int] = {}
    expansion: dict[str, int] = {}
    cap = MAX_VIEW_EXPANSION + 1
    for root in names:
        # iterative post-order: a recursive walk would itself overflow on 20,000 levels
        stack = [(root, False)]
        on_path: set[str] = set()
        while stack:
            view, done = stack.pop()
            if view in depth:
                continue
            refs = [w for w in names[view] if w in names and w != view]
            if done:
                on_path.discard(view)
                depth[view] = 1 + max((depth.get(r, 0) for r in refs), default=0)
                expansion[view] = min(cap, 1 + sum(expansion.get(r, 1) for r in refs))
                continue
            on_path.add(view)
            stack.append((view, True))
            stack += [(r, False) for r in refs if r not in depth and r not in on_path]
    if not depth:
        return ViewNesting(None, 0, 0)
    worst = max(depth, key=lambda v: (depth[v], expansion[v]))
    widest = max(expansion, key=lambda v: expansion[v])
    if expansion[widest] > MAX_VIEW_EXPANSION and depth[worst] <= MAX_VIEW_DEPTH:
        worst = widest
    return ViewNesting(worst, depth[worst], expansion[worst])
