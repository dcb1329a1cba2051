"""The video app's database as we model it (see shared/app-model.md): names, migrations, and
`VIDEO_APP`, the profile the generic engine applies when a file has the upscale table.

This is the one place that knows the video app: only the names here are assumed about a customer's
file; everything else is discovered by introspection.  The migrations are expressed once, as the
app runs them, and are used to build databases at any version (the samples, the tests, the large-file generator).
"""
from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from collections.abc import Callable, Mapping
from typing import Any

from .profile import Profile, Reference, State, VersionClaim
from .schema import MIGRATIONS_TABLE, DatabaseInfo
from .sqlnames import quote

UPSCALES = "veo3_video_upscales"
PROFILES = "profiles"
PROJECTS = "veo3_projects"
GENERATIONS = "veo3_video_generations"
KNOWN_TABLES = (PROFILES, PROJECTS, GENERATIONS, UPSCALES, MIGRATIONS_TABLE)


REFERENCES = (
    Reference("source_generation_id", GENERATIONS, "id"),
    Reference("profile_id", PROFILES, "id"),
    Reference("project_id", PROJECTS, "id"),
)
REFERENCE_COLUMNS = tuple(r.column for r in REFERENCES)

# --------------------------------------------------------------------------- schema SQL
BASE_SCHEMA = f"""
CREATE TABLE {MIGRATIONS_TABLE} (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
);
CREATE TABLE {PROFILES} (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE TABLE {PROJECTS} (
  id TEXT PRIMARY KEY,
  profile_id TEXT,
  name TEXT NOT NULL,
  description TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE TABLE {GENERATIONS} (
  id TEXT PRIMARY KEY,
  profile_id TEXT,
  project_id TEXT,
  prompt TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  model TEXT,
  video_path TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX idx_veo3_video_generations_profile_id ON {GENERATIONS}(profile_id);
CREATE INDEX idx_veo3_video_generations_project_id ON {GENERATIONS}(project_id);
"""

UPSCALE_COLUMNS_026 = """
  id TEXT PRIMARY KEY,
  source_generation_id TEXT {null},
  profile_id TEXT {null},
  project_id TEXT {null},
  status TEXT NOT NULL DEFAULT 'pending',
  resolution TEXT NOT NULL DEFAULT '1080p',
  result_video_path TEXT,
  result_file_size INTEGER,
  error_message TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  completed_at TEXT"""

FOREIGN_KEYS_026 = """,
  FOREIGN KEY (source_generation_id) REFERENCES veo3_video_generations(id) ON DELETE CASCADE,
  FOREIGN KEY (profile_id) REFERENCES profiles(id) ON DELETE CASCADE,
  FOREIGN KEY (project_id) REFERENCES veo3_projects(id) ON DELETE CASCADE"""

UPSCALE_INDEXES = {
    "idx_veo3_video_upscales_source_generation_id": "source_generation_id",
    "idx_veo3_video_upscales_profile_id": "profile_id",
    "idx_veo3_video_upscales_project_id": "project_id",
    "idx_veo3_video_upscales_status": "status",
    "idx_veo3_video_upscales_created_at": "created_at",
}


def upscale_table_sql(name: str = UPSCALES, *, not_null: bool = True, foreign_keys: bool = True) -> str:
    columns = UPSCALE_COLUMNS_026.format(null="NOT NULL" if not_null else "").replace(" ,", ",")
    columns = "\n".join(line.rstrip() for line in columns.splitlines())
    return f"CREATE TABLE {name} ({columns}{FOREIGN_KEYS_026 if foreign_keys else ''}\n)"


def upscale_index_sql(table: str = UPSCALES) -> list[str]:
    return [f"CREATE INDEX {name} ON {table}({column})" for name, column in UPSCALE_INDEXES.items()]


# --------------------------------------------------------------------------- migrations
def _m001(conn: sqlite3.Connection) -> None:
    # executescript() would COMMIT the runner's transaction; our own SQL splits safely on ';'.
    for statement in BASE_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m026(conn: sqlite3.Connection) -> None:
    conn.execute(upscale_table_sql())
    for sql in upscale_index_sql():
        conn.execute(sql)


