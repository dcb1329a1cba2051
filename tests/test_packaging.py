"""Packaging: environment.yml in step with pyproject.toml, a light command-line start-up."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import REPO

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
