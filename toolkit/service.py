"""The app's upscale service, mirrored: what the customer saw, beside what the engineer needs.

`create_upscale` behaves like the seed's enhanced error handling in
`veo3-video-upscale.service.ts`: a foreign-key failure becomes `success: False` with the
app's user-facing message and a detailed log record; anything else is re-raised.
"""
from __future__ import annotations

import logging
import sqlite3
from typing import Any

from . import appmodel as app
from .sqlite_codes import Kind, kind_of

logger = logging.getLogger("toolkit.service")

USER_MESSAGE = ("Database constraint error - ensure referenced records exist. "
                "This typically resolves after database migration.")


def create_upscale(conn: sqlite3.Connection, *, source_generation_id: Any, profile_id: Any, project_id: Any,
                   log: logging.Logger = logger) -> dict[str, Any]:
    """Insert an upscale record the way the app does (foreign keys ON); use on a COPY."""
    values = {"source_generation_id": source_generation_id, "profile_id": profile_id, "project_id": project_id}
    columns = [r[0] for r in conn.execute("SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0", (app.UPSCALES,))]
    sql, params = app.upscale_insert(values, columns)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        conn.execute(sql, params)
    except sqlite3.IntegrityError as db_error:
        if kind_of(db_error) is Kind.CONSTRAINT_FOREIGNKEY:
            log.error("Foreign key constraint failed while creating video upscale",
                      extra={"error": str(db_error), "sourceGenerationId": source_generation_id,
                             "profileId": profile_id, "projectId": project_id})
            return {"success": False, "error": USER_MESSAGE}
        raise
    return {"success": True, "id": params[0]}
