"""Run the notebooks headless and keep executed HTML copies (`make notebooks`).

The committed notebooks carry no outputs (reviewable diffs; outputs always come from the
current code); this executes them against the bundled samples and writes HTML beside.  The
widgets' last state is stored in the executed notebook and embedded in its HTML, so a reader of
the static page sees the widgets as they were left (nbconvert's page loads the widget renderer
from a CDN, so that part needs a connection).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode

from . import errors
from .bundled import folder

NOTEBOOKS_DIR = folder("notebooks")


def execute(path: str | Path, *, parameters: dict[str, Any] | None = None, timeout: int = 300,
            output: str | Path | None = None) -> NotebookNode:
    """Execute one notebook (papermill injects `parameters` into its `parameters` cell)."""
    import nbformat
    import papermill

    path = Path(path)
    for attempt in range(3):
        try:
            nb = papermill.execute_notebook(str(path), str(output) if output else None, parameters=parameters or {},
                                            kernel_name="python3", cwd=str(path.parent), progress_bar=False,
                                            request_save_on_cell_execute=False, execution_timeout=timeout,
                                            start_timeout=120, store_widget_state=True)
            node: NotebookNode = nbformat.from_dict(nb)  # type: ignore[no-untyped-call]
            return node
        except RuntimeError as exc:
            # jupyter_client picks kernel ports at random; two kernels starting at once can
            # collide ("Address already in use"), and the kernel then never answers. Retry.
            if "Kernel didn't respond" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def graceful_exit(output: dict[str, Any]) -> bool:
    """papermill's rule: `SystemExit` with no code (or 0) ends a notebook early without failing it."""
    return output.get("ename") == "SystemExit" and output.get("evalue") in ("", "0")


def error_outputs(nb: NotebookNode) -> list[dict[str, Any]]:
    return [o for cell in nb.cells for o in cell.get("outputs", [])
            if o.get("output_type") == "error" and not graceful_exit(o)]


#: the MIME type under which nbclient stores the widgets' state and nbconvert embeds it in the page
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def widget_state(nb: NotebookNode) -> dict[str, Any]:
    """The widgets' models as execution left them ({} when the notebook shows no widget)."""
    state: dict[str, Any] = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return state


def to_html(nb: NotebookNode, dest: str | Path) -> Path:
    """The executed notebook as a page; nbconvert's template embeds the stored widget state."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)  # type: ignore[no-untyped-call]
    dest = Path(dest)
    dest.write_text(body, encoding="utf-8")
    return dest


def build_all(out: str | Path) -> list[Path]:
    """Execute every notebook into `out` as .ipynb and .html; fail on any error output."""
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise errors.MissingProgramError(f"No notebooks to execute: {NOTEBOOKS_DIR} holds none (an incomplete "
                                         "installation); reinstall with pip install --force-reinstall fk-toolkit.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [build(path, out) for path in notebooks]


def build(path: str | Path, out: str | Path) -> Path:
    """Execute one notebook into the folder `out` (.ipynb and .html); fail on any error output."""
    path, out = Path(path), Path(out)
    nb = execute(path, output=out / path.name)
    failures = error_outputs(nb)
    if failures:
        raise RuntimeError(f"{path.name}: {failures[0].get('ename')}: {failures[0].get('evalue')}")
    return to_html(nb, out / path.with_suffix(".html").name)
