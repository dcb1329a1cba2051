"""environment.yml and pyproject.toml must describe the same dependencies."""
import tomllib

import yaml

from conftest import REPO


def test_environment_yml_installs_the_package_with_the_same_dependencies():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    # The conda route installs the project itself, so pyproject.toml stays the one list;
    # anything else listed here would be a second list that can drift.
    assert pip_section == ["-e .[dev]"]
    conda_packages = [d for d in deps if isinstance(d, str)]
    # besides Python and pip, only programs pip cannot install: Graphviz's dot
    assert sorted(conda_packages) == ["graphviz", "pip", "python=3.11"]


def test_pyproject_lists_the_required_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in project["dependencies"]}
    assert {"jupyterlab", "pandas", "ipywidgets", "sqlite-utils"} <= names
    assert "dev" in project["optional-dependencies"]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
