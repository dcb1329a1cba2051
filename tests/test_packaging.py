"""Packaging: environment.yml in step with pyproject.toml, a light command-line start-up."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import REPO, checkout_state

#: pip names whose conda-forge package is called something else
CONDA_NAMES = {"graphviz": "python-graphviz"}
#: what environment.yml lists besides the runtime dependencies: Python, pip, Graphviz's dot program
NOT_FROM_PYPROJECT = {"python": ("=", "3.11"), "pip": ("", ""), "graphviz": ("", "")}
PIP_LINES = (["-e ."], ["."])
CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.-]+)\s*(?:(>=|==|=)\s*([0-9][0-9A-Za-z.*]*))?$")


def lower_bounds(pyproject_text: str) -> dict[str, str]:
    """pyproject's runtime dependencies as {conda name: lower bound}; each must have exactly one `>=`."""
    bounds = {}
    for line in tomllib.loads(pyproject_text)["project"]["dependencies"]:
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == ">=", f"{line}: give one lower bound (>=)"
        name = req.name.lower()
        bounds[CONDA_NAMES.get(name, name)] = specs[0].version
    return bounds


def _listed(dependencies: list[object]) -> tuple[dict[str, tuple[str, str]], list[object], list[str]]:
    """environment.yml's conda specs as {name: (operator, version)}, its pip sections, what cannot be read."""
    listed: dict[str, tuple[str, str]] = {}
    pip_sections, problems = [], []
    for item in dependencies:
        match = None if isinstance(item, dict) else CONDA_SPEC.match(str(item))
        if isinstance(item, dict):
            pip_sections.append(item.get("pip"))
        elif not match:
            problems.append(f"cannot read the conda spec {item!r}")
        elif match[1] in listed:
            problems.append(f"{match[1]} is listed twice")
        else:
            listed[match[1]] = (match[2] or "", match[3] or "")
    return listed, pip_sections, problems


def drift(pyproject_text: str, environment_text: str) -> list[str]:
    """Every way environment.yml differs from what pyproject.toml asks of it (empty: in step)."""
    env = yaml.safe_load(environment_text)
    problems = []
    if env.get("name") != "fk-toolkit":
        problems.append(f"name is {env.get('name')!r}, not 'fk-toolkit'")
    if env.get("channels") != ["conda-forge"]:
        problems.append(f"channels are {env.get('channels')!r}, not ['conda-forge']")
    listed, pip_sections, unreadable = _listed(env.get("dependencies", []))
    problems += unreadable
    expected = {name: (">=", bound) for name, bound in lower_bounds(pyproject_text).items()} | NOT_FROM_PYPROJECT
    problems += [f"{name} is missing (expected {name}{''.join(expected[name])})"
                 for name in sorted(expected.keys() - listed.keys())]
    problems += [f"{name} is not a runtime dependency of pyproject.toml (nor python, pip, graphviz)"
                 for name in sorted(listed.keys() - expected.keys())]
    problems += [f"{name}{''.join(listed[name])} should be {name}{''.join(expected[name])}"
                 for name in sorted(expected.keys() & listed.keys()) if listed[name] != expected[name]]
    if pip_sections not in ([lines] for lines in PIP_LINES):
        problems.append(f"the pip section is {pip_sections!r}: give one, installing the package (`-e .` or `.`)")
    return problems


def test_environment_yml_is_pyprojects_dependencies_as_conda_packages():
    assert drift((REPO / "pyproject.toml").read_text(), (REPO / "environment.yml").read_text()) == []


@pytest.mark.parametrize("edit, complaint", [
    (lambda t: t.replace("pandas>=2.1", "pandas>=2.0"), "pandas>=2.0 should be pandas>=2.1"),
    (lambda t: t.replace("  - tqdm>=4.66\n", ""), "tqdm is missing"),
    (lambda t: t.replace("  - python-graphviz>=0.20\n", "  - graphviz>=0.20\n"), "python-graphviz is missing"),
    (lambda t: t.replace("  - pip\n", "  - pip\n  - numpy\n"), "numpy is not a runtime dependency"),
    (lambda t: t.replace("- -e .\n", "- -e .[dev]\n      - requests\n"), "the pip section"),
    (lambda t: t.replace("conda-forge", "defaults"), "channels"),
])
def test_the_check_catches_drift(edit, complaint):
    env = (REPO / "environment.yml").read_text()
    edited = edit(env)
    assert edited != env, "the edit no longer applies to environment.yml"
    problems = drift((REPO / "pyproject.toml").read_text(), edited)
    assert any(complaint in p for p in problems), problems


