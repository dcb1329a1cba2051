-- Migration 030 for this file: rebuild veo3_video_upscales without foreign keys on source_generation_id, profile_id, project_id
-- and with those columns nullable; everything else as the file declares it.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE "veo3_video_upscales_030_new" (
  id TEXT PRIMARY KEY,
  source_generation_id TEXT,
  profile_id TEXT,
  project_id TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  resolution TEXT NOT NULL DEFAULT '1080p',
  result_video_path TEXT,
  result_file_size INTEGER,
  error_message TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  completed_at TEXT
);
INSERT INTO "veo3_video_upscales_030_new" SELECT * FROM "veo3_video_upscales";
-- if SQLite numbered the rows anew, copy them again with their own rowids
DELETE FROM "veo3_video_upscales_030_new" WHERE rowid IN (SELECT rowid FROM "veo3_video_upscales_030_new" LIMIT (SELECT CASE WHEN (SELECT min(rowid) FROM "veo3_video_upscales_030_new") IS NOT (SELECT min(rowid) FROM "veo3_video_upscales") OR (SELECT max(rowid) FROM "veo3_video_upscales_030_new") IS NOT (SELECT max(rowid) FROM "veo3_video_upscales") THEN -1 ELSE 0 END));
INSERT INTO "veo3_video_upscales_030_new" (rowid, "id", "source_generation_id", "profile_id", "project_id", "status", "resolution", "result_video_path", "result_file_size", "error_message", "created_at", "updated_at", "completed_at") SELECT rowid, "id", "source_generation_id", "profile_id", "project_id", "status", "resolution", "result_video_path", "result_file_size", "error_message", "created_at", "updated_at", "completed_at" FROM "veo3_video_upscales" LIMIT (SELECT CASE WHEN EXISTS (SELECT 1 FROM "veo3_video_upscales_030_new") THEN 0 ELSE -1 END);
DROP TABLE "veo3_video_upscales";
PRAGMA legacy_alter_table = ON;
ALTER TABLE "veo3_video_upscales_030_new" RENAME TO "veo3_video_upscales";
PRAGMA legacy_alter_table = OFF;
CREATE INDEX idx_veo3_video_upscales_created_at ON veo3_video_upscales(created_at);
CREATE INDEX idx_veo3_video_upscales_profile_id ON veo3_video_upscales(profile_id);
CREATE INDEX idx_veo3_video_upscales_project_id ON veo3_video_upscales(project_id);
CREATE INDEX idx_veo3_video_upscales_source_generation_id ON veo3_video_upscales(source_generation_id);
CREATE INDEX idx_veo3_video_upscales_status ON veo3_video_upscales(status);
INSERT OR IGNORE INTO "migrations" ("version", "name", "applied_at") VALUES (30, '030_fix_upscale_foreign_key_constraints', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
PRAGMA foreign_key_check("veo3_video_upscales");
COMMIT;
PRAGMA foreign_keys = ON;
