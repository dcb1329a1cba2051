"""Diagnose and safely repair SQLite foreign-key failures in the video app's database.

The public API: ``inspect`` (schema), ``diagnose`` (which reference fails, and why),
``apply_030`` (the fix, on a copy, proven), ``compare`` (before and after) and
``reference_diagram`` / ``before_after`` (the references drawn, the failing one in red).  Every function
takes a path to a customer's file, works on a private copy, and proves the original unchanged.
Names are imported on first use, so the command line starts without loading what it does not run.
"""
from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing's own flag, without loading typing
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"
# nothing loaded here: `python -m toolkit` reaches its Ctrl-C handling (`__main__`) at once
_PUBLIC = {
    "ToolkitError": "errors",
    "Comparison": "comparison", "compare": "comparison",
    "DatabaseInfo": "schema", "inspect": "schema",
    "Diagnosis": "diagnosis", "diagnose": "diagnosis",
    "MigrationResult": "migration", "apply_030": "migration",
    "reference_diagram": "diagram", "before_after": "diagram",
}
__all__ = [*_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