def _m027(conn: sqlite3.Connection) -> None:
    conn.execute(f"ALTER TABLE {GENERATIONS} ADD COLUMN duration_seconds REAL")


def migration_028_steps(conn: sqlite3.Connection) -> list[Callable[[], object]]:
    """028 as the app ran it: rebuild the upscale table with nullable reference columns,
    but keeping the foreign keys.  Returned as steps so samples can stop it half way."""
    new = f"{UPSCALES}_new"
    return [
        lambda: conn.execute(upscale_table_sql(new, not_null=False)),
        lambda: conn.execute(f"INSERT INTO {new} SELECT * FROM {UPSCALES}"),
        lambda: conn.execute(f"DROP TABLE {UPSCALES}"),
        lambda: conn.execute(f"ALTER TABLE {new} RENAME TO {UPSCALES}"),
        lambda: [conn.execute(sql) for sql in upscale_index_sql()],
    ]


def _m028(conn: sqlite3.Connection) -> None:
    for step in migration_028_steps(conn):
        step()


def _m029(conn: sqlite3.Connection) -> None:
    conn.execute(f"ALTER TABLE {PROFILES} ADD COLUMN avatar_path TEXT")
    conn.execute(f"CREATE INDEX idx_veo3_projects_profile_id ON {PROJECTS}(profile_id)")


def upscales_relaxed(conn: sqlite3.Connection) -> bool:
    """True when no reference column has a foreign key and all are nullable."""
    fks = conn.execute("SELECT \"from\" FROM pragma_foreign_key_list(?)", (UPSCALES,)).fetchall()
    notnull = conn.execute(
        "SELECT name FROM pragma_table_info(?) WHERE \"notnull\"", (UPSCALES,)
    ).fetchall()
    touched = {r[0] for r in fks} | {r[0] for r in notnull}
    return not touched & set(REFERENCE_COLUMNS)


def _m030(conn: sqlite3.Connection) -> None:
    """The seed's migration 030, as the app wrote it: a hard-coded rebuild.

    (The toolkit's own `apply_030` derives the new table from the file instead, so that
    columns and constraints from migrations we have never seen survive.)"""
    if upscales_relaxed(conn):
        return
    new = f"{UPSCALES}_new"
    conn.execute(upscale_table_sql(new, not_null=False, foreign_keys=False))
    conn.execute(f"INSERT INTO {new} SELECT * FROM {UPSCALES}")
    conn.execute(f"DROP TABLE {UPSCALES}")
    conn.execute(f"ALTER TABLE {new} RENAME TO {UPSCALES}")
    for sql in upscale_index_sql():
        conn.execute(sql)


@dataclass(frozen=True)
class Migration:
    """One of the video app's migrations (001-030): its version, its name and what it runs."""

    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS = (
    Migration(1, "001_initial_schema", _m001),
    Migration(26, "026_create_veo3_video_upscales", _m026),
    Migration(27, "027_add_generation_duration", _m027),
    Migration(28, "028_relax_upscale_constraints", _m028),
    Migration(29, "029_profile_avatar_and_project_index", _m029),
    Migration(30, "030_fix_upscale_foreign_key_constraints", _m030),
)
VERSIONS = tuple(m.version for m in MIGRATIONS)


def record_migration(conn: sqlite3.Connection, migration: Migration, *, how: str, applied_at: str) -> None:
    """Record a migration the way a file records versions ('migrations', 'user_version' or 'none')."""
    if how == "migrations":
        conn.execute(
            f"INSERT OR REPLACE INTO {quote(MIGRATIONS_TABLE)}(version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, applied_at),
        )
    elif how == "user_version":
        conn.execute(f"PRAGMA user_version = {int(migration.version)}")


