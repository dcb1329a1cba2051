"""Shared fixtures: the committed samples, copied to a private folder per test."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolkit.samples import SAMPLES_DIR, SCENARIOS, Scenario

REPO = Path(__file__).resolve().parent.parent
GOOD = [s for s in SCENARIOS if s.error is None]
BAD = [s for s in SCENARIOS if s.error is not None]
APP_FILES = [s for s in GOOD if s.state != "no-upscales-table"]


def copy_sample(name: str, dest_dir: Path) -> Path:
    """Copy a committed sample (with its sidecars) so a test may do anything to it."""
    dest = dest_dir / name
    for suffix in ("", "-wal", "-journal"):
        src = SAMPLES_DIR / f"{name}{suffix}"
        if src.exists():
            shutil.copyfile(src, f"{dest}{suffix}")
    return dest


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
#: one JSON record per run of tests/test_hostile_files.py (case, command, figures, failed checks)
HOSTILE_RUNS = REPO / "out" / "hostile" / "runs"


@pytest.fixture(scope="session")
def guarantees(request):
    """Counters the robustness tests add to; each worker writes its share to out/guarantees/."""
    counts = dict.fromkeys(GUARANTEE_KEYS, 0)
    yield counts
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    folder = REPO / "out" / "guarantees"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{worker}.json").write_text(json.dumps(counts))


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session):
    session.config.started_at = __import__("time").time()
    if not _is_worker(session.config):
        for old in [*(REPO / "out" / "guarantees").glob("*.json"), *HOSTILE_RUNS.glob("*.json")]:
            old.unlink()


def _figure(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def pytest_terminal_summary(terminalreporter, config):
    if _is_worker(config):
        return
    shots = [p for p in (REPO / "out" / "screenshots").glob("*.png")
             if p.stat().st_mtime >= getattr(config, "started_at", 0)]
    if shots:
        terminalreporter.write_sep("-", "browser screenshots")
        terminalreporter.write_line(f"{len(shots)} screenshots of each step in {REPO / 'out' / 'screenshots'}")
    totals = dict.fromkeys(GUARANTEE_KEYS, 0)
    for part in (REPO / "out" / "guarantees").glob("*.json"):
        for key, value in json.loads(part.read_text()).items():
            combine = max if key in GUARANTEE_MAXIMA else sum
            totals[key] = combine((totals.get(key, 0), value))
    if any(totals.values()):
        terminalreporter.write_sep("-", "guarantees")
        terminalreporter.write_line(", ".join(f"{k.replace('_', ' ')}: {_figure(v)}" for k, v in totals.items()))
        (REPO / "out" / "guarantees.json").write_text(json.dumps(totals, indent=2))


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
