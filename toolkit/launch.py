"""The command's entry: `python -m toolkit` and the `fk-toolkit` script both start here.

Small on purpose, and loaded before the command line: a Ctrl-C while Python loads the rest is held
and said once the command line has loaded (`cli.main(interrupted=True)`), instead of surfacing as a
traceback from the middle of an import.
"""
from __future__ import annotations

import gc
import signal
import sys


def run() -> None:
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    gc.disable()  # until the command line is read (`cli._loading`): loading code leaves nothing to collect

    from .cli import main

    code = main(interrupted=bool(held))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # done: a Ctrl-C now would only cut the exit short
    sys.exit(code)
