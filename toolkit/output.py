"""Writing --out: a repair only ever writes a copy, and --out is absent or complete whatever happens.

Checked before anything is read (not the customer's file, not a folder, not there unless --force),
worked on in a hidden folder beside it (on the same file system, so the proven copy becomes --out in
one atomic rename), and that folder removed on the way out.  Small on purpose: `fix` prepares --out
and starts copying the file before Python loads the code that plans the repair.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import errors
from .safe_access import SIDECAR_SUFFIXES, Check, WorkCopy, copy_database, work_folder


def prepare_dest(src: Path, dest: Path, force: bool) -> None:
    if dest.resolve() in {Path(f"{src}{s}").resolve() for s in ("", *SIDECAR_SUFFIXES)}:
        raise errors.RefusedError(f"--out {dest} is the customer's file itself; the fix only ever writes a copy.", src)
    if dest.is_dir():
        raise errors.RefusedError(f"--out {dest} is a folder; give the path of the file to write.", src)
    if dest.exists() and not force:
        raise errors.OutputExistsError(
            f"{dest} already exists; choose another --out, or add --force to replace it.", src)
    if not dest.parent.is_dir():
        raise errors.RefusedError(f"The folder of --out {dest} does not exist; create it first.", src)
    if not os.access(dest.parent, os.W_OK | os.X_OK):
        read_only = os.statvfs(dest.parent).f_flag & os.ST_RDONLY
        raise errors.environment_failure(dest.parent, errors.EnvironmentProblem.UNWRITABLE,
                                         detail="read-only file system" if read_only else "permission denied")


def work_bytes(src: Path) -> int:
    """About what fix writes beside --out: two copies of the file and the rebuilt table."""
    try:
        return 3 * src.stat().st_size
    except OSError:
        return 0


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def beside_output(src: Path, dest: Path, force: bool, label: str) -> Iterator[Path]:
    """A hidden work folder beside --out for a repair, which only ever writes a copy: --out is
    checked first, a failure to write there (a full or failing disk names no file) is said as that
    folder's problem, and the folder goes whatever happens."""
    prepare_dest(src, dest, force)
    try:
        workdir = work_folder(label, dest.parent, hidden=True)
    except OSError as exc:
        raise errors.from_os_error(exc, dest.parent, need=work_bytes(src)) or errors.RefusedError(
            f"Cannot write beside --out {dest} ({exc.strerror}); choose a writable folder.", src) from None
    try:
        yield workdir
    except OSError as exc:
        failure = errors.from_os_error(exc, dest.parent, need=work_bytes(src))
        if failure is None:
            raise
        raise failure from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def move_into_place(proven: Path, dest: Path) -> None:
    """The proven copy becomes --out in one atomic rename (absent or complete, never half-written),
    without the sidecars an earlier --out left behind."""
    for suffix in SIDECAR_SUFFIXES:
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    fsync_file(proven)  # anything written since an earlier flush (little or nothing)
    os.replace(proven, dest)


@dataclass(frozen=True)
class Started:
    """A repair's work folder beside --out, and its copy of the customer's file under way there."""

    workdir: Path
    copy: Future[WorkCopy]

    @property
    def path(self) -> Path:
        return self.workdir / "work.db"


@contextlib.contextmanager
def copying_beside_output(src: Path, dest: Path, force: bool, label: str) -> Iterator[Started]:
    """`beside_output`, with the file's copy started at once on a thread of its own: the kernel
    copies it (and SQLite recovers it) while the caller goes on, e.g. loading the code that plans
    on it.  The original is hashed later, in the pass that compares it with the copy
    (`copy_database(compare_later=True)`); the copy is waited for before the folder goes."""
    with beside_output(src, dest, force, label) as workdir, ThreadPoolExecutor(max_workers=1) as ahead:
        yield Started(workdir, ahead.submit(copy_database, src, workdir / "work.db", check=Check.NONE,
                                            compare_later=True))
