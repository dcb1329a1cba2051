"""The app's service, mirrored: the customer's message on a foreign-key failure."""
import logging
import sqlite3

import pytest

from toolkit.safe_access import open_copy
from toolkit.service import USER_MESSAGE, create_upscale


def newest(conn):
    return conn.execute("SELECT id, profile_id, project_id FROM veo3_video_generations "
                        "ORDER BY created_at DESC LIMIT 1").fetchone()


def test_foreign_key_failure_returns_the_apps_message_and_logs_details(sample, caplog):
    with open_copy(sample("v26_seed_failure.db")) as work:
        conn = work.connect()
        gen, profile, project = newest(conn)
        with caplog.at_level(logging.ERROR, logger="toolkit.service"):
            result = create_upscale(conn, source_generation_id=gen, profile_id=profile, project_id=project)
        conn.close()
    assert result == {"success": False, "error": USER_MESSAGE}
    record = caplog.records[-1]
    assert record.projectId == project and "FOREIGN KEY" in record.error


def test_other_errors_are_re_raised(sample):
    with open_copy(sample("v26_seed_failure.db")) as work:
        conn = work.connect()
        gen, profile, _ = newest(conn)
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            create_upscale(conn, source_generation_id=gen, profile_id=profile, project_id=None)
        conn.close()


def test_succeeds_once_fixed(sample):
    with open_copy(sample("v30_fixed.db")) as work:
        conn = work.connect()
        gen, profile, project = newest(conn)
        result = create_upscale(conn, source_generation_id=gen, profile_id=profile, project_id=project)
        conn.close()
    assert result["success"] is True
