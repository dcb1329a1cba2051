"""One exception hierarchy for everything the toolkit refuses or cannot do.

Every message is one sentence a support engineer can act on: it names the file, says
what is wrong, and says what to ask the customer for (or what to do next).
"""
from __future__ import annotations

import re
from pathlib import Path

#: Exit codes of the CLI, shared by every command.
EXIT_OK = 0
EXIT_PROBLEM_FOUND = 1
EXIT_BAD_INPUT = 2
EXIT_PROOF_FAILED = 3
EXIT_MISSING_PROGRAM = 4
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


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


class RefusedError(ToolkitError):
    """The operation would be unsafe or meaningless on this file."""


class OutputExistsError(RefusedError):
    pass


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
