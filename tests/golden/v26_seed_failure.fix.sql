-- Migration 030 for this file: relax veo3_video_upscales (drop the FOREIGN KEY and NOT NULL constraints on source_generation_id, profile_id, project_id), recording version 30; everything else as declared.
-- SQLite's simpler procedure (lang_altertable.html#otheralter): no stored byte changes, so the declaration is edited in place, in one transaction.
BEGIN;
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = 'CREATE TABLE "veo3_video_upscales" (
  id TEXT PRIMARY KEY,
  source_generation_id TEXT,
  profile_id TEXT,
  project_id TEXT,
  status TEXT NOT NULL DEFAULT ''pending'',
  resolution TEXT NOT NULL DEFAULT ''1080p'',
  result_video_path TEXT,
  result_file_size INTEGER,
  error_message TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  completed_at TEXT
)' WHERE type = 'table' AND name = 'veo3_video_upscales';
PRAGMA schema_version = 13;
PRAGMA writable_schema = OFF;
INSERT OR IGNORE INTO "migrations" ("version", "name", "applied_at") VALUES (30, '030_fix_upscale_foreign_key_constraints', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
COMMIT;
PRAGMA quick_check;
