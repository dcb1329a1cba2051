"""One exception hierarchy for everything the toolkit refuses or cannot do.

Every message is one sentence a support engineer can act on: it names the file, says
what is wrong, and says what to ask the customer for (or what to do next).
"""
from __future__ import annotations

import errno
import re
import shutil
import tempfile
from enum import StrEnum
from pathlib import Path

#: Exit codes of the CLI, shared by every command.
EXIT_OK = 0
EXIT_PROBLEM_FOUND = 1
EXIT_BAD_INPUT = 2
EXIT_PROOF_FAILED = 3
EXIT_MISSING_PROGRAM = 4
#: Only in a triage row: the file is no SQLite 3 database (its header says what it is), so it was passed over.
#: `diagnose` on such a file exits 2, bad input; the triage run itself does not fail because of it.
EXIT_NOT_A_DATABASE = 5
EXIT_INTERNAL = 70
#: EX_TEMPFAIL (sysexits.h): the machine failed (a full disk, a folder that cannot be written),
#: not the customer's file; the same command works once the folder is fixed.
EXIT_ENVIRONMENT = 75
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as shells report a reader that stopped reading (`| head`)


class ToolkitError(Exception):
    """Base class: anything the toolkit reports instead of a traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, path: str | Path | None = None):
        # one line, always: SQLite's own texts (quick_check, errors) may span several
        message = re.sub(r"[\r\n\t]+", " ", message)
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None

    def __str__(self) -> str:
        return self.message


class BadInputError(ToolkitError):
    """The file given is not something the toolkit can read as an app database."""


class MissingFileError(BadInputError):
    pass


class NotAFileError(BadInputError):
    pass


class UnreadableFileError(BadInputError):
    pass


class EmptyFileError(BadInputError):
    pass


class NotADatabaseError(BadInputError):
    pass


class EncryptedDatabaseError(NotADatabaseError):
    pass


class TruncatedDatabaseError(BadInputError):
    pass


class CorruptDatabaseError(BadInputError):
    pass


class LockedDatabaseError(BadInputError):
    pass


class QueryTimeoutError(BadInputError):
    """A query on customer data ran past its time limit (a crafted or huge file)."""


class LimitExceededError(BadInputError):
    """The file needs more than a limit the toolkit keeps on untrusted files (memory, value
    size, expression depth, view nesting): it says which limit, never that the file is damaged."""


class UnsafeContentError(BadInputError):
    """The file holds something the toolkit will not run or follow (a journal naming another
    file, a function that is not SQLite's own, a name SQL cannot spell)."""


class SQLiteRefusedError(BadInputError):
    """SQLite refused a statement on the copy for a reason that is neither damage nor a limit."""


class BadStatementError(BadInputError):
    """A script the app ran (`--sql`), or values given for a row (`--values`), that cannot be read:
    empty, not complete, not SQL SQLite parses, or naming a column the table does not have."""


class RefusedError(ToolkitError):
    """The operation would be unsafe or meaningless on this file."""


class OutputExistsError(RefusedError):
    pass


class RefusedStatementError(RefusedError):
    """A statement the toolkit will not replay: it could reach outside the copy (ATTACH, VACUUM
    INTO, load_extension) or change the engine (a pragma that is not the app's own).  `statement`
    is its 1-based number in the script, `refusal` what it does (statements.Refusal)."""

    def __init__(self, message: str, path: str | Path | None = None, *, statement: int | None = None,
                 refusal: str = ""):
        super().__init__(message, path)
        self.statement, self.refusal = statement, refusal


class ProofFailedError(ToolkitError):
    """The fixed copy could not be proven identical; it was not kept."""

    exit_code = EXIT_PROOF_FAILED


class UserInterruptError(ToolkitError):
    """Ctrl-C: the work stopped, the work folder was removed, nothing was written."""

    exit_code = EXIT_INTERRUPTED


class OriginalChangedError(BadInputError):
    """The customer's file changed while a command read it: never by our hand (it is only
    read), so another program is writing it and what we read may be a torn copy."""


class DiagramError(ToolkitError):
    """The diagram asked for cannot be drawn from this file (no such table, bad --depth)."""


class MissingProgramError(ToolkitError):
    """A program the toolkit calls (Graphviz's dot) is not installed; everything else works."""

    exit_code = EXIT_MISSING_PROGRAM


class EnvironmentFailureError(ToolkitError):
    """The machine failed the toolkit, not the customer's file: a full disk, a folder that
    cannot be written, an I/O error.  Nothing was kept; the same command works once fixed."""

    exit_code = EXIT_ENVIRONMENT

    def __init__(self, message: str, path: str | Path | None = None, *, problem: EnvironmentProblem | None = None,
                 need: int | None = None, detail: str = ""):
        super().__init__(message, path)
        self.problem, self.need, self.detail = problem, need, detail

    def relocated(self, place: str | Path) -> EnvironmentFailureError:
        """The same failure named at `place` (its folder was removed with the outputs in it)."""
        if self.problem is None:
            return self
        return environment_failure(place, self.problem, need=self.need, detail=self.detail)


class EnvironmentProblem(StrEnum):
    FULL = "full"
    UNWRITABLE = "unwritable"
    IO = "io"


#: The operating system's errors that are the machine's, not the file's.
ENVIRONMENT_ERRNOS: dict[int, EnvironmentProblem] = {
    errno.ENOSPC: EnvironmentProblem.FULL,
    errno.EDQUOT: EnvironmentProblem.FULL,
    errno.EACCES: EnvironmentProblem.UNWRITABLE,
    errno.EPERM: EnvironmentProblem.UNWRITABLE,
    errno.EROFS: EnvironmentProblem.UNWRITABLE,
    errno.EIO: EnvironmentProblem.IO,
}


def existing_folder(path: str | Path) -> Path:
    """The nearest folder of `path` that still exists (a work folder is gone by the time the
    message is printed: the sentence names the folder the user can act on)."""
    folder = Path(path)
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    return folder


def _is_temp(folder: Path) -> bool:
    return folder.resolve() == Path(tempfile.gettempdir()).resolve()


def environment_failure(place: str | Path, problem: EnvironmentProblem, *, need: int | None = None,
                        detail: str = "", other: str | None = None) -> EnvironmentFailureError:
    """One sentence naming the folder at `place` and what to free or change there (`other`: the
    alternative to offer, when it is not another --out folder or TMPDIR)."""
    folder = existing_folder(place)
    # work copies live in the temp folder: there the remedy is TMPDIR (and --out, if it is there too)
    if other is None:
        other = ("point TMPDIR (and --out, if it is there) at another disk" if _is_temp(folder)
                 else "choose another --out folder")
    if problem is EnvironmentProblem.FULL:
        try:
            free = f"{shutil.disk_usage(folder).free / (1 << 20):,.1f} MB free"
        except OSError:
            free = "no free space"
        needs = f", needs about {need / (1 << 20):,.1f} MB" if need else ""
        message = f"The disk holding {folder} is full ({free}{needs}): free space there or {other}"
    elif problem is EnvironmentProblem.UNWRITABLE:
        message = f"{folder} cannot be written ({detail or 'permission denied'}): make it writable or {other}"
    else:
        message = f"The disk holding {folder} failed a read or write ({detail or 'I/O error'}): check it or {other}"
    return EnvironmentFailureError(f"{message}; nothing was kept and the original was not modified.", folder,
                                   problem=problem, need=need, detail=detail)


def from_os_error(exc: OSError, place: str | Path | None = None, *,
                  need: int | None = None, other: str | None = None) -> EnvironmentFailureError | None:
    """The environment failure an OSError reports (None when it is not one of the machine's)."""
    problem = ENVIRONMENT_ERRNOS.get(exc.errno or 0)
    where = place if place is not None else (exc.filename or tempfile.gettempdir())
    if problem is None:
        return None
    return environment_failure(where, problem, need=need, detail=(exc.strerror or "").lower(), other=other)


def as_environment_failure(exc: BaseException, place: str | Path) -> EnvironmentFailureError | None:
    """The environment failure `exc` is when the command was writing in `place` (None if it is not one):
    an OSError of the machine's kind, or SQLite's FULL or IOERR on a file the toolkit writes there."""
    from .sqlite_codes import Kind, kind_of

    if isinstance(exc, OSError):
        return from_os_error(exc, place)
    kind = kind_of(exc)
    if kind is Kind.FULL:
        return environment_failure(place, EnvironmentProblem.FULL)
    if kind is Kind.IOERR:
        return environment_failure(place, EnvironmentProblem.IO, detail=str(exc))
    return None
