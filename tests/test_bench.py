"""A small version of `make bench`, only to prove the harness works (figures are not judged here)."""
import json
import shutil
import sqlite3
import subprocess
import sys

import pytest

from toolkit import appmodel as app
from toolkit.bench import REPLAY, REPLAY_BASELINE, failing_insert, replay_by_hand
from toolkit.largefile import large_database


def test_small_bench_writes_the_tables_and_the_verdict(tmp_path):
    out = tmp_path / "BENCH.md"
    result = subprocess.run([sys.executable, "-m", "toolkit", "bench", "--rows", "1500,3000", "--repeat", "1",
                             "--triage-files", "2", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    text = out.read_text()
    for needle in ("## Commands side by side", "baseline: sqlite3 .backup + fix --sql script",
                   "sqlite-utils transform", "## Targets", "## Batch triage", "## Verdict",
                   "Time per row, 1,500 → 3,000 rows",
                   "what `fix` adds to the baseline", "python start-up and the fix's imports",
                   "python alone (no imports)", "python start-up and the standard library fix loads",
                   "## A failing statement replayed", f"| 3,000 | {REPLAY} |", f"| 3,000 | {REPLAY_BASELINE} |"):
        assert needle in text, needle
    assert "| 3,000 | fix |" in text and "peak RSS" in text
    assert "| sqlite-utils | ? |" not in text  # the version is read from the installed package
    # the replay's ratio at each size, with Python's start-up floor beside it below 100,000 rows
    section = text.split("## A failing statement replayed")[1].split("\n\n")[2].splitlines()
    assert [line.split(" | ")[0] for line in section[2:]] == ["| 1,500", "| 3,000"]
    for line in section[2:]:
        _, _, tool, by_hand, ratio, floor, _ = (c.strip() for c in line.split("|"))
        assert float(tool) > 0 and float(by_hand) > 0 and float(ratio) > 0 and float(floor) > 0
    assert "- 3,000 rows: diagnose --sql / the shell by hand = " in text and "not judged below 100,000" in text


@pytest.fixture
def small_app(tmp_path):
    return large_database(tmp_path / "app.db", 1500)


def test_the_benchmarked_insert_is_the_apps_and_breaks_a_reference(small_app):
    statement = failing_insert(small_app)
    assert statement.startswith(f'INSERT INTO "{app.UPSCALES}"') and "?" not in statement
    result = subprocess.run([sys.executable, "-m", "toolkit", "diagnose", str(small_app), "--sql", statement, "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-2000:]
    sim = json.loads(result.stdout)["statement_simulation"]
    assert sim["fails_at"] == "statement" and sim["violations_total"] == 1
    assert [(v["columns"], v["reason"]) for v in sim["violations"]] == [(["project_id"], "missing-row")]


@pytest.mark.skipif(not shutil.which("sqlite3"), reason="the baseline needs the sqlite3 shell")
def test_the_baseline_checks_the_whole_file_after_the_failed_insert_and_leaves_the_original(small_app, tmp_path):
    # an orphan already in the file: only a foreign_key_check that runs after the failed INSERT lists it
    conn = sqlite3.connect(small_app)
    conn.execute(f"DELETE FROM {app.PROFILES} WHERE rowid = 1")
    conn.commit()
    conn.close()
    before = small_app.read_bytes()
    copy, script = tmp_path / "copy.db", tmp_path / "replay.sql"
    cmd = replay_by_hand(small_app, copy, script, failing_insert(small_app), shutil.which("sqlite3"))
    assert cmd[-1].endswith("> /dev/null 2>&1")
    shown = subprocess.run([*cmd[:-1], cmd[-1].removesuffix(" > /dev/null 2>&1")], capture_output=True, text=True)
    assert "FOREIGN KEY constraint failed" in shown.stderr
    assert f"{app.UPSCALES}|" in shown.stdout  # the check's rows: the pre-existing orphans
    assert small_app.read_bytes() == before and copy.exists()
    with sqlite3.connect(copy) as check:  # rolled back: the copy holds no new upscale
        assert check.execute(f"SELECT count(*) FROM {app.UPSCALES} WHERE status = 'pending'").fetchone() == (0,)


def _figures(rows, **seconds):
    from toolkit import bench

    labels = {"fix": "fix", "shell": bench.SHELL_FAST, "rebuild": bench.SHELL_REBUILD, "cp": bench.CP,
              "wal": bench.FIX_WAL, "shell_wal": bench.SHELL_WAL, "su": "sqlite-utils transform (copy + transform)",
              "startup": bench.STARTUP, "stdlib": bench.STDLIB, "bare": bench.BARE}
    return [bench.Measurement(labels[k], rows, (v,), 30 * 1024) for k, v in seconds.items()]


@pytest.mark.parametrize("fix_100k, fix_10k, met_100k, met_10k", [(0.40, 0.25, True, True),
                                                                    (0.45, 0.30, False, False)])
def test_the_repair_targets_are_judged_on_the_figures(fix_100k, fix_10k, met_100k, met_10k):
    from toolkit.bench import repair_targets

    common = {"shell": 0.5, "cp": 0.04, "wal": 0.7, "shell_wal": 0.45, "su": 2.0, "bare": 0.02}
    sizes = {10_000: (_figures(10_000, fix=fix_10k, rebuild=0.15, startup=0.17, stdlib=0.06, **common), 0.0),
             100_000: (_figures(100_000, fix=fix_100k, rebuild=1.2, startup=0.18, stdlib=0.06, **common), 0.0)}
    text = "\n".join(repair_targets(sizes))
    verdict = "met" if met_100k else "NOT met"
    assert f"- 100,000 rows: fix within 0.35× of the 12-step by hand: **{verdict}** ({fix_100k / 1.2:.2f})." in text
    assert "- 100,000 rows: fix within 1.0× of the shell by hand: **met**" in text
    small = next(line for line in text.splitlines() if line.startswith("- 10,000 rows"))
    assert small.startswith(f"- 10,000 rows: fix within 0.1 s of Python's start-up with the code it runs: "
                            f"**{'met' if met_10k else 'NOT met'}** ({fix_10k - 0.17:.2f} s).")
    assert f"Above bare python: {fix_10k - 0.02:.2f} s, of which 0.04 s is loading the standard library" in small
    assert "12-step by hand" not in small  # ratios are not judged below 100,000 rows


def test_commands_measured_side_by_side_run_in_turn(tmp_path):
    from toolkit.bench import measure_rounds

    order = tmp_path / "order"
    entries = [(name, ["sh", "-c", f"echo {name} >> {order}"], None) for name in ("a", "b", "c")]
    measured = measure_rounds(entries, 10, repeat=3, rounds=7)
    assert order.read_text().split() == ["a", "b", "c"] * 3
    assert [m.label for m in measured] == ["a", "b", "c"]
    assert all(len(m.seconds) == 3 and m.returncodes == (0, 0, 0) and m.rounds == 7 for m in measured)


def test_a_ratio_side_by_side_is_taken_round_by_round():
    from toolkit.bench import Measurement, _above, _met, _ratio, _spread

    fix, rebuild = Measurement("fix", 1, (0.5, 0.6, 0.4), rounds=1), Measurement("12", 1, (1.0, 2.0, 1.5), rounds=1)
    # the rounds' ratios are 0.50, 0.30 and 0.27: their median, not the medians' 0.5 / 1.5
    assert _ratio(fix, rebuild) == pytest.approx(0.3)
    assert _above(rebuild, fix) == pytest.approx(1.1)
    assert _met("fix within 0.35×", _ratio(fix, rebuild), 0.35, spread=_spread(fix, rebuild)) == \
        "- fix within 0.35×: **met** (0.30; 3 rounds, 0.27 to 0.50)."
    alone = Measurement("12", 1, (1.0, 2.0, 1.5))  # measured on its own: the ratio of the medians
    assert _ratio(fix, alone) == pytest.approx(0.5 / 1.5)
    assert _spread(fix, alone) == "" and _above(alone, fix) == pytest.approx(1.0)
