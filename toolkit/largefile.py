"""Large app databases for benchmarks: a v26 file with N upscale rows and proportionate
parents, built inside SQLite (set-based INSERT ... SELECT), so a million rows take seconds.

Not committed: `python -m toolkit samples --large N --out DIR` builds one on demand.
"""
from __future__ import annotations

import random
import sqlite3
import uuid
from pathlib import Path

from . import appmodel as app
from .safe_access import SIDECAR_SUFFIXES
from .sqlnames import quote

WORDS = [
    "sunset", "neon", "city", "drone", "fox", "snow", "slow", "motion", "ocean", "waves", "golden", "hour", "cinematic",
    "robot", "barista", "latte", "timelapse", "clouds", "mountains", "handheld", "vintage", "film", "grain", "paper",
    "boat", "rain", "macro", "lens",
]


def large_database(path: str | Path, n: int = 1_000_000, *, seed: int = 26) -> Path:
    """A v26 app database with `n` upscales, 1.25 n generations, n/500 projects and n/5000
    profiles; the newest generation's project deleted (the seed's failure)."""
    path = Path(path)
    for suffix in ("", *SIDECAR_SUFFIXES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    # ids come from a seeded generator, so the same n gives the same file contents
    conn.create_function("uuid4", 0, lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    conn.create_function("word", 1, lambda i: WORDS[i % len(WORDS)], deterministic=True)
    app.migrate(conn, 26)
    conn.execute("PRAGMA journal_mode = OFF")  # a build from scratch: nothing to roll back to
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")  # random UUID keys: keep the b-trees in memory
    # bulk load first, index after: one sort per index instead of a million random inserts
    indexes = conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {quote(name)}")
    generations = n + n // 4
    projects, profiles = max(1, n // 500), max(1, n // 5000)
    seq = "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ? - 1) "
    stamp = "strftime('%Y-%m-%dT%H:%M:%S.000Z', '2023-01-01', '+' || ({}) || ' minutes')"
    conn.execute("BEGIN")
    conn.execute(seq + f"INSERT INTO {app.PROFILES} (id, name, email, created_at) "
                 f"SELECT uuid4(), 'Creator ' || i, 'creator' || i || '@example.com', {stamp.format('i')} FROM seq",
                 (profiles,))
    conn.execute(seq + f"INSERT INTO {app.PROJECTS} (id, profile_id, name, description, created_at) "
                 f"SELECT uuid4(), (SELECT id FROM {app.PROFILES} WHERE rowid = i % ? + 1), 'Project ' || i, "
                 f"word(i) || ' ' || word(i * 7), {stamp.format('i')} FROM seq", (projects, profiles))
    conn.execute(seq + f"INSERT INTO {app.GENERATIONS} (id, profile_id, project_id, prompt, status, model, video_path, "
                 "created_at, updated_at) "
                 f"SELECT uuid4(), p.profile_id, p.id, word(i) || ', ' || word(i * 3) || ', ' || word(i * 5) || ', ' "
                 "|| word(i * 11) || ' shot, cinematic lighting, 8 seconds', "
                 "CASE WHEN i % 9 = 0 THEN 'failed' ELSE 'completed' END, 'veo-3.0-generate', "
                 f"'videos/' || i || '.mp4', {stamp.format('i * 3')}, {stamp.format('i * 3 + 2')} "
                 f"FROM seq JOIN {app.PROJECTS} AS p ON p.rowid = i % ? + 1", (generations, projects))
    conn.execute(f"INSERT INTO {app.UPSCALES} (id, source_generation_id, profile_id, project_id, status, resolution, "
                 "result_video_path, result_file_size, error_message, created_at, updated_at, completed_at) "
                 "SELECT uuid4(), g.id, g.profile_id, g.project_id, "
                 "CASE WHEN g.rowid % 8 = 0 THEN 'failed' ELSE 'completed' END, "
                 "CASE WHEN g.rowid % 3 = 0 THEN '4k' ELSE '1080p' END, "
                 "CASE WHEN g.rowid % 8 = 0 THEN NULL ELSE 'upscales/' || g.rowid || '.mp4' END, "
                 "CASE WHEN g.rowid % 8 = 0 THEN NULL ELSE 20000000 + g.rowid * 37 % 380000000 END, "
                 "CASE WHEN g.rowid % 8 = 0 THEN 'upscaler timed out' END, g.updated_at, g.updated_at, "
                 f"CASE WHEN g.rowid % 8 = 0 THEN NULL ELSE g.updated_at END FROM {app.GENERATIONS} AS g "
                 "WHERE g.rowid <= ? ORDER BY g.rowid", (n,))
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = DELETE")
    newest = app.newest_generation(conn)
    assert newest is not None  # the loop above wrote n generations
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"DELETE FROM {app.PROJECTS} WHERE id = ?", (newest["project_id"],))
    conn.close()
    return path

