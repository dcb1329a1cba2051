"""Faults during the fix: killed part way, the disk filling up, a read-only destination.
Each leaves either no output or a complete, proven one; the original never changes."""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from badinputs import unprivileged
from toolkit import appmodel as app
from toolkit import errors
from toolkit.diagnosis import diagnose
from toolkit.migration import apply_030
from toolkit.safe_access import fingerprint
from toolkit.samples import load_dataset, make_dataset


@pytest.fixture(scope="module")
def biggish(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.db"
    conn = sqlite3.connect(path, isolation_level=None)
    app.migrate(conn, 27)
    load_dataset(conn, make_dataset(random.Random(3), profiles=20, projects=200, generations=40_000, upscales=30_000))
    conn.close()
    return path


def fix_cli(src, out, prefix=()):
    return [*prefix, sys.executable, "-m", "toolkit", "fix", str(src), "--out", str(out)]


def test_sigkill_at_random_points_leaves_no_output_or_a_complete_proven_one(biggish, tmp_path, guarantees):
    before = fingerprint(biggish)
    rows = diagnose(biggish).schema.table(app.UPSCALES).row_count
    start = time.perf_counter()
    subprocess.run(fix_cli(biggish, tmp_path / "timing.db"), check=True, capture_output=True)
    full = time.perf_counter() - start
    rng = random.Random(20261124)
    outcomes = {"absent": 0, "complete": 0}
    for i in range(30):
        out = tmp_path / f"fixed{i}.db"
        proc = subprocess.Popen(fix_cli(biggish, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, full * 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        guarantees["faults_injected"] += 1
        if out.exists():
            outcomes["complete"] += 1
            d = diagnose(out)
            complete = d.state == "fixed" and d.schema.table(app.UPSCALES).row_count == rows
            guarantees["outputs_half_written"] += int(not complete)
            assert complete
        else:
            outcomes["absent"] += 1
        assert not os.path.exists(f"{out}-wal") and not os.path.exists(f"{out}-journal")
    changed = fingerprint(biggish) != before
    guarantees["originals_changed"] += int(changed)
    assert not changed
    print(f"\nSIGKILL during fix, 30 runs: {outcomes} (a full run takes {full:.2f} s)")
    assert outcomes["absent"] >= 1  # kills did land part way
    # the next run removes the work folders the killed runs left behind
    apply_030(biggish, tmp_path / "final.db")
    assert not list(tmp_path.glob(".fk-toolkit-fix-*"))


@pytest.mark.parametrize("extra_pages", [0, 5, 50])
def test_disk_full_during_the_rebuild_leaves_nothing(biggish, tmp_path, monkeypatch, extra_pages, guarantees):
    before = fingerprint(biggish)
    monkeypatch.setenv("TOOLKIT_FAULT_EXTRA_PAGES", str(extra_pages))
    out = tmp_path / "fixed.db"
    with pytest.raises(errors.EnvironmentFailureError, match=f"The disk holding {tmp_path} is full") as caught:
        apply_030(biggish, out, rebuild=True)  # the rebuild is what grows the copy
    assert caught.value.exit_code == errors.EXIT_ENVIRONMENT == 75
    guarantees["faults_injected"] += 1
    assert list(tmp_path.iterdir()) == []
    assert fingerprint(biggish) == before


def test_read_only_destination_folder(sample, tmp_path, guarantees):
    src = sample("v26_seed_failure.db")
    before = fingerprint(src)
    folder = tmp_path / "read-only"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        result = subprocess.run(fix_cli(src, folder / "fixed.db", prefix=unprivileged()), capture_output=True,
                                text=True)
    finally:
        os.chmod(folder, 0o755)
    guarantees["faults_injected"] += 1
    assert result.returncode == 75 and f"{folder} cannot be written (permission denied)" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(folder.iterdir()) == [] and fingerprint(src) == before
