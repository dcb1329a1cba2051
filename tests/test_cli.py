"""The CLI: pinned JSON keys, readable output, exit codes, one sentence for bad input."""
import json
import os
import subprocess
import sys

import pytest

from conftest import BAD, REGENERATE_GOLDEN, REPO, ids, make_db
from toolkit import errors
from toolkit.safe_access import fingerprint


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def assert_one_sentence_error(result, path):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], result.stderr


def test_inspect_json_keys_are_pinned(sample):
    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    result = run("inspect", path, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"database", "sqlite_version", "journal_mode", "recorded_version", "tables", "triggers",
            "views"} <= set(data)
    table = next(t for t in data["tables"] if t["name"] == "veo3_video_upscales")
    assert {"name", "row_count", "columns", "foreign_keys", "indexes"} <= set(table)
    assert {"name", "type", "notnull", "default", "pk"} <= set(table["columns"][0])
    assert {"columns", "parent_table", "parent_columns", "on_delete", "on_update", "parent_table_exists",
            "parent_key_unique", "deferrable", "deferred"} <= set(table["foreign_keys"][0])
    assert {(fk["deferrable"], fk["deferred"]) for fk in table["foreign_keys"]} == {("not-deferrable", False)}
    assert {"name", "columns", "unique", "partial", "sql"} <= set(table["indexes"][0])
    assert data["recorded_version"] == 26
    assert fingerprint(path) == before


def test_inspect_readable_output(sample):
    result = run("inspect", sample("cause_renamed_parent_dropped.db"))
    assert result.returncode == 0
    assert "veo3_video_generations_old(id)" in result.stdout and "Recorded version:  27" in result.stdout


def test_inspect_shows_on_update_and_deferred_keys(tmp_path):

    path = tmp_path / "app.db"
    make_db(path, """
        CREATE TABLE author (id INTEGER PRIMARY KEY);
        CREATE TABLE book (id INTEGER PRIMARY KEY,
            author_id INTEGER REFERENCES author(id) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED,
            editor_id INTEGER REFERENCES author(id) ON DELETE SET NULL);
        CREATE TABLE plain (a INTEGER REFERENCES author(id));
    """)
    result = run("inspect", path)
    assert result.returncode == 0, result.stderr
    book, plain = result.stdout.split("== book")[1].split("== plain")
    assert "on update" in book and "CASCADE" in book and "at COMMIT (DEFERRABLE INITIALLY DEFERRED)" in book
    assert "at each statement" in book  # the editor's key, next to the deferred one
    # a table whose keys all have SQLite's defaults shows them as before
    assert "on update" not in plain and "at COMMIT" not in plain and "at each statement" not in plain
    data = json.loads(run("inspect", path, "--json").stdout)
    keys = {fk["columns"][0]: fk for t in data["tables"] for fk in t["foreign_keys"]}
    assert (keys["author_id"]["on_update"], keys["author_id"]["deferrable"], keys["author_id"]["deferred"]) \
        == ("CASCADE", "deferrable-initially-deferred", True)
    assert (keys["editor_id"]["on_delete"], keys["editor_id"]["deferred"]) == ("SET NULL", False)


@pytest.mark.parametrize("scenario", BAD, ids=ids)
def test_bad_samples_exit_2_with_one_sentence(scenario, sample):
    path = sample(scenario.filename)
    assert_one_sentence_error(run("inspect", path), path)


def test_demo_runs_on_the_headline_sample(tmp_path):
    result = run("demo", "--out", tmp_path / "demo")
    assert result.returncode == 0, result.stderr
    for name in ("diagnosis.json", "report.html", "v26_seed_failure.fixed.db", "references.svg"):
        assert (tmp_path / "demo" / name).exists(), name
    assert "Answer: The insert fails because project_id" in result.stdout
    assert f"Report: {tmp_path / 'demo' / 'report.html'}" in result.stdout


# ---- diagnose ----------------------------------------------------------------------
def test_diagnose_json_keys_are_pinned_and_exit_1_on_failure(sample):
    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    result = run("diagnose", path, "--json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert {"database", "sqlite_version", "recorded_version", "state", "needs_migration_030", "findings",
            "insert_simulation"} <= set(data)
    sim = data["insert_simulation"]
    assert {"attempted", "ok", "error", "values", "references", "failing"} <= set(sim)
    assert {"column", "parent_table", "parent_column", "value", "parent_exists", "reason"} <= set(sim["references"][0])
    assert {"code", "severity", "message", "table", "column"} <= set(data["findings"][0])
    assert sim["failing"] == ["project_id"] and data["state"] == "strict"
    assert fingerprint(path) == before


