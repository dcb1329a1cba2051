"""The primer's facts, as the SQLite library in use actually produces them."""
import sys
import tempfile
from contextlib import closing

import pandas as pd
import pytest

from toolkit import primer

FK_FAILED = "FOREIGN KEY constraint failed"


def by_where(result, where):
    return next(s for s in result.steps if s.where.startswith(where))


def variant(result, fk, legacy):
    return next(v for v in result.variants if (v.foreign_keys, v.legacy_alter_table) == (fk, legacy))


def test_attempt_records_errors_instead_of_raising():
    with closing(primer.connect()) as conn:
        ok = primer.attempt(conn, "CREATE TABLE t(x)")
        bad = primer.attempt(conn, "INSERT INTO nowhere VALUES (1)")
    assert ok.succeeded and ok.result == "succeeded" and ok.error is None
    assert not bad.succeeded and bad.exception == "OperationalError" and bad.error == "no such table: nowhere"
    assert bad.result == "OperationalError: no such table: nowhere"


def test_attempt_script_gives_sqlites_verdict_with_keys_on_and_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "shop.db"
    with closing(primer.connect(str(path))) as conn:
        conn.executescript("CREATE TABLE p(id INTEGER PRIMARY KEY);"
                           "CREATE TABLE c(p_id REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);"
                           "INSERT INTO p VALUES (1);")
    before = path.read_bytes()
    orphan = primer.attempt_script(path, "INSERT INTO c VALUES (2)")
    at_commit = primer.attempt_script(path, "BEGIN; INSERT INTO c VALUES (2); COMMIT;")
    fixed_in_time = primer.attempt_script(path, "BEGIN; INSERT INTO c VALUES (2); INSERT INTO p VALUES (2); COMMIT;")
    assert not orphan.succeeded and orphan.error == FK_FAILED and orphan.exception == "IntegrityError"
    assert orphan.error_name == "SQLITE_CONSTRAINT_FOREIGNKEY"
    assert not at_commit.succeeded and at_commit.error == FK_FAILED
    assert fixed_in_time.succeeded and fixed_in_time.result == "succeeded"
    with closing(primer.copy_in_memory(path)) as copy:
        copy.execute("INSERT INTO p VALUES (3)")
        assert copy.execute("SELECT count(*) FROM p").fetchone() == (2,)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]


