"""Diagnose and safely repair SQLite foreign-key failures in the video app's database.

The public API: ``inspect`` (schema), ``diagnose`` (which reference fails, and why),
``apply_030`` (the fix, on a copy, proven) and ``compare`` (before and after).  Every function takes a path to a customer's
file, works on a private copy, and proves the original unchanged.
"""
from .comparison import Comparison, compare
from .diagnosis import Diagnosis, diagnose
from .errors import ToolkitError
from .migration import MigrationResult, apply_030
from .schema import DatabaseInfo, inspect

__all__ = ["Comparison", "DatabaseInfo", "Diagnosis", "MigrationResult", "ToolkitError", "apply_030", "compare",
           "diagnose", "inspect"]
__version__ = "0.1.0"
