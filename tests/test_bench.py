"""A small version of `make bench`, only to prove the harness works (figures are not judged here)."""
import subprocess
import sys


def test_small_bench_writes_the_tables_and_the_verdict(tmp_path):
    out = tmp_path / "BENCH.md"
    result = subprocess.run([sys.executable, "-m", "toolkit", "bench", "--rows", "1500,3000", "--repeat", "1",
                             "--triage-files", "2", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    text = out.read_text()
    for needle in ("## Commands side by side", "baseline: sqlite3 .backup + fix --sql script",
                   "sqlite-utils transform", "## Targets", "## Batch triage", "## Verdict",
                   "Time per row, 1,500 → 3,000 rows",
                   "what `fix` adds to the baseline", "python start-up and the CLI's imports"):
        assert needle in text, needle
    assert "| 3,000 | fix |" in text and "peak RSS" in text
    assert "| sqlite-utils | ? |" not in text  # the version is read from the installed package
