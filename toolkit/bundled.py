"""Where the files the commands need live: the checkout's folders, or their copies in the installed package.

In a checkout (or an editable install) the notebooks, the app and the samples are the top-level
folders the design puts them in.  A wheel carries `notebooks/` and `app/` inside the package
(pyproject.toml maps them to `toolkit/notebooks` and `toolkit/app`); the samples are not shipped but
built on first use into the user's cache folder (`toolkit.samples.samples_dir`).
"""
from __future__ import annotations

import os
from pathlib import Path

from . import __version__

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent
#: True when the code runs from a source tree (its pyproject.toml beside the package), not from site-packages
IN_CHECKOUT = (CHECKOUT / "pyproject.toml").is_file()


def folder(name: str) -> Path:
    """The checkout's `name/` folder, or the installed package's copy of it."""
    return CHECKOUT / name if IN_CHECKOUT else PACKAGE / name


def cache_folder() -> Path:
    """This version's folder in the user's cache (XDG_CACHE_HOME, else ~/.cache): built files live here."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fk-toolkit" / __version__