def test_a_new_runtime_dependency_must_reach_environment_yml():
    pyproject = (REPO / "pyproject.toml").read_text().replace('"tqdm>=4.66",', '"tqdm>=4.66",\n    "rich>=13",')
    assert "rich is missing (expected rich>=13)" in drift(pyproject, (REPO / "environment.yml").read_text())


def test_pyproject_lists_the_required_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {Requirement(d).name.lower() for d in project["dependencies"]}
    assert {"jupyterlab", "pandas", "ipywidgets", "sqlite-utils"} <= names
    extras = project["optional-dependencies"]
    # the heavy optional parts stay out of the runtime list
    assert {"app", "dask", "dev"} <= set(extras) and not names & {"voila", "dask"}


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()


# ---- the command line starts without pandas or Jupyter --------------------------------------
HEAVY = ("pandas", "numpy", "ipywidgets", "IPython", "nbclient", "nbformat", "nbconvert", "papermill",
         "jupyter_client", "jupyter_core", "jupyterlab", "voila", "dask", "distributed", "sqlite_utils")


def imported_modules(*args: str) -> set[str]:
    """The top-level modules a real run of the command line imported (python -X importtime)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "toolkit", *args],
                            capture_output=True, text=True, cwd=REPO)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert lines, result.stderr  # importtime must have reported: otherwise nothing below means anything
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines}


@pytest.mark.parametrize("args", [
    ("--help",),
    ("diagnose", "sample_dbs/v26_seed_failure.db", "--json"),
    ("inspect", "sample_dbs/v26_seed_failure.db", "--json"),
    ("fix", "sample_dbs/v26_seed_failure.db", "--sql"),
], ids=lambda a: " ".join(a))
def test_command_line_start_up_imports_nothing_heavy(args):
    modules = imported_modules(*args)
    assert "toolkit" in modules and ("sqlite3" in modules or args == ("--help",))
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


# ---- the installed package, from outside the checkout ----------------------------------------
#: what the fresh environment must not see from the development one: the editable install of this
#: checkout (so `toolkit` can only come from the wheel) and Voila (so `app` meets a missing extra)
HIDDEN = ("__editable__", "fk_toolkit", "voila", "distutils-precedence.pth")


def _dependencies_without(hidden: tuple[str, ...], farm: Path) -> Path:
    """The development environment's installed packages, less `hidden`, as a folder of links: the
    fresh environment uses them instead of downloading pandas and Jupyter a second time."""
    site = Path(sysconfig.get_paths()["purelib"])
    farm.mkdir()
    for entry in site.iterdir():
        if not entry.name.startswith(hidden):
            (farm / entry.name).symlink_to(entry)
    return farm


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`pip install` of a freshly built wheel into a new virtual environment; returns (bin folder, env)."""
    work = tmp_path_factory.mktemp("installed")
    source = work / "source"  # pip builds in the tree it is given: a copy keeps build/ out of the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, source / name)
    for name in ("toolkit", "notebooks", "app"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(source),
                            "-w", str(work / "wheel")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    wheel = next((work / "wheel").glob("fk_toolkit-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip()
    # a plain path line: the .pth files of that folder (the editable finder among them) are not run
    (Path(fresh_site) / "dependencies.pth").write_text(f"{_dependencies_without(HIDDEN, work / 'deps')}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # the samples are built into the user's cache; nbconvert's templates live in the prefix the
    # dependencies were installed into (share/jupyter), which a real install shares with the package
    env |= {"XDG_CACHE_HOME": str(work / "cache"), "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
    return venv / "bin", env


def installed_package(installed, cwd: Path) -> Path:
    """The folder `import toolkit` loads in the fresh environment (run from `cwd`, never the checkout)."""
    bin_folder, env = installed
    where = subprocess.run([str(bin_folder / "python"), "-c", "import toolkit; print(toolkit.__file__)"],
                           capture_output=True, text=True, cwd=cwd, env=env, check=True).stdout.strip()
    package = Path(where).parent
    assert package.is_relative_to(bin_folder.parent) and not package.is_relative_to(REPO), where
    return package


def fk_toolkit(installed, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    bin_folder, env = installed
    return subprocess.run([str(bin_folder / "fk-toolkit"), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


@pytest.mark.slow
@pytest.mark.xdist_group("installed")  # one wheel and one environment, and the notebooks removed last
def test_the_installed_package_works_from_another_folder(installed, tmp_path):
    _, env = installed
    package = installed_package(installed, tmp_path)
    # what the commands read beside the code travels in the wheel: notebooks, the app, report templates
    templates = (p for p in (REPO / "toolkit" / "templates").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    shipped = [*(REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"), REPO / "app" / "triage_app.ipynb", *templates]
    for path in shipped:
        inside = path.relative_to(REPO / "toolkit") if path.is_relative_to(REPO / "toolkit") else path.relative_to(REPO)
        assert (package / inside).read_bytes() == path.read_bytes(), inside

    demo = fk_toolkit(installed, "demo", "--out", "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Answer: The insert fails because project_id" in demo.stdout
    assert json.loads((tmp_path / "demo" / "diagnosis.json").read_text())["state"] == "strict"
    assert (tmp_path / "demo" / "report.html").stat().st_size > 0
    assert (tmp_path / "demo" / "v26_seed_failure.fixed.db").stat().st_size > 0
    cached = Path(env["XDG_CACHE_HOME"]) / "fk-toolkit"
    assert [p.name for p in cached.glob("*/sample_dbs/v26_seed_failure.db")] == ["v26_seed_failure.db"]

    samples = fk_toolkit(installed, "samples", "--out", "samples", cwd=tmp_path)
    assert samples.returncode == 0, samples.stderr
    assert (tmp_path / "samples" / "manifest.json").read_text() == (REPO / "sample_dbs" / "manifest.json").read_text()

    diagnosis = fk_toolkit(installed, "diagnose", "samples/v26_seed_failure.db", "--json", cwd=tmp_path)
    assert diagnosis.returncode == 1, diagnosis.stderr  # a problem found
    assert json.loads(diagnosis.stdout)["needs_migration_030"] is True


@pytest.mark.slow
@pytest.mark.xdist_group("installed")  # one wheel and one environment, and the notebooks removed last
def test_the_installed_notebooks_run_and_the_missing_extra_is_named(installed, tmp_path):
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    run = fk_toolkit(installed, "notebooks", "--out", "nb", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("Executed: ") == len(notebooks) == 7
    assert sorted(p.name for p in (tmp_path / "nb").glob("*.html")) == [n.replace(".ipynb", ".html") for n in notebooks]

    app = fk_toolkit(installed, "app", cwd=tmp_path)
    assert app.returncode == 4 and app.stdout == "" and "Traceback" not in app.stderr
    assert app.stderr.strip().splitlines() == [
        "error: The triage web app needs Voila, which is not installed; run: pip install 'fk-toolkit[app]'"]


@pytest.mark.slow
@pytest.mark.xdist_group("installed")  # one wheel and one environment, and the notebooks removed last
def test_a_cache_folder_that_cannot_be_written_is_exit_75(installed, tmp_path, small_disk):
    """The samples an installed package builds go to the user's cache: a read-only cache is the
    machine's failure (exit 75, naming the folder and XDG_CACHE_HOME), not a bug (70)."""
    bin_folder, env = installed
    cache = small_disk("1m", read_only=True)
    run = subprocess.run([str(bin_folder / "fk-toolkit"), "demo", "--out", "demo"], capture_output=True, text=True,
                         cwd=tmp_path, env=env | {"XDG_CACHE_HOME": str(cache)}, timeout=600)
    assert run.returncode == 75 and "Traceback" not in run.stderr, run.stderr
    line, = run.stderr.strip().splitlines()
    assert str(cache) in line and "XDG_CACHE_HOME" in line and "cannot be written" in line
    assert not (tmp_path / "demo").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("installed")  # one wheel and one environment, and the notebooks removed last
def test_notebooks_with_none_to_run_say_so(installed, tmp_path):
    shutil.rmtree(installed_package(installed, tmp_path) / "notebooks")  # an incomplete installation
    run = fk_toolkit(installed, "notebooks", "--out", "nb", cwd=tmp_path)
    assert run.returncode == 4 and run.stdout == ""
    assert "No notebooks to execute" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "nb").exists()


# ---- the suite's own check that it leaves the checkout as it was -----------------------------
def test_the_checkout_check_sees_a_file_written_into_the_checkout():
    before = checkout_state()
    assert before is not None, "not a git checkout: the session check cannot run"
    probe = REPO / "written-by-test_packaging.tmp"
    try:
        probe.write_text("a test's output")
        assert checkout_state() != before and probe.name in checkout_state()
    finally:
        probe.unlink()
    assert checkout_state() == before
