"""Sample databases: one small, deterministic file per scenario of the app model.

`build_samples(out)` writes every file plus the manifest (`README.md`, `manifest.json`);
the copies committed in `sample_dbs/` are exactly what it builds (a test checks).  Each
scenario carries what the diagnosis must find in it, so the manifest and the tests share
one source.
"""
from __future__ import annotations

import contextlib
import json
import random
import shutil
import sqlite3
import struct
import tempfile
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any

from . import appmodel as app
from . import errors
from .bundled import CHECKOUT, IN_CHECKOUT, cache_folder
from .safe_access import SIDECAR_SUFFIXES
from .sqlnames import quote

HEADLINE = "v26_seed_failure.db"
#: The committed samples of a checkout (the tests use these; commands call `samples_dir()`).
SAMPLES_DIR = CHECKOUT / "sample_dbs"
EPOCH = datetime(2025, 3, 1, 9, 0, 0)
WORDS = [
    "sunset over a neon city", "drone shot", "a red fox in fresh snow", "slow motion", "ocean waves at golden hour",
    "cinematic", "a robot barista pouring latte art", "timelapse of clouds over mountains", "handheld",
    "vintage film grain", "a paper boat in the rain", "macro lens",
]


def _ts(minutes: float) -> str:
    return (EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --------------------------------------------------------------------------- data
#: One row: column name -> the value stored.
Row = dict[str, Any]


@dataclass(frozen=True)
class Dataset:
    profiles: list[Row] = field(default_factory=list)
    projects: list[Row] = field(default_factory=list)
    generations: list[Row] = field(default_factory=list)
    upscales: list[Row] = field(default_factory=list)


def make_dataset(rng: random.Random, *, profiles: int = 6, projects: int = 24,
                 generations: int = 360, upscales: int = 240, start: float = 0.0) -> Dataset:
    """Realistic rows: text UUID ids, each generation in a project of its own profile."""
    data = Dataset()
    for i in range(profiles):
        data.profiles.append({"id": _uuid(rng), "name": f"Creator {i + 1}",
                              "email": f"creator{i + 1}@example.com", "created_at": _ts(start + i),
                              "updated_at": None})
    for i in range(projects):
        owner = data.profiles[i % profiles]
        data.projects.append({"id": _uuid(rng), "profile_id": owner["id"], "name": f"Project {i + 1}",
                              "description": rng.choice(WORDS), "created_at": _ts(start + 60 + i * 7),
                              "updated_at": None})
    minute = start + 600.0
    for i in range(generations):
        project = rng.choice(data.projects)
        minute += rng.uniform(5, 90)
        data.generations.append({
            "id": _uuid(rng), "profile_id": project["profile_id"], "project_id": project["id"],
            "prompt": ", ".join(rng.sample(WORDS, 3)), "status": rng.choice(["completed"] * 8 + ["failed"]),
            "model": rng.choice(["veo-3.0-generate", "veo-3.0-fast"]),
            "video_path": f"videos/{i:05d}.mp4", "created_at": _ts(minute), "updated_at": _ts(minute + 2)})
    for gen in rng.sample(data.generations[:-1], min(upscales, len(data.generations) - 1)):
        created = (datetime.strptime(gen["created_at"], "%Y-%m-%dT%H:%M:%S.000Z")
                   + timedelta(minutes=rng.uniform(1, 600)))
        status = rng.choice(["completed"] * 6 + ["failed", "processing"])
        data.upscales.append({
            "id": _uuid(rng), "source_generation_id": gen["id"], "profile_id": gen["profile_id"],
            "project_id": gen["project_id"], "status": status, "resolution": rng.choice(["1080p", "4k"]),
            "result_video_path": f"upscales/{gen['video_path'][7:]}" if status == "completed" else None,
            "result_file_size": rng.randrange(20_000_000, 400_000_000) if status == "completed" else None,
            "error_message": "upscaler timed out" if status == "failed" else None,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "updated_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "completed_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z") if status == "completed" else None})
    data.upscales.sort(key=lambda u: u["created_at"])
    return data


def insert_rows(conn: sqlite3.Connection, table: str, rows: list[Row]) -> None:
    # Not sqlite-utils' insert_all: its 3.x releases commit the caller's open transaction (`with conn:`),
    # and a sample loaded in one transaction is what keeps the committed files byte-identical.
    if not rows:
        return
    columns = list(rows[0])
    sql = (f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    conn.executemany(sql, [tuple(r[c] for c in columns) for r in rows])


def load_dataset(conn: sqlite3.Connection, data: Dataset) -> None:
    conn.execute("BEGIN")
    insert_rows(conn, app.PROFILES, data.profiles)
    insert_rows(conn, app.PROJECTS, data.projects)
    insert_rows(conn, app.GENERATIONS, data.generations)
    insert_rows(conn, app.UPSCALES, data.upscales)
    conn.execute("COMMIT")


# --------------------------------------------------------------------------- scenario steps
def app_database(path: Path, *, version: int, record: str = "migrations", seed: int,
                 rows: bool = True, skip: tuple[int, ...] = (), load_at: int | None = None,
                 journal_mode: str = "delete") -> sqlite3.Connection:
    """An app database at `version` with a deterministic dataset loaded at `load_at`."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    load_at = min(version, 27) if load_at is None else load_at
    app.migrate(conn, load_at, record=record, skip=skip)
    if rows:
        load_dataset(conn, make_dataset(random.Random(seed)))
    app.migrate(conn, version, record=record, skip=skip, from_version=load_at)
    return conn


def _newest(conn: sqlite3.Connection) -> Row:
    """The newest generation of a sample being built (every builder writes generations first)."""
    row = app.newest_generation(conn)
    assert row is not None
    return row


def delete_parent_of_newest(conn: sqlite3.Connection, parent_table: str, column: str) -> str:
    """The user deletes a project/profile in the app (foreign keys on: its upscales cascade)."""
    value: str = _newest(conn)[column]
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"DELETE FROM {quote(parent_table)} WHERE id = ?", (value,))
    return value


def orphan_upscales(conn: sqlite3.Connection, count: int = 4) -> None:
    """A cleanup tool deleted generations while foreign keys were off: their upscales stay."""
    conn.execute("PRAGMA foreign_keys = OFF")
    ids = [r[0] for r in conn.execute(
        f"SELECT DISTINCT source_generation_id FROM {app.UPSCALES} ORDER BY created_at LIMIT ?", (count,))]
    conn.executemany(f"DELETE FROM {app.GENERATIONS} WHERE id = ?", [(i,) for i in ids])
    conn.execute("PRAGMA foreign_keys = ON")


@contextlib.contextmanager
def rebuilding(conn: sqlite3.Connection, table: str) -> Iterator[list[str]]:
    """A table rebuild the way the app's migrations do it: foreign keys off outside one
    transaction; yields the CREATE INDEX statements of `table`, to recreate after a drop."""
    # By hand, not sqlite-utils' transform(): these replay the app's own migrations statement by
    # statement, and transform() drops triggers and writes its own CREATE TABLE text.
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN")
    yield [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
    conn.execute("COMMIT")
    conn.execute("PRAGMA foreign_keys = ON")


def rebuild_parent(conn: sqlite3.Connection, table: str, *, create: str, drop_old: bool = True,
                   old_suffix: str = "_old") -> None:
    """A migration that rebuilt a parent by renaming it first: the rename rewrites every child's
    REFERENCES clause to the *_old name (with foreign keys on since SQLite 3.6.19; since 3.26 with
    them off too, unless PRAGMA legacy_alter_table=ON), which is what SQLite's 12-step procedure
    avoids by creating new_X and renaming it last."""
    old = table + old_suffix
    with rebuilding(conn, table) as indexes:
        conn.execute(f"ALTER TABLE {table} RENAME TO {old}")
        conn.execute(create)
        conn.execute(f"INSERT INTO {table} SELECT * FROM {old}")
        if drop_old:
            conn.execute(f"DROP TABLE {old}")
            for sql in indexes:
                conn.execute(sql)


def replace_table_keep_references(conn: sqlite3.Connection, table: str, create_new: str,
                                  copy_sql: str | None = None) -> None:
    """Rebuild `table` as `<table>_new` then rename it into place (children keep their text)."""
    new = f"{table}_new"
    with rebuilding(conn, table) as indexes:
        conn.execute(create_new.format(name=new))
        if copy_sql:
            conn.execute(copy_sql.format(name=new))
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {new} RENAME TO {table}")
        for sql in indexes:
            conn.execute(sql)


# --------------------------------------------------------------------------- builders
def _fresh_v26(path: Path, seed: int) -> None:
    app_database(path, version=26, seed=seed, rows=False).close()


def _headline(path: Path, seed: int) -> None:
    conn = app_database(path, version=26, seed=seed)
    delete_parent_of_newest(conn, app.PROJECTS, "project_id")
    conn.close()


def _type_mismatch(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    # Projects imported from the old desktop release keep integer ids in an untyped column.
    replace_table_keep_references(
        conn, app.PROJECTS,
        "CREATE TABLE {name} (id PRIMARY KEY, profile_id TEXT, name TEXT NOT NULL, description TEXT, "
        "created_at TEXT NOT NULL, updated_at TEXT)",
        f"INSERT INTO {{name}} SELECT * FROM {app.PROJECTS}")
    target = _newest(conn)["project_id"]
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(f"UPDATE {app.PROJECTS} SET id = 17 WHERE id = ?", (target,))
    for table, column in ((app.GENERATIONS, "project_id"), (app.UPSCALES, "project_id")):
        conn.execute(f"UPDATE {table} SET {column} = '17' WHERE {column} = ?", (target,))
    conn.close()


def _near_miss_space(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    target = _newest(conn)["profile_id"]
    conn.execute("PRAGMA foreign_keys = OFF")
    # An account import padded the id; the generations kept the clean value.
    conn.execute(f"UPDATE {app.PROFILES} SET id = id || ' ' WHERE id = ?", (target,))
    conn.close()


def _near_miss_case(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    target = _newest(conn)["project_id"]
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(f"UPDATE {app.PROJECTS} SET id = upper(id) WHERE id = ?", (target,))
    conn.close()


GENERATIONS_REBUILT = (f"CREATE TABLE {app.GENERATIONS} (id TEXT PRIMARY KEY, profile_id TEXT, project_id TEXT, "
                       "prompt TEXT, status TEXT NOT NULL DEFAULT 'pending', model TEXT, video_path TEXT, "
                       "created_at TEXT NOT NULL, updated_at TEXT, duration_seconds REAL)")
PROFILES_REBUILT = (f"CREATE TABLE {app.PROFILES} (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, "
                    "created_at TEXT NOT NULL, updated_at TEXT)")


def _renamed_parent_dropped(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    rebuild_parent(conn, app.GENERATIONS, create=GENERATIONS_REBUILT, drop_old=True)
    conn.close()


def _renamed_parent_stale(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    rebuild_parent(conn, app.PROFILES, create=PROFILES_REBUILT, drop_old=False)
    # Life goes on in the live table: a new account signs in and generates a video.
    rng = random.Random(seed + 1)
    project = _newest(conn)["project_id"]
    profile = {"id": _uuid(rng), "name": "New Creator", "email": "new@example.com",
               "created_at": _ts(90_000), "updated_at": None}
    insert_rows(conn, app.PROFILES, [profile])
    insert_rows(conn, app.GENERATIONS, [{
        "id": _uuid(rng), "profile_id": profile["id"], "project_id": project, "prompt": "first video",
        "status": "completed", "model": "veo-3.0-generate", "video_path": "videos/new.mp4",
        "created_at": _ts(90_010), "updated_at": _ts(90_012)}])
    conn.close()


def _parent_pk_dropped(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    # CREATE TABLE ... AS SELECT copies columns and rows, but no PRIMARY KEY.
    replace_table_keep_references(conn, app.PROJECTS, f"CREATE TABLE {{name}} AS SELECT * FROM {app.PROJECTS}")
    conn.close()


def _orphans(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    orphan_upscales(conn)
    conn.close()


def _fk_off_in_transaction(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    orphan_upscales(conn)
    delete_parent_of_newest(conn, app.PROJECTS, "project_id")
    # 028 as a runner that wraps each migration in a transaction ran it: the PRAGMA inside
    # BEGIN is a no-op, so the copy into the new table is checked, fails on the orphans,
    # is rolled back ... and the runner records 028 anyway.
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for step in app.migration_028_steps(conn):
            step()
        conn.execute("COMMIT")
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK")
    migration = next(m for m in app.MIGRATIONS if m.version == 28)
    app.record_migration(conn, migration, how="migrations", applied_at="2025-06-01T00:00:00.000Z")
    conn.close()


def _recorded_not_applied(version: int) -> Callable[[Path, int], None]:
    def build(path: Path, seed: int) -> None:
        conn = app_database(path, version=version, seed=seed, skip=tuple(v for v in (28, 30) if v <= version))
        column, parent = ("profile_id", app.PROFILES) if version == 28 else ("project_id", app.PROJECTS)
        delete_parent_of_newest(conn, parent, column)
        conn.close()
    return build


def _half_way(path: Path, seed: int) -> None:
    conn = app_database(path, version=27, seed=seed)
    delete_parent_of_newest(conn, app.PROJECTS, "project_id")
    # 028 ran outside a transaction and the app was killed after the copy.
    conn.execute("PRAGMA foreign_keys = OFF")
    for step in app.migration_028_steps(conn)[:2]:
        step()
    conn.close()


def _at_version(version: int, *, record: str = "migrations") -> Callable[[Path, int], None]:
    def build(path: Path, seed: int) -> None:
        conn = app_database(path, version=version, seed=seed, record=record)
        delete_parent_of_newest(conn, app.PROJECTS, "project_id")
        conn.close()
    return build


def _wal_pending(path: Path, seed: int) -> None:
    """The app is running: its newest writes (a project deleted, new upscales) are still in
    the -wal. The files are copied while its connection is open, as a customer would."""
    work = path.with_name(path.name + ".building")
    for suffix in ("", *SIDECAR_SUFFIXES):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    conn = app_database(work, version=27, seed=seed, journal_mode="wal")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    rng = random.Random(seed + 1)
    conn.execute("PRAGMA foreign_keys = ON")
    gens = conn.execute(f"SELECT id, profile_id, project_id, created_at FROM {app.GENERATIONS} "
                        "ORDER BY created_at DESC LIMIT 12 OFFSET 1").fetchall()
    insert_rows(conn, app.UPSCALES, [{
        "id": _uuid(rng), "source_generation_id": g[0], "profile_id": g[1], "project_id": g[2],
        "status": "processing", "resolution": "4k", "created_at": _ts(200_000 + i),
        "updated_at": _ts(200_000 + i)} for i, g in enumerate(gens)])
    delete_parent_of_newest(conn, app.PROJECTS, "project_id")
    path.write_bytes(Path(work).read_bytes())
    Path(f"{path}-wal").write_bytes(canonical_wal(Path(f"{work}-wal").read_bytes()))
    conn.close()
    for suffix in ("", *SIDECAR_SUFFIXES):
        Path(f"{work}{suffix}").unlink(missing_ok=True)


def _other_app(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    # Written out rather than sqlite-utils' Table.create: its CREATE TABLE text differs between its
    # releases, and the committed file must be what any supported release builds.
    conn.executescript("""
        CREATE TABLE notebooks (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
        CREATE TABLE notes (id INTEGER PRIMARY KEY, notebook_id INTEGER NOT NULL REFERENCES notebooks(id),
                            body TEXT, created_at TEXT);
        CREATE INDEX idx_notes_notebook ON notes(notebook_id);
    """)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO notebooks VALUES (?, ?)", [(i, f"Notebook {i}") for i in range(1, 6)])
    conn.executemany("INSERT INTO notes VALUES (?, ?, ?, ?)",
                     [(i, rng.randint(1, 5), rng.choice(WORDS), _ts(i)) for i in range(1, 201)])
    conn.execute("COMMIT")
    conn.close()


def _bad_empty(path: Path, seed: int) -> None:
    path.write_bytes(b"")


def _bad_text(path: Path, seed: int) -> None:
    path.write_text("Hi support, attached is my database. The app says FOREIGN KEY constraint failed.\n" * 20)


def _bad_truncated(path: Path, seed: int) -> None:
    full = path.with_name(path.name + ".full")
    _headline(full, seed)
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: 3 * 4096 + 1000])  # cut mid-page, as an interrupted download would


# --------------------------------------------------------------------------- WAL
def canonical_wal(data: bytes, salts: tuple[int, int] = (0x5A170001, 0x5A170002)) -> bytes:
    """Rewrite a WAL's random salts to fixed values and recompute its checksums, so the
    committed -wal is byte-for-byte reproducible (walformat.html, 'checksum algorithm')."""
    magic, version, page_size, ckpt_seq, salt1, salt2 = struct.unpack(">6I", data[:24])
    order = ">" if magic & 1 else "<"

    def checksum(buf: bytes, s1: int, s2: int) -> tuple[int, int]:
        words = struct.unpack(f"{order}{len(buf) // 4}I", buf)
        for i in range(0, len(words), 2):
            s1 = (s1 + words[i] + s2) & 0xFFFFFFFF
            s2 = (s2 + words[i + 1] + s1) & 0xFFFFFFFF
        return s1, s2

    header = struct.pack(">6I", magic, version, page_size, ckpt_seq, *salts)
    s1, s2 = checksum(header, 0, 0)
    out = [header, struct.pack(">2I", s1, s2)]
    frame_size = 24 + page_size
    for offset in range(32, len(data) - frame_size + 1, frame_size):
        pgno, commit, f_salt1, f_salt2 = struct.unpack(">4I", data[offset:offset + 16])
        if (f_salt1, f_salt2) != (salt1, salt2):
            break  # frames left over from before the last reset are not part of the log
        page = data[offset + 24:offset + frame_size]
        frame_head = struct.pack(">2I", pgno, commit)
        s1, s2 = checksum(frame_head, s1, s2)
        s1, s2 = checksum(page, s1, s2)
        out += [frame_head, struct.pack(">4I", *salts, s1, s2), page]
    return b"".join(out)


# --------------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class Scenario:
    filename: str
    title: str
    #: State `diagnose` must report ('strict', 'partially-relaxed', 'fixed', 'no-upscales-table'); None for bad files.
    state: str | None
    recorded_version: int | None = None
    #: Reference columns that make the app's insert fail (empty: the insert succeeds).
    failing: tuple[str, ...] = ()
    #: Per-reference reason for the failing column ('missing-row', 'near-miss', ...).
    reason: str = "ok"
    why: str = ""
    #: Finding codes `diagnose` must report (at least these).
    findings: tuple[str, ...] = ()
    #: For bad files: the toolkit error class the file must raise.
    error: str | None = None
    build: Callable[[Path, int], None] | None = field(default=None, compare=False, repr=False)
    extra_files: tuple[str, ...] = ()

    @property
    def seed(self) -> int:
        return zlib.crc32(self.filename.encode())

    def manifest_row(self) -> dict[str, Any]:
        row = {k: v for k, v in asdict(self).items() if k != "build"}
        row["failing"] = list(self.failing)
        row["findings"] = list(self.findings)
        row["extra_files"] = list(self.extra_files)
        return row


STRICT = ("fk-constraints-present", "fk-columns-not-null")
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("v26_fresh_empty.db", "Fresh install at v26: the strict table, no rows yet", "strict", 26,
             why="No generation exists, so the app has nothing to upscale yet; 030 is still needed.",
             findings=STRICT, build=_fresh_v26),
    Scenario(HEADLINE, "The seed's failure: v26, the newest generation's project was deleted", "strict", 26,
             ("project_id",), "missing-row",
             "The generation and the profile exist, but its project row was deleted; people check the first two.",
             STRICT, build=_headline),
    Scenario("cause_type_mismatch.db",
             "Parent key stored as integer 17 in an untyped column; the child holds text '17'",
             "strict", 27, ("project_id",), "type-mismatch",
             "veo3_projects.id has no declared type (BLOB affinity), so the text '17' never equals the integer 17.",
             STRICT + ("type-affinity-mismatch",), build=_type_mismatch),
    Scenario("cause_near_miss_whitespace.db", "The profile's id has a trailing space", "strict", 27,
             ("profile_id",), "near-miss",
             "profiles.id is 'uuid ' (trailing space); the app passes 'uuid', which looks identical on screen.",
             STRICT + ("orphan-rows",), build=_near_miss_space),
    Scenario("cause_near_miss_case.db", "The project's id was upper-cased by an import", "strict", 27,
             ("project_id",), "near-miss",
             "veo3_projects.id holds the upper-case form of the id; TEXT keys compare case-sensitively.",
             STRICT + ("orphan-rows",), build=_near_miss_case),
    Scenario("cause_renamed_parent_dropped.db",
             "veo3_video_generations was rebuilt via RENAME TO *_old, which was then dropped", "strict", 27,
             ("source_generation_id",), "parent-table-missing",
             "The rename rewrote the REFERENCES clause to veo3_video_generations_old, which no longer exists "
             "(SQLite: no such table).", STRICT + ("dangling-reference",), build=_renamed_parent_dropped),
    Scenario("cause_renamed_parent_stale.db",
             "profiles was rebuilt via RENAME TO profiles_old, which still exists with stale rows", "strict", 27,
             ("profile_id",), "stale-parent-table",
             "The REFERENCES clause now names profiles_old; the new profile lives only in profiles.",
             STRICT + ("stale-parent-table", "leftover-migration-table"), build=_renamed_parent_stale),
    Scenario("cause_parent_pk_dropped.db", "veo3_projects rebuilt with CREATE TABLE AS SELECT lost its PRIMARY KEY",
             "strict", 27, ("project_id",), "parent-key-not-unique",
             "veo3_projects.id is no longer a PRIMARY KEY or UNIQUE, so SQLite raises 'foreign key mismatch'.",
             STRICT + ("parent-key-not-unique",), build=_parent_pk_dropped),
    Scenario("cause_orphan_rows.db", "Generations deleted while foreign keys were off left orphan upscales",
             "strict", 27, (), "ok",
             "The new insert succeeds, but existing upscale rows already violate the constraint "
             "(PRAGMA foreign_key_check reports them).", STRICT + ("orphan-rows",), build=_orphans),
    Scenario("cause_fk_off_in_transaction.db",
             "028 ran inside a transaction: PRAGMA foreign_keys = OFF was ignored, 028 failed and was recorded anyway",
             "strict", 28, ("project_id",), "missing-row",
             "The file says 28 but the table is as 026 left it; the newest generation's project was deleted.",
             STRICT + ("recorded-version-mismatch", "orphan-rows"), build=_fk_off_in_transaction),
    Scenario("028_recorded_not_applied.db", "028 recorded in migrations, but the table is still strict", "strict", 28,
             ("profile_id",), "missing-row",
             "The newest generation's profile was deleted; the recorded 028 never relaxed anything.",
             STRICT + ("recorded-version-mismatch",), build=_recorded_not_applied(28)),
    Scenario("028_half_way_leftover.db", "028 died half way and left veo3_video_upscales_new behind", "strict", 27,
             ("project_id",), "missing-row",
             "The table is still strict and the newest generation's project was deleted; the copy "
             "veo3_video_upscales_new is a leftover.", STRICT + ("leftover-migration-table",), build=_half_way),
    Scenario("028_nullable_fks_kept.db", "028 made the columns nullable but kept the foreign keys",
             "partially-relaxed", 28, ("project_id",), "missing-row",
             "Nullable columns do not help: the project_id value is not NULL and has no row in veo3_projects.",
             ("fk-constraints-present",), build=_at_version(28)),
    Scenario("030_recorded_still_strict.db", "The file claims 030, but the table is still strict", "strict", 30,
             ("project_id",), "missing-row",
             "Migrations 028 and 030 are recorded but the schema is as 026 left it.",
             STRICT + ("recorded-version-mismatch",), build=_recorded_not_applied(30)),
    Scenario("v30_fixed.db",
             "Already fixed by 030 (the newest generation's project is deleted, and it does not matter)",
             "fixed", 30, (), "ok", "No foreign keys remain on the three columns, so the insert succeeds.",
             (), build=_at_version(30)),
    Scenario("user_version_only.db", "Versions kept in PRAGMA user_version, no migrations table", "strict", 27,
             ("project_id",), "missing-row", "The newest generation's project was deleted.",
             STRICT, build=_at_version(27, record="user_version")),
    Scenario("no_version_recorded.db", "Neither a migrations table nor user_version", "strict", None,
             ("project_id",), "missing-row", "The newest generation's project was deleted.",
             STRICT, build=_at_version(27, record="none")),
    Scenario("wal_pending.db", "The app is running: its newest writes are still in wal_pending.db-wal", "strict", 27,
             ("project_id",), "missing-row",
             "Opened without its -wal the file still shows the project; the -wal deletes it and adds 12 upscales.",
             STRICT + ("wal-not-checkpointed",), build=_wal_pending, extra_files=("wal_pending.db-wal",)),
    Scenario("other_app.db", "A SQLite file of some other app (notes)", "no-upscales-table", None,
             why="There is no veo3_video_upscales table: this is not the video app's database.",
             build=_other_app),
    Scenario("bad_empty.db", "Empty file (0 bytes)", None, error="EmptyFileError", build=_bad_empty),
    Scenario("bad_text.db", "A text file named .db", None, error="NotADatabaseError", build=_bad_text),
    Scenario("bad_truncated.db", "The headline file cut off mid-page", None, error="TruncatedDatabaseError",
             build=_bad_truncated),
)


def scenario(filename: str) -> Scenario:
    return next(s for s in SCENARIOS if s.filename == filename)


def manifest_markdown() -> str:
    lines = [
        "# Sample databases",
        "",
        "Built by `python -m toolkit samples --out sample_dbs` (deterministic; `tests/test_samples.py` checks",
        "that the committed files are exactly what it builds). One row per file: the scenario, the state the",
        "diagnosis must find, the reference that makes the app's insert of an upscale record fail, and why.",
        "`manifest.json` holds the same rows for scripts and tests.",
        "",
        "| file | scenario | recorded version | state | failing reference (reason) | why | findings expected |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in SCENARIOS:
        if s.error:
            failing = f"— (bad file: `{s.error}`)"
        elif s.state == "no-upscales-table":
            failing = "— (no upscale table)"
        else:
            failing = ", ".join(f"`{c}` ({s.reason})" for c in s.failing) or "none: the insert succeeds"
        lines.append(
            f"| `{s.filename}` | {s.title} | {s.recorded_version if s.recorded_version is not None else '—'} | "
            f"{s.state or '—'} | {failing} | {s.why or '—'} | {', '.join(f'`{f}`' for f in s.findings) or '—'} |")
    lines += ["", "The app's insert uses the newest generation's id with that generation's profile_id and project_id.",
              ""]
    return "\n".join(lines)


def samples_dir() -> Path:
    """The sample databases: the checkout's committed ones, else (an installed package, which does not
    ship them) built once into the user's cache folder."""
    if IN_CHECKOUT and (SAMPLES_DIR / "manifest.json").is_file():
        return SAMPLES_DIR
    cached = cache_folder() / "sample_dbs"
    if not (cached / "manifest.json").is_file():
        try:
            _build_cache(cached)
        except (OSError, sqlite3.Error) as exc:
            failure = errors.as_environment_failure(exc, cached.parent)
            if failure is None:
                raise
            # the sentence's usual remedy is another --out: here it is another cache folder
            raise errors.environment_failure(cached.parent, failure.problem or errors.EnvironmentProblem.IO,
                                             detail=failure.detail,
                                             other="set XDG_CACHE_HOME to a folder on another disk") from None
    return cached


def _build_cache(cached: Path) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    # built beside and renamed into place: a concurrent or killed build never leaves half a folder
    building = Path(tempfile.mkdtemp(prefix="sample_dbs.building-", dir=cached.parent))
    try:
        build_samples(building)
        building.rename(cached)
    except OSError:
        if not (cached / "manifest.json").is_file():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def build_samples(out: str | Path) -> list[Path]:
    """Build every sample file and the manifest into `out`; return the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for s in SCENARIOS:
        target = out / s.filename
        for suffix in ("", *SIDECAR_SUFFIXES):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        assert s.build is not None  # every scenario has its builder
        s.build(target, s.seed)
        written += [target, *(out / f for f in s.extra_files)]
    (out / "README.md").write_text(manifest_markdown())
    (out / "manifest.json").write_text(json.dumps([s.manifest_row() for s in SCENARIOS], indent=2) + "\n")
    return written + [out / "README.md", out / "manifest.json"]
