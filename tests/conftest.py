"""Shared fixtures: the committed samples, copied to a private folder per test."""
from __future__ import annotations

import json
import shutil
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
