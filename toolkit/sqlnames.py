"""Quoting identifiers and values, and reasoning about SQLite's type affinity."""
from __future__ import annotations

import math
from typing import Any


def quote(identifier: str) -> str:
    """Quote an SQL identifier (any name SQLite accepts: quotes, spaces, keywords, unicode)."""
    return '"' + str(identifier).replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A value as an SQL literal the sqlite3 shell reads back exactly (a script that must stand
    alone cannot bind values)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, float):
        # repr() round-trips; SQLite spells the infinities as out-of-range literals (NaN is stored as NULL)
        if math.isnan(value):
            return "NULL"
        return repr(value) if math.isfinite(value) else ("-1e999" if value < 0 else "1e999")
    if isinstance(value, bytes):
        return f"x'{value.hex()}'"
    return "'" + str(value).replace("'", "''") + "'"


def affinity(declared_type: str | None) -> str:
    """The column affinity SQLite derives from a declared type (datatype3.html, 3.1)."""
    t = (declared_type or "").upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


def any_of(terms: list[str]) -> str:
    """`t1 OR t2 OR ...` nested as a balanced tree: SQLite parses a flat chain of N terms as an
    expression N deep, and a table of 500 columns would meet its expression-depth limit."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return f"({any_of(terms[:middle])} OR {any_of(terms[middle:])})"
