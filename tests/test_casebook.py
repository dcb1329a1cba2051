"""Case records: whole answers as data, a bad file as a message, never an exception."""
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
