"""Exit 75, failures of the machine rather than of the file, on real small file systems.

Each test mounts a tmpfs of a few pages (root only; skipped elsewhere), runs the real CLI with
--out on it or TMPDIR pointing at it, and checks: exit 75, one sentence on stderr naming the
folder, no traceback, nothing left in the folder, the customer's file unchanged."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from toolkit import errors
from toolkit.safe_access import fingerprint

HEADLINE = "v26_seed_failure.db"


def _run(*args: str, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)


def _assert_environment_failure(result: subprocess.CompletedProcess[str], folder: Path, words: str) -> None:
    assert result.returncode == errors.EXIT_ENVIRONMENT == 75, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(folder) in lines[0] and words in lines[0], lines[0]
    assert lines[0].startswith("error: ") and lines[0].endswith("the original was not modified.")


def _commands(db: Path, folder: Path) -> dict[str, list[str]]:
    return {
        "fix": ["fix", str(db), "--out", str(folder / "fixed.db")],
        "fix-rebuild": ["fix", str(db), "--out", str(folder / "fixed.db"), "--rebuild"],
        "report": ["report", str(db), "--out", str(folder / "report.html")],
        "demo": ["demo", "--db", str(db), "--out", str(folder / "demo")],
        "samples": ["samples", "--out", str(folder / "samples")],
        "diagram": ["diagram", str(db), "--out", str(folder / "references.svg")],
        "triage": ["triage", str(db), "--csv", str(folder / "triage.csv")],
        "notebooks": ["notebooks", "--out", str(folder / "notebooks")],
    }


# 16k: the first copy does not fit; 500k: the first copy fits and the rebuild's second does not (fix's
# simpler procedure, and so demo, need only the one: test_the_fast_path_needs_one_copy_where_the_rebuild_needs_two)
@pytest.mark.parametrize("command, size", [("fix", "16k"), ("fix-rebuild", "500k"), ("report", "16k"), ("demo", "16k"),
                                           ("samples", "16k"), ("diagram", "4k")])
def test_a_full_output_disk_exits_75_and_leaves_nothing(sample, small_disk, command, size):
    if command == "diagram" and shutil.which("dot") is None:
        pytest.skip("diagram needs Graphviz's dot")
    db = sample(HEADLINE)
    before = fingerprint(db)
    folder = small_disk(size)
    result = _run(*_commands(db, folder)[command])
    _assert_environment_failure(result, folder, f"The disk holding {folder} is full")
    assert "choose another --out folder" in result.stderr
    assert list(folder.iterdir()) == []
    assert fingerprint(db) == before


def test_the_fast_path_needs_one_copy_where_the_rebuild_needs_two(sample, small_disk):
    """500k holds one copy of the 352 kB file: SQLite's simpler procedure edits it in place."""
    db = sample(HEADLINE)
    folder = small_disk("500k")
    result = _run(*_commands(db, folder)["fix"])
    assert result.returncode == 0, result.stderr
    assert [p.name for p in folder.iterdir()] == ["fixed.db"]


def test_triage_csv_on_a_full_disk_leaves_no_partial_file(sample, small_disk):
    db = sample(HEADLINE)
    folder = small_disk("64k")
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\1" * 4096):
            pass
    except OSError:
        pass  # the disk is full: the CSV's first block does not fit
    finally:
        os.close(fd)
    result = _run(*_commands(db, folder)["triage"])
    _assert_environment_failure(result, folder, f"The disk holding {folder} is full")
    assert list(folder.iterdir()) == [filler]


@pytest.mark.parametrize("command", ["fix", "report", "demo", "samples", "triage", "notebooks"])
def test_a_read_only_output_folder_exits_75(sample, small_disk, command):
    db = sample(HEADLINE)
    before = fingerprint(db)
    folder = small_disk("1m", read_only=True)
    result = _run(*_commands(db, folder)[command])
    _assert_environment_failure(result, folder, f"{folder} cannot be written (read-only file system)")
    assert list(folder.iterdir()) == [] and fingerprint(db) == before


@pytest.mark.parametrize("command", ["diagnose", "inspect", "report"])
def test_a_full_temp_folder_exits_75_naming_it_and_tmpdir(sample, small_disk, tmp_path, command):
    """The work copy lives in the temp folder: a full one is the machine's disk, and the sentence says
    to set TMPDIR.  (64k: Python's own probe of TMPDIR fits, the copy of a 352 kB file does not.)"""
    db = sample(HEADLINE)
    before = fingerprint(db)
    folder = small_disk("64k")
    out = tmp_path / "report.html"
    args = [command, str(db), *(["--out", str(out)] if command == "report" else [])]
    result = _run(*args, tmpdir=folder)
    _assert_environment_failure(result, folder, f"The disk holding {folder} is full")
    assert "point TMPDIR" in result.stderr
    assert list(folder.iterdir()) == [] and not out.exists()
    assert fingerprint(db) == before


def test_bad_input_still_exits_2_on_a_full_disk(small_disk, tmp_path):
    """A damaged file is the file's problem, whatever the disk: the input is refused before anything is written."""
    bad = tmp_path / "bad.db"
    bad.write_text("not a database")
    folder = small_disk("16k")
    result = _run("fix", str(bad), "--out", str(folder / "fixed.db"))
    assert result.returncode == errors.EXIT_BAD_INPUT and "not a SQLite database" in result.stderr
    assert list(folder.iterdir()) == []


def test_the_message_names_what_to_free_or_change(tmp_path):
    full = errors.from_os_error(OSError(28, "No space left on device"), tmp_path / "gone" / "deeper", need=3 << 20)
    assert full is not None and full.exit_code == 75
    assert full.message.startswith(f"The disk holding {tmp_path} is full (")
    assert "needs about 3.0 MB" in full.message and "choose another --out folder" in full.message
    temp = errors.from_os_error(OSError(28, "No space left on device"), tempfile.gettempdir())
    assert temp is not None and "point TMPDIR" in temp.message
    assert errors.from_os_error(OSError(2, "No such file or directory"), tmp_path) is None
    assert errors.from_os_error(OSError(30, "Read-only file system"), tmp_path) is not None
