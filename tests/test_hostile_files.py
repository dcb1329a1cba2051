"""Every crafted file of tests/hostile through every command, with the same checks (issue 13):
bounded (<= 30 s, <= 500 MB), a clean answer (exit 0-3, no traceback, at most three lines on
stderr), the original and its sidecars byte-identical, nothing outside the work folder touched
(canary files beside the database, in its parent and in the working directory), nothing left
in TMPDIR or beside the output, and for healthy files an answer rather than a refusal.

Each run is a real subprocess (`python -m toolkit ...`) in a fresh working directory with its
own TMPDIR; its peak memory is the child's ru_maxrss from wait4. A run that passes 30 s is
killed at HARD_LIMIT. Each run's figures go to $TOOLKIT_TEST_OUT/hostile/runs/ (one JSON record per run).
"""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from conftest import hostile_runs
from hostile import CANARY_NAME, CORPUS, DB_NAME, Built, make_case
from hostile.build import held_bytes
from hostile.measure import Measured, run_measured
from toolkit.safe_access import fingerprint

MAX_SECONDS = 30
MAX_MB = 500
HARD_LIMIT = MAX_SECONDS + 2  # a run still going then has failed; no need to wait for it
EXIT_CODES = {0, 1, 2, 3}
MAX_STDERR_LINES = 3
SQLITE_SHELL = "/usr/bin/sqlite3"

COMMANDS = {
    "inspect": lambda db, out: ["inspect", db],
    "diagnose": lambda db, out: ["diagnose", db, "--json"],
    "fix": lambda db, out: ["fix", db, "--out", out / "fixed.db"],
    "fix --sql": lambda db, out: ["fix", db, "--sql"],
    "report": lambda db, out: ["report", db, "--out", out / "report.html"],
    "diagram": lambda db, out: ["diagram", db, "--out", out / "refs.svg"],
    "triage": lambda db, out: ["triage", db],
    "repair orphans": lambda db, out: ["repair", "orphans", db, "--action", "delete", "--out", out / "repaired.db"],
    "repair orphans --sql": lambda db, out: ["repair", "orphans", db, "--sql"],
}
#: the one file a command may leave in OUT
OUTPUT_FILE = {"fix": "fixed.db", "report": "report.html", "diagram": "refs.svg", "repair orphans": "repaired.db"}
#: commands that must answer (exit 0 or 1) on a healthy file
ANSWERING = ("inspect", "diagnose")
#: tables the fix must hand back row for row (it rebuilds only the upscale table)
UNTOUCHED_TABLES = ("profiles", "veo3_projects", "veo3_video_generations")


def _params():
    for name, case in CORPUS.items():
        for command in COMMANDS:
            marks = [pytest.mark.slow] if case.slow else []
            yield pytest.param(name, command, marks=marks, id=f"{name}-{command}")


# --------------------------------------------------------------------------- the scene of one run
class Scene:
    """One run's folders: the database's folder inside a parent, a fresh working directory, a
    private TMPDIR and OUT, with canary files (random bytes) where nothing may touch them."""

    def __init__(self, root: Path):
        self.root = root
        self.customer, self.cwd, self.tmp, self.out, self.logs = (
            root / n for n in ("customer", "cwd", "tmp", "out", "logs"))
        for folder in (root, self.customer, self.cwd, self.tmp, self.out, self.logs):
            folder.mkdir()
        self.canaries: dict[Path, bytes] = {}

    def place_canaries(self) -> None:
        for folder in (self.root, self.customer, self.cwd):
            path = folder / CANARY_NAME
            path.write_bytes(os.urandom(64))
            self.canaries[path] = path.read_bytes()

    def listing(self) -> dict[str, list[str]]:
        """What is in every folder outside TMPDIR and OUT (the checked ones)."""
        return {str(f): sorted(p.name for p in f.iterdir()) for f in (self.root, self.customer, self.cwd)}


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """Each portable case built once per worker; runs copy it (path-bound cases build in place)."""
    built: dict[str, Path] = {}

    def folder_of(name: str) -> Path:
        if name not in built:
            folder = tmp_path_factory.mktemp("hostile-template")
            make_case(name, folder)
            built[name] = folder
        return built[name]
    return folder_of