def test_the_pragma_is_per_connection_and_off_by_default(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = primer.per_connection_pragma()
    strict, lax = result.connections
    assert result.default_foreign_keys == 0
    assert strict.foreign_keys == 1 and not strict.insert.succeeded
    assert strict.insert.error == FK_FAILED and strict.insert.exception == "IntegrityError"
    assert lax.foreign_keys == 0 and lax.insert.succeeded
    # the lax connection's orphan is in the shared file; the strict one's is not
    assert result.orphans_in_file == 1
    assert list(tmp_path.iterdir()) == []  # the temporary database is cleaned up


def test_the_pragma_is_a_silent_no_op_inside_a_transaction():
    result = primer.pragma_ignored_in_transaction()
    inside, outside = by_where(result, "inside"), by_where(result, "outside")
    assert inside.requested == outside.requested == "OFF"
    assert inside.read_back == 1
    assert not inside.insert.succeeded and inside.insert.error == FK_FAILED
    assert outside.read_back == 0 and outside.insert.succeeded


def test_affinity_decides_whether_the_child_value_matches():
    result = primer.affinity_in_key_comparison()
    untyped = [r for r in result.rows if r.parent_declared_type == ""]
    typed = [r for r in result.rows if r.parent_declared_type == "TEXT"]
    assert {r.child_value for r in untyped} == {r.child_value for r in typed} == {"5", 5}
    for row in untyped:
        assert row.parent_value_typeof == "integer" and row.child_stored_typeof == "text"
        assert not row.insert.succeeded and row.insert.error == FK_FAILED
        assert row.insert.exception == "IntegrityError"
    for row in typed:
        assert row.parent_value_typeof == "text" and row.child_stored_typeof == "text"
        assert row.insert.succeeded


def test_values_that_look_equal_are_not_equal_to_sqlite():
    answers = dict(primer.affinity_in_key_comparison().comparisons)
    assert answers["SELECT '5' = 5"] == 0
    assert answers["SELECT CAST('5' AS INTEGER) = 5"] == 1
    printed = [v for sql, v in answers.items() if "' and '" in sql]
    assert printed == ["5 and 5", "5 and '5'"]  # what a person sees, then what quote() reveals
    joined = [v for sql, v in answers.items() if " JOIN " in sql]
    assert joined == [0]


def test_rename_rewrites_references_and_the_dropped_table_breaks_inserts():
    result = primer.rename_rewrites_references()
    assert 'REFERENCES "parent"(id)' in result.child_sql_before
    default = variant(result, 0, 0)
    assert default.references_after == "parent_old"
    assert 'REFERENCES "parent_old"(id)' in default.child_sql_after
    assert not default.insert_after_rebuild.succeeded
    assert default.insert_after_rebuild.error == "no such table: main.parent_old"
    assert default.insert_after_rebuild.exception == "OperationalError"


def test_legacy_alter_table_leaves_references_alone_only_with_foreign_keys_off():
    result = primer.rename_rewrites_references()
    legacy = variant(result, 0, 1)
    assert legacy.references_after == "parent" and legacy.child_sql_after == result.child_sql_before
    assert legacy.insert_after_rebuild.succeeded
    # documented: with foreign keys on, the rename rewrites REFERENCES even in legacy mode
    assert variant(result, 1, 1).references_after == "parent_old"
    assert variant(result, 1, 0).references_after == "parent_old"


def test_mismatch_is_a_schema_error_and_constraint_failed_a_data_error():
    mismatch, missing, unchecked = primer.mismatch_vs_constraint_failed().cases
    assert "PRIMARY KEY" not in mismatch.parent_sql.upper() and "UNIQUE" not in mismatch.parent_sql.upper()
    assert mismatch.insert.error.startswith("foreign key mismatch")
    assert mismatch.insert.error == 'foreign key mismatch - "c" referencing "p"'
    assert mismatch.insert.exception == "OperationalError"
    assert missing.insert.error == FK_FAILED and missing.insert.exception == "IntegrityError"
    assert unchecked.insert.succeeded  # the broken declaration only surfaces when enforcement is on


@pytest.mark.skipif(sys.version_info < (3, 11), reason="sqlite_errorname arrived in Python 3.11")
def test_error_names_separate_the_two_failures():
    mismatch, missing, _ = primer.mismatch_vs_constraint_failed().cases
    assert mismatch.insert.error_name == "SQLITE_ERROR"
    assert missing.insert.error_name == "SQLITE_CONSTRAINT_FOREIGNKEY"


def test_foreign_key_check_lists_rows_written_while_enforcement_was_off():
    result = primer.foreign_key_check_finds_orphans()
    assert result.rows_written_with_fk_off == 3
    assert result.foreign_keys_after_enabling == 1 and result.rows_still_there == 3
    frame = result.to_frame()
    assert list(frame.columns) == ["table", "rowid", "parent", "fkid"]
    assert frame.values.tolist() == [["child", 2, "parent", 0], ["child", 3, "parent", 0]]


def test_primer_lists_every_fact_once_in_order():
    functions = [f for _, f in primer.PRIMER]
    assert functions == [primer.per_connection_pragma, primer.pragma_ignored_in_transaction,
                         primer.affinity_in_key_comparison, primer.rename_rewrites_references,
                         primer.mismatch_vs_constraint_failed, primer.foreign_key_check_finds_orphans]
    assert len({title for title, _ in primer.PRIMER}) == len(primer.PRIMER)


@pytest.mark.parametrize("title, fact", primer.PRIMER, ids=[f.__name__ for _, f in primer.PRIMER])
def test_every_frame_is_a_non_empty_dataframe(title, fact):
    frame = fact().to_frame()
    assert isinstance(frame, pd.DataFrame) and not frame.empty


def test_comparisons_frame_is_a_non_empty_dataframe():
    frame = primer.affinity_in_key_comparison().comparisons_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 5
