"""Case records: whole answers as data, a bad file as a message, never an exception."""
from pathlib import Path

from conftest import SCENARIOS
from toolkit.casebook import scenario_table, triage_case, what_the_customer_saw
from toolkit.safe_access import fingerprint
from toolkit.service import USER_MESSAGE


def test_headline_case_is_complete_and_leaves_nothing_behind(sample):
    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    case = triage_case(path)
    assert case.ok and case.answer.startswith("The insert fails because project_id")
    assert list(case.proof_frame()["ok"]) == [True] * len(case.proof_frame())
    assert len(case.schema_changes_frame()) == 6 and "UPDATE sqlite_schema SET sql" in case.sql
    assert case.workdir and not __import__("os").path.exists(case.workdir) and case.fixed_path is None
    assert fingerprint(path) == before


def test_bad_and_other_files_give_empty_parts_not_exceptions(sample):
    bad = triage_case(sample("bad_truncated.db"))
    assert not bad.ok and bad.error_type == "TruncatedDatabaseError" and "Cannot triage" in bad.summary()
    assert bad.findings_frame().empty and bad.data_frame().empty and bad.sql == "-- no fix applied"
    other = triage_case(sample("other_app.db"))
    assert other.ok and other.migration is None and other.insert_frame().empty


def test_scenario_table_has_a_row_per_sample():
    table = scenario_table()
    assert list(table["file"]) == [s.filename for s in SCENARIOS]
    headline = table[table["file"] == "v26_seed_failure.db"].iloc[0]
    assert (headline["failing"], headline["reason"]) == ("project_id", "missing-row")


def test_what_the_customer_saw_and_what_the_log_holds(sample):
    seen = what_the_customer_saw(sample("v26_seed_failure.db"))
    assert seen["success"] is False and seen["error"] == USER_MESSAGE
    assert seen["logged"][0]["error"] == "FOREIGN KEY constraint failed" and seen["logged"][0]["projectId"]
    assert what_the_customer_saw(sample("v30_fixed.db"))["success"] is True


def test_proof_frame_is_exactly_the_proofs_own_list(sample):
    case = triage_case(sample("cause_orphan_rows.db"))
    assert list(case.proof_frame().itertuples(index=False, name=None)) == case.migration.proof.lines()


# ---- for notebooks: tables shown whole, a parameter's file found from the root (Part 13) ----------
def test_whole_shows_every_text_in_full_left_aligned_and_escaped():
    import pandas as pd

    from toolkit.casebook import whole

    long = "<b>" + "x" * 300 + "</b> 'quoted'"
    shown = whole(pd.DataFrame({"finding": [long], "n": [5]}))
    page = shown._repr_html_()
    assert "x" * 300 in page and "&lt;b&gt;" in page and "<b>x" not in page and "..." not in page
    assert "text-align: left" in page
    assert long in repr(shown) and "..." not in repr(shown)
    assert "Nothing to show" in whole(pd.DataFrame())._repr_html_()


def test_customer_file_takes_a_relative_path_from_the_root_when_the_kernel_runs_elsewhere(tmp_path, monkeypatch):
    from conftest import REPO
    from toolkit.casebook import customer_file
    from toolkit.samples import HEADLINE, samples_dir

    assert customer_file(None) == samples_dir() / HEADLINE
    monkeypatch.chdir(REPO / "notebooks")  # papermill --cwd notebooks
    assert customer_file("sample_dbs/v30_fixed.db") == REPO / "sample_dbs" / "v30_fixed.db"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample_dbs").mkdir()
    (tmp_path / "sample_dbs" / "v30_fixed.db").write_bytes(b"")
    assert customer_file("sample_dbs/v30_fixed.db") == Path("sample_dbs/v30_fixed.db")  # there from the cwd: kept
    assert customer_file("nowhere/x.db") == Path("nowhere/x.db")  # nowhere: as typed, for the message
    assert customer_file(tmp_path / "a.db") == tmp_path / "a.db"


def test_a_case_draws_its_picture_or_says_why_not(sample):
    from toolkit.casebook import Whole, triage_case

    bad = triage_case(sample("bad_truncated.db")).diagram()
    assert isinstance(bad, Whole) and "truncated" in bad._repr_html_()
    pair = triage_case(sample("v26_seed_failure.db")).diagram()
    assert len(pair.dropped) == 3  # before and after migration 030
