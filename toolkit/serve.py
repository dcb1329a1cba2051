"""Command lines for the servers: the triage web app (Voilà) and JupyterLab.

One place builds them, so `make app`, `make lab` and the browser tests start the same thing.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from . import errors
from .bundled import folder

APP_NOTEBOOK = folder("app") / "triage_app.ipynb"
# Uploads travel to the kernel as one websocket message: allow customer files of hundreds of MB.
MAX_MESSAGE = 512 * 1024 * 1024
LAB_PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


def _jupyter(tool: str) -> list[str]:
    return [sys.executable, "-m", tool]


def require_voila() -> None:
    """The web app is an extra: say how to install it instead of failing inside a subprocess."""
    if importlib.util.find_spec("voila") is None:
        raise errors.MissingProgramError("The triage web app needs Voila, which is not installed; "
                                         "run: pip install 'fk-toolkit[app]'")


def voila_command(port: int, *, token: str | None = None, notebook: Path = APP_NOTEBOOK) -> list[str]:
    cmd = _jupyter("voila") + [str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                               f"--Voila.tornado_settings={{'websocket_max_message_size': {MAX_MESSAGE}}}",
                               "--VoilaConfiguration.show_tracebacks=False"]
    if token:
        cmd.append(f"--token={token}")
    return cmd


def lab_command(port: int, *, root_dir: Path, token: str = "") -> list[str]:
    return _jupyter("jupyterlab") + ["--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                                     f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
                                     f"--ServerApp.tornado_settings={{'websocket_max_message_size': {MAX_MESSAGE}}}",
                                     "--allow-root"]


def lab_environment(folder: Path) -> dict[str, str]:
    """Environment for a JupyterLab that a test (or a screen reader of screenshots) can drive:
    no news pop-up covering the page, and every cell rendered (JupyterLab 4 otherwise only
    renders the cells in view)."""
    import json

    labconfig = folder / "config" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(LAB_PAGE_CONFIG))
    settings = folder / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    return {"JUPYTER_CONFIG_DIR": str(folder / "config"), "JUPYTERLAB_SETTINGS_DIR": str(folder / "settings")}