def build_into(scene: Scene, name: str, templates) -> Built:
    case = CORPUS[name]
    if not case.portable:
        return make_case(name, scene.customer)
    for path in templates(name).iterdir():
        shutil.copyfile(path, scene.customer / path.name)  # a sparse 1 GiB file copies in a second
    return Built(case, scene.customer / DB_NAME)


def child_env(scene: Scene) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TOOLKIT_TIME_LIMIT"}  # the default must hold
    env["TMPDIR"] = str(scene.tmp)
    return env


# --------------------------------------------------------------------------- checks
def checks(built: Built, command: str, scene: Scene, run: Measured, before, listing) -> list[str]:
    """Every check of the issue's quality bar; the names of those that failed, with figures."""
    return (bounded_and_clean(run) + nothing_touched(built, command, scene, run, before, listing)
            + answer_problems(built, command, scene, run))


def bounded_and_clean(run: Measured) -> list[str]:
    failed = []
    if run.wall > MAX_SECONDS or run.killed:
        failed.append(f"wall {run.wall:.1f} s" + (" (killed)" if run.killed else ""))
    if run.peak_mb > MAX_MB:
        failed.append(f"peak {run.peak_mb:.0f} MB")
    if run.returncode not in EXIT_CODES:
        failed.append(f"exit {run.returncode}")
    if "Traceback" in run.output:
        failed.append("traceback")
    lines = len(run.stderr.strip().splitlines())
    if lines > MAX_STDERR_LINES:
        failed.append(f"stderr {lines} lines")
    return failed


def nothing_touched(built: Built, command: str, scene: Scene, run: Measured, before, listing) -> list[str]:
    failed = []
    if fingerprint(built.db) != before:
        failed.append("original or sidecar changed")
    if any(not p.is_file() or p.read_bytes() != data for p, data in scene.canaries.items()):
        failed.append("canary deleted or changed")
    if scene.listing() != listing:
        failed.append("files created or removed outside OUT")
    # what a run we killed leaves in TMPDIR and OUT is for the next run to clean (README: "a later
    # run removes the dead run's folder"); the kill is already a failure
    if not run.killed and list(scene.tmp.iterdir()):
        failed.append("TMPDIR not empty")
    left = sorted(p.name for p in scene.out.iterdir())
    if not run.killed and left not in ([], [OUTPUT_FILE.get(command)]):
        failed.append(f"OUT holds {left}")
    return failed


def answer_problems(built: Built, command: str, scene: Scene, run: Measured) -> list[str]:
    case, failed = built.case, []
    if case.healthy and command in ANSWERING and run.returncode not in (0, 1):
        failed.append(f"healthy file refused (exit {run.returncode})")
    if command == "diagnose" and case.expect_in_output and case.expect_in_output not in run.output:
        failed.append(f"diagnosis lacks {case.expect_in_output!r}")
    if case.absent_from_output and case.absent_from_output in run.output + report_text(scene, command):
        failed.append(f"output says {case.absent_from_output!r}")
    if command == "fix" and run.returncode == 0:
        failed += fixed_copy_problems(built.db, scene.out / "fixed.db", run.output)
    if command in ("fix --sql", "repair orphans --sql") and run.returncode == 0 and built.shell_canary is not None:
        failed += script_problems(built, run.stdout, scene)
    return failed


def report_text(scene: Scene, command: str) -> str:
    report = scene.out / "report.html"
    return report.read_text(errors="replace") if command == "report" and report.is_file() else ""


