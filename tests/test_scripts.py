"""Scripts for the sqlite3 shell say only what they show."""
import subprocess

import pytest

from toolkit import errors
from toolkit.scripts import check_statement, render, terminated


@pytest.mark.parametrize("statement", [
    "CREATE TABLE u(a TEXT DEFAULT 'x;y', b)",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET b = 1; DELETE FROM t WHERE 0; END",
    "-- a comment line first\nDELETE FROM t WHERE rowid IN (SELECT 1)",
    "INSERT INTO t VALUES (1, 2) -- a comment at the end",
    "PRAGMA foreign_keys = OFF",
    "CREATE TABLE \"a.b\"(\n  x /* ; */ TEXT\n)",
])
def test_single_statements_pass_and_run_in_the_shell(statement, tmp_path):
    assert check_statement(statement, "f.db") == statement
    text = render(["CREATE TABLE IF NOT EXISTS t(a, b)", statement])
    shell = subprocess.run(["sqlite3", str(tmp_path / "s.db")], input=text, capture_output=True, text=True)
    assert shell.returncode == 0 and shell.stderr == "", shell.stderr


@pytest.mark.parametrize("statement, why", [
    ("CREATE TABLE t(a);\n.shell touch CANARY", "starting with '.'"),
    ("CREATE TABLE t(a);\nDROP TABLE other", "more text after its end"),
    ("CREATE TABLE t(a) ; SELECT 1", "more text after its end"),
    ("CREATE TABLE t(a, 'b\n.system touch CANARY')", "starting with '.'"),
    ("CREATE TABLE t(a", "not a complete statement|does not parse"),
    ("CREATE TABEL t(a)", "does not parse"),
    ("CREATE TABLE t(a)\x00", "NUL"),
])
def test_anything_more_is_refused_in_one_sentence(statement, why):
    with pytest.raises(errors.UnsafeContentError, match=why) as caught:
        check_statement(statement, "customer.db")
    assert "customer.db" in caught.value.message and "\n" not in caught.value.message


def test_a_trailing_line_comment_gets_its_terminator_on_a_line_of_its_own():
    assert terminated("SELECT 1 -- why") == "SELECT 1 -- why\n;"
    assert terminated("SELECT 1;") == "SELECT 1;"