def migrate(
    conn: sqlite3.Connection,
    to_version: int,
    *,
    record: str = "migrations",
    applied_at: str = "2025-01-01T00:00:00.000Z",
    skip: tuple[int, ...] = (),
    from_version: int = 0,
) -> None:
    """Apply the app's migrations in (from_version, to_version], as the app's runner does:
    foreign keys off outside the transaction, one transaction per migration."""
    conn.execute("PRAGMA foreign_keys = OFF")
    for migration in MIGRATIONS:
        if not from_version < migration.version <= to_version:
            continue
        conn.execute("BEGIN")
        if migration.version not in skip:
            migration.apply(conn)
        record_migration(conn, migration, how=record, applied_at=applied_at)
        if record != "migrations" and migration.version == 1:
            conn.execute(f"DROP TABLE {MIGRATIONS_TABLE}")
        conn.execute("COMMIT")
    conn.execute("PRAGMA foreign_keys = ON")


def upscale_insert(values: Mapping[str, Any], columns: list[str]) -> tuple[str, tuple[Any, ...]]:
    """The app's INSERT of a new upscale record, limited to the columns the table has."""
    stamp = "2026-01-01T00:00:00.000Z"
    seed = "|".join(str(values.get(c)) for c in REFERENCE_COLUMNS)
    row = {
        "id": _uuid5("upscale:" + seed),
        "source_generation_id": values.get("source_generation_id"),
        "profile_id": values.get("profile_id"),
        "project_id": values.get("project_id"),
        "status": "pending",
        "resolution": "4k",
        "created_at": stamp,
        "updated_at": stamp,
    }
    present = {c.lower(): c for c in columns}
    names = [(present[k.lower()], k) for k in row if k.lower() in present]
    sql = (f"INSERT INTO {quote(UPSCALES)} ({', '.join(quote(n) for n, _ in names)}) "
           f"VALUES ({', '.join('?' for _ in names)})")
    return sql, tuple(row[k] for _, k in names)


def newest_generation(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The generation the app would offer to upscale: the newest one, the last it wrote (the
    highest rowid, found in one descent of the b-tree; ordering by created_at sorts every row,
    which at a million generations took longer than the rest of the fix)."""
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute(
            f"SELECT id, profile_id, project_id FROM {quote(GENERATIONS)} ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.row_factory = None
    return dict(row) if row else None


def default_values(conn: sqlite3.Connection, info: DatabaseInfo) -> dict[str, Any] | None:
    """The values the app would use: the newest generation with its profile and project."""
    gens = info.table(GENERATIONS)
    if gens is None or not {"id", "profile_id", "project_id"} <= {c.name for c in gens.columns}:
        return None
    row = newest_generation(conn)
    if row is None:
        return None
    return {"source_generation_id": row["id"], "profile_id": row["profile_id"], "project_id": row["project_id"]}


#: The video app, as the toolkit's first profile: everything it knows about that app's file.
VIDEO_APP = Profile(
    name="video-app",
    app="the video app",
    table=UPSCALES,
    references=REFERENCES,
    known_tables=KNOWN_TABLES,
    sibling_tables=(GENERATIONS, PROJECTS),
    introduced_by="migration 026",
    fix="migration 030",
    fix_command="python -m toolkit fix",
    claims=(VersionClaim(30, 30, frozenset({State.STRICT, State.PARTIALLY_RELAXED})),
            VersionClaim(28, 28, frozenset({State.STRICT}))),
    default_values=default_values,
    insert=upscale_insert,
    nothing_to_insert="no generation exists yet, so the app has nothing to upscale",
    nothing_to_insert_answer="No generation exists in {name} yet, so there is nothing to upscale",
    row_noun="upscale",
)


#: RFC 4122's URL namespace (uuid.NAMESPACE_URL), as bytes
_NAMESPACE_URL = bytes.fromhex("6ba7b8119dad11d180b400c04fd430c8")


def _uuid5(name: str) -> str:
    """uuid.uuid5(uuid.NAMESPACE_URL, name), spelled out: the uuid module imports platform, 10 ms
    of every fix's start-up for one id (tests/test_appmodel.py holds it to the module's answer)."""
    raw = bytearray(hashlib.sha1(_NAMESPACE_URL + name.encode("utf-8"), usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
