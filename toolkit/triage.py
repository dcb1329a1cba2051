"""Batch triage: one row per file, bad files as rows, on every core (or a Dask cluster).

`triage_file` never raises for a bad file: the toolkit's one sentence goes into the row.
Each file is diagnosed on its own safe copy, so files are independent work items and the
runner can hand them to processes on this machine or to a Dask scheduler.
"""
from __future__ import annotations

import csv
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Iterator

from . import errors

SIDECARS = ("-wal", "-shm", "-journal")


@dataclass
class TriageRow:
    file: str
    state: str  # a diagnosis state, or 'bad-file'
    needs_030: bool | None
    failing: str  # the failing reference(s) of the app's insert, comma separated
    reason: str
    top_finding: str
    answer: str
    error: str
    exit_code: int
    seconds: float

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def triage_file(path: str | Path, full_check: bool = False) -> TriageRow:
    """Diagnose one file into a row; a bad file becomes a row with its error."""
    from .diagnosis import diagnose

    started = time.perf_counter()
    try:
        d = diagnose(path, full_check=full_check)
    except errors.ToolkitError as exc:
        return TriageRow(str(path), "bad-file", None, "", type(exc).__name__, "", "", exc.message, exc.exit_code,
                         time.perf_counter() - started)
    failing = [r for r in d.insert_simulation.references if r.reason != "ok"]
    ranked = sorted(d.findings, key=lambda f: {"error": 0, "warning": 1, "info": 2}.get(f.severity, 3))
    # the most telling finding: not the three routine "026 constraints" ones when there is more
    unusual = [f for f in ranked if f.code not in ("fk-constraints-present", "fk-columns-not-null")]
    top = (unusual or ranked)[0].code if ranked else ""
    return TriageRow(str(path), d.state, d.needs_migration_030, ", ".join(r.column for r in failing),
                     ", ".join(r.reason for r in failing), top, d.answer, "", d.exit_code, time.perf_counter() - started)


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and every file under each folder (sidecars belong to their database)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.endswith(SIDECARS)
                            and not any(part.startswith(".") for part in f.relative_to(p).parts))
        else:
            found.append(p)
    return found


def _progress(rows: Iterator[TriageRow], total: int, show: bool) -> Iterator[TriageRow]:
    if not show:
        yield from rows
        return
    from tqdm import tqdm

    yield from tqdm(rows, total=total, unit="file", desc="triage", leave=False)


def triage(paths: Iterable[str | Path], *, jobs: int = 1, progress: bool = False, scheduler: str | None = None,
           full_check: bool = False) -> list[TriageRow]:
    """Triage every file; rows come back in input order."""
    files = [str(p) for p in expand(paths)]
    if scheduler:
        return _triage_dask(files, scheduler, full_check)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files) or 1))
    if jobs == 1:
        return list(_progress((triage_file(f, full_check) for f in files), len(files), progress))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(_progress(pool.map(triage_file, files, [full_check] * len(files)), len(files), progress))


def _triage_dask(files: list[str], scheduler: str, full_check: bool) -> list[TriageRow]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise errors.RefusedError("--scheduler needs Dask: pip install 'dask[distributed]' "
                                  "(without --scheduler, triage runs on this machine's cores).") from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise errors.RefusedError(f"Cannot reach the Dask scheduler at {scheduler} ({exc}); check the address.") from None
    try:
        futures = client.map(triage_file, files, full_check=full_check, pure=False)
        return client.gather(futures)
    finally:
        client.close()


def write_csv(rows: list[TriageRow], out: str | Path) -> Path:
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=TriageRow.columns())
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    os.replace(tmp, out)
    return out
