"""Every notebook executes headless against the samples, and says what it should."""
import json

import nbformat
import pytest

from conftest import REPO, SCENARIOS, ids
from toolkit.nbrun import NOTEBOOKS_DIR, error_outputs, execute

NOTEBOOKS = sorted(p.name for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def text_of(nb, snippet: str) -> str:
    """Everything the first cell whose source contains `snippet` produced, as text."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and snippet in c.source)
    parts = []
    for o in cell.outputs:
        if "text" in o:
            parts.append(o["text"])
        for kind in ("text/plain", "text/markdown", "text/html"):
            if kind in o.get("data", {}):
                parts.append(o["data"][kind])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {}):
            parts.append("<widget>")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    cache = {}

    def run(name, **parameters):
        key = (name, json.dumps(parameters, sort_keys=True))
        if key not in cache:
            cache[key] = execute(NOTEBOOKS_DIR / name, parameters=parameters)
        return cache[key]
    return run


def test_the_expected_notebooks_exist_numbered_in_reading_order():
    assert [n[:3] for n in NOTEBOOKS] == ["00_", "01_", "02_", "03_", "04_"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebooks_are_stripped_and_open_and_close_properly(name):
    nb = nbformat.read(NOTEBOOKS_DIR / name, 4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.cells[-1].cell_type == "markdown" and "next" in nb.cells[-1].source.lower()
    for c in nb.cells:
        if c.cell_type == "code":
            # logic lives in the package: short cells, no definitions
            assert len(c.source.splitlines()) <= 6, c.source
            assert "def " not in c.source and "class " not in c.source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_runs_without_error(executed, name):
    nb = executed(name)
    assert error_outputs(nb) == []


def test_01_shows_the_strict_table_and_a_dangling_reference(executed):
    nb = executed("01_inspect_schema.ipynb")
    assert "veo3_video_upscales" in text_of(nb, "info.tables_frame()")
    assert "veo3_video_generations_old" in text_of(nb, "cause_renamed_parent_dropped")
    assert "<widget>" in text_of(nb, "schema_explorer()")
    assert text_of(nb, "reference_diagram(info)").count('class="node table') == 4
    ghost = text_of(nb, "reference_diagram(inspect(")
    assert 'class="node table ghost"' in ghost and "veo3_video_generations_old" in ghost


def test_02_names_project_id_for_the_headline_sample(executed):
    nb = executed("02_reproduce_and_diagnose.ipynb")
    saw = text_of(nb, "what_the_customer_saw(samples_dir()")
    assert "Database constraint error - ensure referenced records exist" in saw
    assert text_of(nb, "print(d.answer)").startswith("The insert fails because project_id")
    refs = text_of(nb, "d.references_frame()")
    assert "missing-row" in refs and "project_id" in refs
    drawn = text_of(nb, "reference_diagram(d)")
    assert drawn.count('class="edge fk failing"') == 1 and "fails: missing&#45;row" in drawn
    table = text_of(nb, "scenario_table()")
    for reason in ("type-mismatch", "near-miss", "parent-table-missing", "parent-key-not-unique"):
        assert reason in table


def test_03_shows_the_three_columns_nullable_after(executed):
    nb = executed("03_apply_030_and_compare.ipynb")
    proof = text_of(nb, "result.proof")
    assert "columns_nullable=True" in proof and "data_identical=True" in proof
    changes = text_of(nb, "c.schema_frame()")
    for column in ("source_generation_id", "profile_id", "project_id"):
        assert column in changes
    assert "TEXT NOT NULL" in changes
    assert "UPDATE sqlite_schema SET sql" in text_of(nb, "print(result.sql)")
    pair = text_of(nb, "before_after(")
    before, after = pair.split('data-side="after"')
    assert pair.count("<svg") == 2 and "3 references dropped" in pair
    assert after.count('class="edge fk') == before.count('class="edge fk') - 3  # the dropped ones are not drawn


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids)
def test_04_triage_runs_for_every_sample_and_bad_file(executed, scenario):
    from toolkit.samples import SAMPLES_DIR

    nb = executed("04_triage_customer_file.ipynb", db_path=str(SAMPLES_DIR / scenario.filename))
    assert error_outputs(nb) == []
    summary = text_of(nb, "triage_case(")
    if scenario.error:
        assert "Cannot triage" in summary and scenario.error in summary
    elif scenario.state == "no-upscales-table":
        assert f"{scenario.filename} is healthy" in summary and "no application profile applies" in summary
    else:
        assert f"state: `{scenario.state}`" in summary
        for column in scenario.failing:
            assert column in summary
    if scenario.state in ("strict", "partially-relaxed"):
        assert "UPDATE sqlite_schema SET sql" in text_of(nb, "print(case.sql)")


def test_04_on_a_missing_path_gives_a_message_not_a_traceback(executed, tmp_path):
    nb = executed("04_triage_customer_file.ipynb", db_path=str(tmp_path / "nope.db"))
    assert error_outputs(nb) == [] and "does not exist" in text_of(nb, "triage_case(")


def test_readme_explains_the_outputs_decision():
    assert "make notebooks" in (REPO / "README.md").read_text()