def test_diagnose_readable_output_leads_with_the_answer(sample):
    result = run("diagnose", sample("v26_seed_failure.db"))
    first = result.stdout.splitlines()[0]
    assert first.startswith("The insert fails because project_id '") and "apply migration 030" in first


def test_diagnose_exit_0_when_healthy(sample):
    assert run("diagnose", sample("v30_fixed.db")).returncode == 0


def test_diagnose_with_insert_values(sample):
    result = run("diagnose", sample("v30_fixed.db"), "--json", "--insert",
                 "source_generation_id=a,profile_id=b,project_id=c")
    data = json.loads(result.stdout)
    assert data["insert_simulation"]["values"] == {"source_generation_id": "a", "profile_id": "b", "project_id": "c"}
    assert data["insert_simulation"]["ok"] is True


@pytest.mark.parametrize("bad", ["project_id", "nope=1", "{not json"])
def test_diagnose_bad_insert_argument_is_exit_2(sample, bad):
    result = run("diagnose", sample("v30_fixed.db"), "--insert", bad)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--insert" in result.stderr


# ---- fix and report ------------------------------------------------------------------
FIX_KEYS = {"output", "skipped", "reason", "rows_before", "rows_after", "data_identical", "indexes_preserved",
            "triggers_preserved", "foreign_keys_removed", "columns_nullable", "integrity_ok", "insert_before_ok",
            "insert_after_ok", "original_unchanged", "recorded_version_after"}


