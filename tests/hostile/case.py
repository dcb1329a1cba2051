"""What a hostile case is, and what building one gives back."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

#: The harness puts a file of this name (random bytes) in the database's folder, in its parent and
#: in the working directory of every run; a case that names a file to delete names one of these.
CANARY_NAME = "canary.txt"
#: The file a case's own commands (a `.shell` line, a loaded "extension") would create in the
#: database's folder if a script the toolkit printed ever ran them.
SHELL_CANARY_NAME = "shell-ran.txt"
#: The database's file name inside the folder it is built in.
DB_NAME = "customer.db"


@dataclass(frozen=True)
class HostileCase:
    """One crafted file: `make(folder)` writes the database (and any sidecar) into `folder` and
    returns the database's path."""

    name: str
    make: Callable[[Path], Path]
    attack: str  # one line: what it attacks
    #: a legitimate file the app could have written: `inspect` and `diagnose` must answer (exit 0 or 1)
    healthy: bool = False
    #: text the output of `diagnose` (stdout + stderr) must contain
    expect_in_output: str | None = None
    #: text no command's output (nor the report) may contain, e.g. a wrong answer or "damaged"
    absent_from_output: str | None = None
    #: can make a command run into the toolkit's time limit (marked slow, kept in the default run)
    slow: bool = False
    #: the files name their own location (absolute paths inside), so they must be built in place
    #: rather than copied from a cache
    portable: bool = True
    #: the file carries commands a shell would run (`SHELL_CANARY_NAME` appears if they do)
    shell_attack: bool = False


@dataclass(frozen=True)
class Built:
    """A case built into a folder."""

    case: HostileCase
    db: Path

    @property
    def folder(self) -> Path:
        return self.db.parent

    @property
    def shell_canary(self) -> Path | None:
        return self.folder / SHELL_CANARY_NAME if self.case.shell_attack else None
