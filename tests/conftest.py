"""Shared fixtures: the committed samples, copied to a private folder per test."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolkit.safe_access import COPIED_SIDECARS
from toolkit.samples import SAMPLES_DIR, SCENARIOS, Scenario

REPO = Path(__file__).resolve().parent.parent
GOOD = [s for s in SCENARIOS if s.error is None]
BAD = [s for s in SCENARIOS if s.error is not None]
APP_FILES = [s for s in GOOD if s.state != "no-upscales-table"]


def copy_sample(name: str, dest_dir: Path) -> Path:
    """Copy a committed sample (with its sidecars) so a test may do anything to it."""
    dest = dest_dir / name
    for suffix in ("", *COPIED_SIDECARS):
        src = SAMPLES_DIR / f"{name}{suffix}"
        if src.exists():
            shutil.copyfile(src, f"{dest}{suffix}")
    return dest


def make_db(path: str | Path, script: str) -> Path:
    """A database file at `path` built by running `script` (a test's own schema and rows)."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(script)
    finally:
        conn.close()
    return Path(path)


@pytest.fixture
def sample(tmp_path):
    return lambda name: copy_sample(name, tmp_path)


@pytest.fixture(scope="session")
def manifest() -> dict[str, dict]:
    rows = json.loads((SAMPLES_DIR / "manifest.json").read_text())
    return {r["filename"]: r for r in rows}


def ids(scenario: Scenario) -> str:
    return scenario.filename


# ---- the figures of the README's "Guarantees" section ----------------------------------
GUARANTEE_KEYS = ("bad_inputs_tried", "mutated_files_tried", "faults_injected", "originals_changed",
                  "outputs_half_written", "hostile_runs", "hostile_runs_failed", "hostile_max_seconds",
                  "hostile_max_mb")
#: keys whose workers' values are combined by taking the largest, not the sum
GUARANTEE_MAXIMA = ("hostile_max_seconds", "hostile_max_mb")


# ---- where the suite writes: never into the checkout ----------------------------------------
#: Screenshots, guarantee figures and hostile-run records go to this folder; unset, each session
#: makes a fresh one in the temporary folder (named in the test summary).
OUTPUT_VARIABLE = "TOOLKIT_TEST_OUT"


def output_folder() -> Path:
    """This session's output folder (set up by pytest_configure, inherited by xdist's workers)."""
    return Path(os.environ[OUTPUT_VARIABLE])


def hostile_runs() -> Path:
    """One JSON record per run of tests/test_hostile_files.py (case, command, figures, failed checks)."""
    return output_folder() / "hostile" / "runs"


def pytest_configure(config):
    if not _is_worker(config) and not os.environ.get(OUTPUT_VARIABLE):
        os.environ[OUTPUT_VARIABLE] = tempfile.mkdtemp(prefix="fk-toolkit-tests-")
    output_folder().mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def guarantees(request):
    """Counters the robustness tests add to; each worker writes its share to OUTPUT/guarantees/."""
    counts = dict.fromkeys(GUARANTEE_KEYS, 0)
    yield counts
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    folder = output_folder() / "guarantees"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{worker}.json").write_text(json.dumps(counts))


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


# ---- the suite leaves the checkout as it found it -------------------------------------------
#: what running Python and pytest leaves by design (all ignored by git): not outputs of the tests
SCRATCH = (".venv/", ".pytest_cache/", ".hypothesis/", ".mypy_cache/", ".ruff_cache/")


#: set (to anything) to rewrite the golden files under tests/golden/ from the current output
REGENERATE_GOLDEN = "TOOLKIT_REGENERATE_GOLDEN"


def checkout_state() -> dict[str, tuple[str, int, int]] | None:
    """Every path git reports as changed, untracked or ignored, with its size and modification
    time (so a file that was already changed and is written again counts); None outside git."""
    try:
        listed = subprocess.run(["git", "status", "--porcelain", "-z", "--ignored", "--untracked-files=all"],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listed.returncode != 0:
        return None
    state = {}
    for entry in listed.stdout.split("\0"):
        status, path = entry[:2], entry[3:]
        asked = os.environ.get(REGENERATE_GOLDEN) and path.startswith("tests/golden/")
        if not path or asked or path.startswith(SCRATCH) or "__pycache__/" in path or ".egg-info/" in path:
            continue
        try:
            info = (REPO / path).lstat()
            state[path] = (status, info.st_size, info.st_mtime_ns)
        except OSError:
            state[path] = (status, -1, -1)
    return state


def pytest_sessionstart(session):
    session.config.started_at = __import__("time").time()
    if not _is_worker(session.config):
        session.config.checkout_before = checkout_state()
        for old in [*(output_folder() / "guarantees").glob("*.json"), *hostile_runs().glob("*.json")]:
            old.unlink()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "checkout_before", None)
    after = checkout_state() if before is not None else None
    if after is None or after == before:
        return
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("!", "the tests changed the checkout", red=True)
        more = f" and {len(changed) - 20} more" if len(changed) > 20 else ""
        reporter.write_line(f"written, changed or removed by the tests (write to ${OUTPUT_VARIABLE} or tmp_path "
                            f"instead): {', '.join(changed[:20])}{more}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _figure(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def pytest_terminal_summary(terminalreporter, config):
    if _is_worker(config):
        return
    shots = [p for p in (output_folder() / "screenshots").glob("*.png")
             if p.stat().st_mtime >= getattr(config, "started_at", 0)]
    if shots:
        terminalreporter.write_sep("-", "browser screenshots")
        terminalreporter.write_line(f"{len(shots)} screenshots of each step in {output_folder() / 'screenshots'}")
    totals = dict.fromkeys(GUARANTEE_KEYS, 0)
    for part in (output_folder() / "guarantees").glob("*.json"):
        for key, value in json.loads(part.read_text()).items():
            combine = max if key in GUARANTEE_MAXIMA else sum
            totals[key] = combine((totals.get(key, 0), value))
    if any(totals.values()):
        terminalreporter.write_sep("-", "guarantees")
        terminalreporter.write_line(", ".join(f"{k.replace('_', ' ')}: {_figure(v)}" for k, v in totals.items()))
        (output_folder() / "guarantees.json").write_text(json.dumps(totals, indent=2))
        terminalreporter.write_line(f"(also in {output_folder() / 'guarantees.json'})")


# ---- a small real file system, for a full or read-only disk (exit 75) ----------------
def _mount(folder: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; exit 75 on a full disk is tested where the tests run as root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")


@pytest.fixture
def small_disk() -> Iterator[Callable[..., Path]]:
    """mount(size, read_only=False) -> a folder on a fresh tmpfs of `size`; unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: str, *, read_only: bool = False) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="small-disk-"))
        mounted.append(folder)
        _mount(folder, size)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        return folder

    try:
        yield mount
    finally:
        for folder in mounted:
            subprocess.run(["umount", str(folder)], capture_output=True)
            shutil.rmtree(folder, ignore_errors=True)
