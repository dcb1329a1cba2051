"""Diagnose and safely repair SQLite foreign-key failures in the video app's database.

The public API: ``inspect`` (schema), and the errors; later parts add ``diagnose``,
``apply_030``, ``compare`` and ``report``.  Every function takes a path to a customer's
file, works on a private copy, and proves the original unchanged.
"""
from .errors import ToolkitError
from .schema import DatabaseInfo, inspect

__all__ = ["DatabaseInfo", "ToolkitError", "inspect"]
__version__ = "0.1.0"