def fixed_copy_problems(original: Path, fixed: Path, output: str) -> list[str]:
    """`fix` said it succeeded: its proof passed, and the tables it does not rebuild are intact."""
    problems = ["exit 0 with a [FAILED] proof line"] if "[FAILED]" in output else []
    if not fixed.is_file() or not original.is_file():
        return problems + ["exit 0 without a fixed copy"]
    if fixed.stat().st_size > 3 * held_bytes(original) + (1 << 20):
        problems.append(f"fixed copy of {fixed.stat().st_size >> 20} MB from {held_bytes(original) >> 10} KB of pages")
    before, after = (_open_read_only(p) for p in (original, fixed))
    try:
        for table in UNTOUCHED_TABLES:
            if _rows_digest(before, table) != _rows_digest(after, table):
                problems.append(f"fixed copy changed {table}")
        count = "SELECT count(*) FROM veo3_video_upscales"
        if before.execute(count).fetchone() != after.execute(count).fetchone():
            problems.append("fixed copy lost upscale rows")
    except sqlite3.Error as exc:
        problems.append(f"fixed copy unreadable ({exc})")
    finally:
        before.close()
        after.close()
    return problems


def _open_read_only(path: Path) -> sqlite3.Connection:
    # immutable: no journal is looked for, nothing is written; raw bytes: no decoding surprises
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    conn.text_factory = bytes
    return conn


def _rows_digest(conn: sqlite3.Connection, table: str) -> str | None:
    if not conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)).fetchone():
        return None
    digest = hashlib.sha256()
    for row in conn.execute(f'SELECT rowid, * FROM "{table}" ORDER BY rowid'):
        digest.update(repr(row).encode())
    return digest.hexdigest()


def script_problems(built: Built, script: str, scene: Scene) -> list[str]:
    """Pipe the printed script into the sqlite3 shell on a scratch copy, as the README says a
    customer may: nothing the file carries may run."""
    scratch = scene.root / "scratch"
    scratch.mkdir()
    copy = scratch / DB_NAME
    shutil.copyfile(built.db, copy)
    shell = run_measured([SQLITE_SHELL, str(copy)], cwd=scratch, stdin=script.encode(), hard_limit=MAX_SECONDS,
                         logs=scene.root / "shell-logs")
    problems = []
    if built.shell_canary.exists():
        problems.append("script piped into sqlite3 ran the file's command")
    if "payload.so" in shell.output:
        problems.append("script piped into sqlite3 tried to load the file's library")
    return problems


def record(name: str, command: str, run: Measured, failed: list[str], guarantees) -> None:
    guarantees["hostile_runs"] += 1
    guarantees["hostile_runs_failed"] += bool(failed)
    guarantees["hostile_max_seconds"] = max(guarantees["hostile_max_seconds"], round(run.wall, 1))
    guarantees["hostile_max_mb"] = max(guarantees["hostile_max_mb"], round(run.peak_mb))
    guarantees["originals_changed"] += "original or sidecar changed" in failed
    guarantees["outputs_half_written"] += any(f.startswith("OUT holds") for f in failed)
    runs = hostile_runs()
    runs.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{name}--{command}").strip("-")
    (runs / f"{slug}.json").write_text(json.dumps({
        "case": name, "command": command, "exit": run.returncode, "seconds": round(run.wall, 2),
        "peak_mb": round(run.peak_mb, 1), "killed": run.killed, "failed": failed,
        "stderr": run.stderr[:2000], "stdout_head": run.stdout[:500]}, indent=1))


# --------------------------------------------------------------------------- the runs
@pytest.mark.parametrize("name, command", list(_params()))
def test_hostile_file_through_command(name, command, tmp_path, templates, guarantees):
    scene = Scene(tmp_path / "run")
    try:
        built = build_into(scene, name, templates)
        scene.place_canaries()
        before, listing = fingerprint(built.db), scene.listing()
        args = [sys.executable, "-m", "toolkit", *map(str, COMMANDS[command](built.db, scene.out))]
        run = run_measured(args, cwd=scene.cwd, env=child_env(scene), hard_limit=HARD_LIMIT, logs=scene.logs)
        failed = checks(built, command, scene, run, before, listing)
        record(name, command, run, failed, guarantees)
        first = (run.stderr.strip().splitlines() or [""])[0][:300]
        assert not failed, f"{'; '.join(failed)} | exit {run.returncode} | stderr: {first}"
    finally:
        shutil.rmtree(tmp_path / "run", ignore_errors=True)  # sparse GiBs, grown copies: never kept

