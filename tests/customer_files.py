"""Customer-like files the samples do not cover: columns, constraints, indexes, triggers and
views from migrations we have never seen, built on top of the app model."""
from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from toolkit import appmodel as app
from toolkit.samples import delete_parent_of_newest, load_dataset, make_dataset


def app_file(path: Path, *, version: int = 29, seed: int = 1, rows: int = 60, record: str = "migrations") -> Path:
    conn = sqlite3.connect(path, isolation_level=None)
    app.migrate(conn, min(version, 27), record=record)
    load_dataset(conn, make_dataset(random.Random(seed), profiles=3, projects=6, generations=rows * 2, upscales=rows))
    app.migrate(conn, version, record=record, from_version=min(version, 27))
    delete_parent_of_newest(conn, app.PROJECTS, "project_id")
    conn.close()
    return path


EXTRAS = """
ALTER TABLE veo3_video_upscales ADD COLUMN priority INTEGER NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5);
ALTER TABLE veo3_video_upscales ADD COLUMN label TEXT COLLATE NOCASE;
ALTER TABLE veo3_video_upscales ADD COLUMN label_upper TEXT GENERATED ALWAYS AS (upper(label)) VIRTUAL;
ALTER TABLE veo3_video_upscales ADD COLUMN settings BLOB;
UPDATE veo3_video_upscales SET label = 'Batch ' || (rowid % 7), settings = randomblob(16), priority = 1 + rowid % 5;
CREATE UNIQUE INDEX idx_upscales_label_unique ON veo3_video_upscales(id, label);
CREATE INDEX idx_upscales_done ON veo3_video_upscales(completed_at) WHERE status = 'completed';
CREATE INDEX idx_upscales_expr ON veo3_video_upscales(lower(status));
CREATE TABLE upscale_audit (upscale_id TEXT, action TEXT, at TEXT);
CREATE TRIGGER trg_upscale_insert AFTER INSERT ON veo3_video_upscales
BEGIN INSERT INTO upscale_audit VALUES (NEW.id, 'insert', NEW.created_at); END;
CREATE TRIGGER trg_upscale_status AFTER UPDATE OF status ON veo3_video_upscales
BEGIN INSERT INTO upscale_audit VALUES (NEW.id, 'status:' || NEW.status, NEW.updated_at); END;
CREATE VIEW completed_upscales AS SELECT id, label, result_video_path FROM veo3_video_upscales
  WHERE status = 'completed';
CREATE VIEW upscale_counts AS SELECT label, count(*) AS n FROM completed_upscales GROUP BY label;
"""


def customised_file(path: Path) -> Path:
    """An app file at v29 whose upscale table carries everything a later migration might add."""
    app_file(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(EXTRAS)
    conn.close()
    return path


HOSTILE_VALUE = "<script>alert('pwned')</script><img src=x onerror=alert(1)>\"'; DROP TABLE profiles; --"

HOSTILE = """
ALTER TABLE veo3_video_upscales ADD COLUMN "we""ird col" TEXT DEFAULT 'a''b';
ALTER TABLE veo3_video_upscales ADD COLUMN [select] INTEGER;
ALTER TABLE veo3_video_upscales ADD COLUMN "列 名 ✓" TEXT;
ALTER TABLE veo3_video_upscales ADD COLUMN "<b>col</b>" TEXT;
ALTER TABLE veo3_video_upscales ADD COLUMN "big text" TEXT;
ALTER TABLE veo3_video_upscales ADD COLUMN "big blob" BLOB;
CREATE INDEX "idx ""quoted"" 列" ON veo3_video_upscales("we""ird col", [select]);
CREATE TABLE "Robert'); DROP TABLE profiles;--" (
  "order" INTEGER PRIMARY KEY, "group" TEXT,
  upscale_id TEXT REFERENCES veo3_video_upscales(id) ON DELETE CASCADE);
CREATE TABLE upscale_log (note TEXT);
CREATE TRIGGER "trg ""log"" ✓" AFTER INSERT ON veo3_video_upscales
BEGIN INSERT INTO upscale_log VALUES (NEW."<b>col</b>"); END;
CREATE VIEW "v <script>" AS SELECT id, "we""ird col", [select] FROM veo3_video_upscales;
CREATE VIEW calls_functions AS SELECT load_extension('/tmp/evil.so') AS x, randomblob(8) AS y;
"""


def hostile_file(path: Path) -> Path:
    """Identifiers with quotes, spaces, keywords and unicode everywhere; values with HTML and
    script; huge text and blob values; triggers and views that would do work or load code."""
    app_file(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(HOSTILE)
    conn.execute('UPDATE veo3_video_upscales SET "<b>col</b>" = ?, "列 名 ✓" = ?, [select] = rowid, '
                 '"we""ird col" = ?', (HOSTILE_VALUE, "値 ✓", HOSTILE_VALUE))
    conn.execute('UPDATE veo3_video_upscales SET "big text" = ?, "big blob" = randomblob(3000000) WHERE rowid = 2',
                 ("x" * 5_000_000,))
    conn.execute("""INSERT INTO "Robert'); DROP TABLE profiles;--" ("group", upscale_id)
                    SELECT ?, id FROM veo3_video_upscales LIMIT 5""", (HOSTILE_VALUE,))
    # the newest generation's project id is itself hostile text
    conn.execute("UPDATE veo3_video_generations SET project_id = ? WHERE created_at = "
                 "(SELECT max(created_at) FROM veo3_video_generations)", (HOSTILE_VALUE,))
    conn.execute("""CREATE TRIGGER "trg load" AFTER UPDATE ON veo3_video_upscales
                    BEGIN SELECT load_extension('/tmp/evil.so'); END""")
    conn.close()
    return path
