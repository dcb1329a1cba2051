"""Every bad input through every command: exit 2, one sentence naming the file, no traceback,
nothing written, the input unchanged."""
import os
import subprocess
import sys

import pytest

from badinputs import CORPUS, make_bad, unprivileged, write_lock_held
from toolkit.nbrun import NOTEBOOKS_DIR, error_outputs, execute
from toolkit.safe_access import fingerprint

COMMANDS = {
    "inspect": lambda db, out: ["inspect", db],
    "diagnose": lambda db, out: ["diagnose", db, "--json"],
    "fix": lambda db, out: ["fix", db, "--out", out / "fixed.db"],
    "report": lambda db, out: ["report", db, "--out", out / "report.html"],
    "diagram": lambda db, out: ["diagram", db, "--out", out / "references.svg"],
    "triage": lambda db, out: ["triage", db],
}


def run_cli(args, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True)


def check_refused(result, path, out_dir, before, guarantees):
    guarantees["bad_inputs_tried"] += 1
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], result.stderr
    leftovers = list(out_dir.iterdir())
    guarantees["outputs_half_written"] += len(leftovers)
    assert leftovers == []
    after = fingerprint(path) if path.is_file() else None
    guarantees["originals_changed"] += int(after != before)
    assert after == before


#: What triage passes over as "not a database" (a row of its own, a note, exit 0) instead of refusing.
NOT_A_DATABASE = ("EmptyFileError", "NotADatabaseError", "EncryptedDatabaseError")


def check_passed_over(result, path, out_dir, before, guarantees):
    guarantees["bad_inputs_tried"] += 1
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"note: {path}"), result.stderr  # the folder's: its text file
    assert "not-a-database" in result.stdout
    assert list(out_dir.iterdir()) == []
    assert (fingerprint(path) if path.is_file() else None) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_input_through_every_command(name, command, tmp_path, guarantees):
    path = make_bad(name, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    before = fingerprint(path) if path.is_file() else None
    passed_over = CORPUS[name][1] in NOT_A_DATABASE or name == "directory"  # triage lists a folder's files
    check = check_passed_over if command == "triage" and passed_over else check_refused
    check(run_cli(COMMANDS[command](path, out)), path, out, before, guarantees)


def test_locked_file_through_every_command(sample, tmp_path, guarantees):
    path = sample("v26_seed_failure.db")
    with write_lock_held(path, begin="EXCLUSIVE") as pid:
        before = fingerprint(path)
        for command, args in COMMANDS.items():
            out = tmp_path / f"out-{command}"
            out.mkdir()
            result = run_cli(args(path, out))
            check_refused(result, path, out, before, guarantees)
            assert f"locked by another program (process {pid})" in result.stderr


def test_unreadable_file_through_every_command(sample, tmp_path, guarantees):
    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    for command, args in COMMANDS.items():
        out = tmp_path / f"out-{command}"
        out.mkdir()
        os.chmod(path, 0)
        result = run_cli(args(path, out), unprivileged())
        os.chmod(path, 0o644)
        check_refused(result, path, out, before, guarantees)
        assert "permission denied" in result.stderr


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_input_in_notebook_04_gives_a_message_cell(name, tmp_path, guarantees):
    path = make_bad(name, tmp_path)
    before = fingerprint(path) if path.is_file() else None
    nb = execute(NOTEBOOKS_DIR / "04_triage_customer_file.ipynb", parameters={"db_path": str(path)})
    guarantees["bad_inputs_tried"] += 1
    assert error_outputs(nb) == []
    summary = next(o for c in nb.cells if "triage_case(" in c.source for o in c.outputs)
    assert "Cannot triage" in summary["data"]["text/markdown"]
    assert (fingerprint(path) if path.is_file() else None) == before