def test_fix_json_keys_are_pinned(sample, tmp_path):
    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    result = run("fix", path, "--out", tmp_path / "f.db", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= FIX_KEYS
    assert data["skipped"] is False and data["data_identical"] and data["original_unchanged"]
    assert data["insert_before_ok"] is False and data["insert_after_ok"] is True
    assert data["recorded_version_after"] == 30 and data["output"] == str(tmp_path / "f.db")
    assert fingerprint(path) == before
    again = json.loads(run("fix", tmp_path / "f.db", "--out", tmp_path / "g.db", "--json").stdout)
    assert again["skipped"] is True and again["output"] is None


def test_fix_never_overwrites_without_force(sample, tmp_path):
    out = tmp_path / "f.db"
    out.write_text("keep me")
    result = run("fix", sample("v26_seed_failure.db"), "--out", out)
    assert result.returncode == 2 and "--force" in result.stderr and out.read_text() == "keep me"
    assert run("fix", sample("v26_seed_failure.db"), "--out", out, "--force").returncode == 0


def test_fix_sql_prints_the_script_and_writes_nothing(sample, tmp_path):
    result = run("fix", sample("v26_seed_failure.db"), "--sql", cwd=tmp_path)
    assert result.returncode == 0
    # SQLite's simpler procedure, in lang_altertable.html's order, in one transaction
    lines = result.stdout.splitlines()
    assert lines[2:4] == ["BEGIN;", "PRAGMA writable_schema = ON;"]
    assert lines[-4:] == ["PRAGMA writable_schema = OFF;", lines[-3], "COMMIT;", "PRAGMA quick_check;"]
    assert "UPDATE sqlite_schema SET sql = 'CREATE TABLE \"veo3_video_upscales\" (" in result.stdout
    rebuild = run("fix", sample("v26_seed_failure.db"), "--sql", "--rebuild", cwd=tmp_path)
    assert rebuild.stdout.splitlines()[2] == "PRAGMA foreign_keys = OFF;"
    assert 'ALTER TABLE "veo3_video_upscales_030_new" RENAME TO "veo3_video_upscales";' in rebuild.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v26_seed_failure.db"]


def test_fix_refuses_other_apps_file_with_exit_2(sample, tmp_path):
    result = run("fix", sample("other_app.db"), "--out", tmp_path / "x.db")
    assert_one_sentence_error(result, sample("other_app.db"))
    assert not (tmp_path / "x.db").exists()


def test_report_command_html_and_md(sample, tmp_path):
    for fmt in ("html", "md"):
        result = run("report", sample("cause_type_mismatch.db"), "--out", tmp_path / f"r.{fmt}", "--format", fmt)
        assert result.returncode == 0, result.stderr
        assert "type-mismatch" in (tmp_path / f"r.{fmt}").read_text()


# ---- golden: the exact script `fix --sql` prints for the headline sample -----------------------
GOLDEN = {(): REPO / "tests" / "golden" / "v26_seed_failure.fix.sql",
          ("--rebuild",): REPO / "tests" / "golden" / "v26_seed_failure.fix-rebuild.sql"}


@pytest.mark.parametrize("flags", GOLDEN, ids=["writable-schema", "12-step"])
def test_fix_sql_of_the_headline_sample_is_the_golden_script(sample, tmp_path, flags):
    """Compared byte for byte: any change to the plan shows up as a readable diff of the golden file.
    After an intended change, regenerate it with TOOLKIT_REGENERATE_GOLDEN=1 pytest tests/test_cli.py -k golden
    and review the diff.  By default the documented simpler procedure; `--rebuild`, the 12-step one."""
    golden = GOLDEN[flags]
    result = subprocess.run([sys.executable, "-m", "toolkit", "fix", str(sample("v26_seed_failure.db")), "--sql",
                             *flags], capture_output=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    if os.environ.get(REGENERATE_GOLDEN) and (not golden.exists() or golden.read_bytes() != result.stdout):
        golden.write_bytes(result.stdout)
    assert result.stdout == golden.read_bytes()


def test_fix_prints_exactly_the_proofs_own_list(sample, tmp_path):
    from toolkit.migration import apply_030

    path = sample("v26_seed_failure.db")
    result = run("fix", path, "--out", tmp_path / "f.db")
    assert result.returncode == 0, result.stderr
    printed = result.stdout.split("Proof:\n", 1)[1].splitlines()
    expected = apply_030(path, tmp_path / "g.db").proof.lines()
    assert printed == [f"  [{'ok' if ok else 'FAILED'}] {label}" for label, ok in expected] and len(printed) == 8


# ---- diagnose: any file, any statement (Part 11) ---------------------------------------
SHOP = """
CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE tags (code UNIQUE);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
                     tag REFERENCES tags(code),
                     note TEXT CHECK (note <> 'bad'));
CREATE TABLE "order lines" (order_id INTEGER REFERENCES orders(id) ON DELETE CASCADE
                              DEFERRABLE INITIALLY DEFERRED, sku TEXT, PRIMARY KEY (order_id, sku)) WITHOUT ROWID;
CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX orders_tag ON orders(tag);
INSERT INTO customers VALUES ('ALFKI', 'Alfreds'), ('BONAP', 'Bon app');
INSERT INTO tags VALUES (5);
INSERT INTO orders VALUES (1, 'ALFKI', NULL, NULL), (2, 'BONAP', 5, NULL);
INSERT INTO "order lines" VALUES (1, 'A-1'), (2, 'B-2');
"""


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.db"
    make_db(path, SHOP)
    return path


VIOLATION_KEYS = {"table", "rowid", "key", "columns", "values", "parent_table", "parent_columns", "reason",
                  "explanation", "on_delete", "on_update", "deferred"}


def test_diagnose_a_healthy_file_of_another_app_exits_0_with_a_general_headline(shop):
    result = run("diagnose", shop, "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout
    assert data["profile"] is None and data["statement_simulation"] is None and data["error_message"] is None
    assert data["answer"] == "shop.db is healthy: its 3 foreign key(s) are declared soundly and no row violates them."


def test_diagnose_sql_names_the_row_key_values_and_reason_and_the_json_shape_is_pinned(shop):
    before = fingerprint(shop)
    result = run("diagnose", shop, "--json", "--sql",
                 "INSERT INTO orders (id, customer_id) VALUES (3, 'alfki ')")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    stmt = data["statement_simulation"]
    assert set(stmt) == {"attempted", "ok", "error", "fails_at", "failed_statement", "violations",
                         "violations_total", "pre_existing"}
    assert (stmt["ok"], stmt["fails_at"], stmt["failed_statement"], stmt["violations_total"]) == (
        False, "statement", 1, 1)
    assert stmt["error"] == "FOREIGN KEY constraint failed"
    (v,) = stmt["violations"]
    assert set(v) == VIOLATION_KEYS
    assert (v["table"], v["rowid"], v["columns"], v["values"], v["parent_table"], v["parent_columns"]) == (
        "orders", 3, ["customer_id"], ["alfki "], "customers", ["id"])
    assert (v["reason"], v["on_delete"], v["on_update"], v["deferred"]) == ("near-miss", "CASCADE", "NO ACTION", False)
    assert "ALFKI" in v["explanation"] and data["answer"].startswith("Statement 1")
    assert fingerprint(shop) == before


def test_diagnose_sql_file_with_a_deferred_key_fails_at_commit(shop, tmp_path):
    script = tmp_path / "app.log.sql"
    script.write_text("PRAGMA foreign_keys = ON;\nBEGIN;\nDELETE FROM orders WHERE id = 9;\n"
                      "INSERT INTO \"order lines\" VALUES (7, 'Z-9');\nCOMMIT;\n")
    result = run("diagnose", shop, "--json", "--sql-file", script)
    stmt = json.loads(result.stdout)["statement_simulation"]
    assert result.returncode == 1 and stmt["fails_at"] == "commit"
    (v,) = stmt["violations"]
    assert v["table"] == "order lines" and v["rowid"] == [7, "Z-9"] and v["deferred"] is True
    assert v["reason"] == "missing-row"


def test_diagnose_table_values_builds_the_insert_with_typed_values(shop):
    """An untyped parent compares storage classes as stored: text '5' does not find integer 5."""
    typed = run("diagnose", shop, "--json", "--table", "orders", "--values", "id=4,customer_id=ALFKI,tag:text=5")
    (v,) = json.loads(typed.stdout)["statement_simulation"]["violations"]
    assert typed.returncode == 1 and v["reason"] == "type-mismatch" and v["values"] == ["5"]
    as_int = run("diagnose", shop, "--json", "--table", "orders", "--values", "id=4,customer_id=ALFKI,tag:int=5")
    assert as_int.returncode == 0 and json.loads(as_int.stdout)["statement_simulation"]["ok"] is True


def test_diagnose_a_failure_that_is_not_a_foreign_key_is_said_as_such(shop):
    result = run("diagnose", shop, "--json", "--sql",
                 "INSERT INTO orders (id, customer_id, note) VALUES (5, 'ALFKI', 'bad')")
    data = json.loads(result.stdout)
    stmt = data["statement_simulation"]
    assert result.returncode == 1 and stmt["violations"] == [] and "CHECK" in stmt["error"]
    assert "not a foreign key" in data["answer"].lower() or "check" in data["answer"].lower()


def test_diagnose_error_message_names_the_declarations(shop):
    result = run("diagnose", shop, "--json", "--error", "FOREIGN KEY constraint failed")
    e = json.loads(result.stdout)["error_message"]
    assert e["kind"] == "foreign-key-failed" and len(e["declarations"]) == 3
    missing = run("diagnose", shop, "--json", "--error", "no such table: main.clients")
    data = json.loads(missing.stdout)
    assert data["error_message"]["declarations"] == [] and "No foreign key of shop.db" in data["answer"]


@pytest.mark.parametrize("sql", ["ATTACH 'other.db' AS o", "PRAGMA writable_schema = 1", "VACUUM INTO 'x.db'",
                                 "SELECT load_extension('evil')"])
def test_diagnose_refuses_statements_that_reach_outside_the_copy(shop, sql):
    before = fingerprint(shop)
    result = run("diagnose", shop, "--sql", sql)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert fingerprint(shop) == before and not (shop.parent / "x.db").exists()


@pytest.mark.parametrize("args", [("--table", "orders"), ("--values", "id=1"), ("--table", "nope", "--values", "a=1"),
                                  ("--sql", "INSERT INTO orders VALUES (")])
def test_diagnose_bad_statement_arguments_are_one_sentence_exit_2(shop, args):
    result = run("diagnose", shop, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_diagnose_a_statement_that_runs_forever_stops_at_the_time_limit(shop):
    result = run("diagnose", shop, "--time-limit", "2", "--sql",
                 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "time" in result.stderr.lower()


def test_every_repair_plan_has_its_command():
    from toolkit.cli import _REPAIRS
    from toolkit.plan import PlanKind

    assert sorted(_REPAIRS) == sorted(k.value for k in PlanKind)


def test_a_reader_that_stops_reading_ends_the_command_quietly(sample):
    """`diagnose ... | head -1`: the pipe closes before the answer is written; no internal error."""
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "diagnose", str(sample("v26_seed_failure.db"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # nobody reads: every write to the pipe fails with EPIPE
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == errors.EXIT_BROKEN_PIPE == 141
    assert stderr == ""


def test_a_ctrl_c_while_python_loaded_the_command_line_is_said_once_loaded(tmp_path, capsys):
    """`python -m toolkit` holds a Ctrl-C that comes while it loads and hands it to main: one
    sentence, exit 130, and the command never runs."""
    import signal

    from toolkit.cli import main

    out = tmp_path / "fixed.db"
    before = signal.getsignal(signal.SIGINT)
    try:
        code = main(["fix", str(tmp_path / "any.db"), "--out", str(out)], interrupted=True)
    finally:
        signal.signal(signal.SIGINT, before)
    err = capsys.readouterr().err
    assert code == 130 and err.startswith("error: interrupted (Ctrl-C)") and len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []
