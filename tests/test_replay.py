"""replay: the app's statements replayed on the work copy, each broken reference named, by SQLite's verdict."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import make_db

from other_apps import sqlite_says
from toolkit import errors, guards
from toolkit.keymatch import Reason
from toolkit.replay import FailsAt, StatementSimulation, replay
from toolkit.safe_access import safe_connection, sha256_file
from toolkit.schema import read_schema
from toolkit.statements import parse_script

#: A shop the way web apps declare one: text and integer keys, a composite key, a self-reference,
#: names with spaces and quotes, Django-style deferred keys, CASCADE and SET NULL, WITHOUT ROWID, a trigger.
SHOP = """
CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
CREATE TABLE "order" (id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customer(id),
    note TEXT);
CREATE TABLE "line item" ("order id" INTEGER REFERENCES "order"(id) ON DELETE CASCADE,
    sku TEXT REFERENCES product(sku) ON DELETE SET NULL, qty INTEGER CHECK (qty > 0));
CREATE TABLE product (sku TEXT PRIMARY KEY, "maker's name" TEXT) WITHOUT ROWID;
CREATE TABLE category (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES category(id));
CREATE TABLE auth_user (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE auth_session (id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES auth_user(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE warehouse (region TEXT, code TEXT, PRIMARY KEY (region, code));
CREATE TABLE stock (sku TEXT, region TEXT, code TEXT, PRIMARY KEY (sku, region),
    FOREIGN KEY (region, code) REFERENCES warehouse(region, code)) WITHOUT ROWID;
CREATE TABLE audit (what TEXT);
CREATE TRIGGER order_audit AFTER INSERT ON "order" BEGIN INSERT INTO audit VALUES ('order ' || NEW.id); END;
INSERT INTO customer VALUES (1, 'ann@example.com'), (2, 'bob@example.com');
INSERT INTO "order" VALUES (10, 1, 'first'), (11, 2, 'second');
INSERT INTO product VALUES ('SKU-1', 'Acme'), ('SKU-2', 'O''Brien');
INSERT INTO "line item" VALUES (10, 'SKU-1', 2), (10, 'SKU-2', 1), (11, 'SKU-2', 5);
INSERT INTO category VALUES (1, NULL), (2, 1);
INSERT INTO auth_user VALUES (1, 'admin');
INSERT INTO auth_session VALUES (1, 1);
INSERT INTO warehouse VALUES ('eu', 'A'), ('us', 'B');
INSERT INTO stock VALUES ('SKU-1', 'eu', 'A');
"""


def build(tmp_path: Path, extra: str = "", name: str = "shop.db") -> Path:
    path = tmp_path / name
    make_db(path, SHOP + extra)
    return path


def run(path: Path, text: str) -> StatementSimulation:
    before = sha256_file(path)
    with safe_connection(path) as (work, conn):
        copy_before = sha256_file(work.path)
        sim = replay(conn, read_schema(conn, database=str(path)), parse_script(text, "--sql"), "--sql")
        assert not conn.in_transaction
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 0
        assert sha256_file(work.path) == copy_before
    assert sha256_file(path) == before
    return sim


def test_immediate_insert_names_the_row_and_statement(tmp_path):
    path = build(tmp_path)
    text = ("BEGIN; INSERT INTO customer VALUES (3, 'cy@example.com'); "
            "INSERT INTO \"order\" VALUES (12, 99, 'x'); COMMIT;")
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert not sim.ok and sim.fails_at is FailsAt.STATEMENT and sim.failed_statement == 3
    assert sim.error_code == "SQLITE_CONSTRAINT_FOREIGNKEY"
    (v,) = sim.violations
    assert (v.table, v.rowid, v.columns, v.values, v.parent_table) == ("order", 12, ("customer_id",), (99,), "customer")
    assert v.reason is Reason.MISSING_ROW and v.statement == 3 and not v.deferred
    assert v.storage_classes == ("integer",)


def test_deferred_key_fails_at_commit(tmp_path):
    path = build(tmp_path)
    text = "BEGIN; INSERT INTO auth_session VALUES (2, 42); INSERT INTO auth_user VALUES (5, 'x'); COMMIT;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.fails_at is FailsAt.COMMIT and sim.failed_statement == 4
    (v,) = sim.violations
    assert (v.table, v.rowid, v.values, v.deferred, v.statement) == ("auth_session", 2, (42,), True, None)
    assert sim.to_dict()["violations"][0]["deferred"] is True


def test_deferred_key_satisfied_before_commit_is_ok(tmp_path):
    path = build(tmp_path)
    text = "BEGIN; INSERT INTO auth_session VALUES (2, 42); INSERT INTO auth_user VALUES (42, 'x'); COMMIT;"
    assert sqlite_says(path, text) is None
    assert run(path, text).ok


def test_defer_foreign_keys_pragma_moves_the_failure_to_commit(tmp_path):
    path = build(tmp_path)
    text = "BEGIN; PRAGMA defer_foreign_keys = ON; INSERT INTO \"order\" VALUES (12, 99, 'x'); COMMIT;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.fails_at is FailsAt.COMMIT and [v.rowid for v in sim.violations] == [12]


def test_parent_delete_names_children(tmp_path):
    path = build(tmp_path)
    text = "DELETE FROM customer WHERE id = 1"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.failed_statement == 1 and sim.violations_total == 1
    (v,) = sim.violations
    assert (v.table, v.rowid, v.reason) == ("order", 10, Reason.PARENT_DELETED)
    assert v.explanation == ("Statement 1 deleted the customer row with (id) = (1), which this order row still "
                             "references (ON DELETE NO ACTION).")
    assert "order" in sim.summary and "1 row" in sim.summary


def test_key_update_is_parent_key_changed(tmp_path):
    path = build(tmp_path)
    text = "UPDATE customer SET id = 7 WHERE id = 2"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    (v,) = run(path, text).violations
    assert (v.table, v.rowid, v.reason, v.values) == ("order", 11, Reason.PARENT_KEY_CHANGED, (2,))


def test_cascade_and_set_null_succeed(tmp_path):
    path = build(tmp_path)
    text = "BEGIN; DELETE FROM \"order\" WHERE id = 10; DELETE FROM product WHERE sku = 'SKU-2'; COMMIT;"
    assert sqlite_says(path, text) is None
    sim = run(path, text)
    assert sim.ok and sim.violations == () and sim.fails_at is None


def test_without_rowid_composite_key_gives_primary_key(tmp_path):
    path = build(tmp_path)
    text = "INSERT INTO stock VALUES ('SKU-2', 'eu', 'B')"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    (v,) = run(path, text).violations
    assert v.rowid == ("SKU-2", "eu") and v.values == ("eu", "B")
    assert v.reason is Reason.COMPOSITE_PARTIAL


def test_self_reference_in_one_statement_is_ok(tmp_path):
    path = build(tmp_path)
    text = "INSERT INTO category VALUES (3, 4), (4, 3)"
    assert sqlite_says(path, text) is None
    assert run(path, text).ok


def test_missing_parent_table(tmp_path):
    path = build(tmp_path, "CREATE TABLE shipment (id INTEGER PRIMARY KEY, carrier_id INTEGER REFERENCES carrier(id));")
    text = "INSERT INTO shipment VALUES (1, 5)"
    assert sqlite_says(path, text) == "no such table: main.carrier"
    sim = run(path, text)
    assert not sim.ok and sim.failed_statement == 1 and sim.error == "no such table: main.carrier"
    (v,) = sim.violations
    assert (v.table, v.rowid, v.reason, v.parent_table) == ("shipment", 1, Reason.PARENT_TABLE_MISSING, "carrier")
    assert "carrier" in sim.summary


def test_non_unique_parent_is_mismatch(tmp_path):
    path = build(tmp_path, "CREATE TABLE coupon (code TEXT); "
                           "CREATE TABLE redemption (id INTEGER PRIMARY KEY, code TEXT REFERENCES coupon(code));")
    text = "INSERT INTO redemption VALUES (1, 'SAVE10')"
    assert sqlite_says(path, text).startswith("foreign key mismatch")
    (v,) = run(path, text).violations
    assert v.reason is Reason.PARENT_KEY_NOT_UNIQUE


def test_pre_existing_orphans_counted_apart(tmp_path):
    path = build(tmp_path, "PRAGMA foreign_keys = OFF; INSERT INTO \"order\" VALUES (50, 404, 'orphan');")
    sim = run(path, "INSERT INTO \"order\" VALUES (12, 99, 'x')")
    assert [(p.table, p.count) for p in sim.pre_existing] == [("order", 1)]
    assert [v.rowid for v in sim.violations] == [12] and sim.violations_total == 1
    assert run(path, "INSERT INTO \"order\" VALUES (12, 1, 'x')").ok


def test_not_null_is_not_a_foreign_key_problem(tmp_path):
    path = build(tmp_path)
    text = "INSERT INTO \"order\" VALUES (12, NULL, 'x')"
    assert sqlite_says(path, text) == "NOT NULL constraint failed: order.customer_id"
    sim = run(path, text)
    assert not sim.ok and sim.violations == () and sim.error_code == "SQLITE_CONSTRAINT_NOTNULL"
    assert "not a foreign-key problem" in sim.summary and sim.fails_at is None


def test_check_failure_is_not_a_foreign_key_problem(tmp_path):
    path = build(tmp_path)
    sim = run(path, "INSERT INTO \"line item\" VALUES (10, 'SKU-1', 0)")
    assert sim.error_code == "SQLITE_CONSTRAINT_CHECK" and sim.violations == ()


def test_refused_attach_is_exit_2(tmp_path):
    path = build(tmp_path)
    with pytest.raises(errors.RefusedStatementError) as caught:
        parse_script(f"ATTACH '{tmp_path / 'x.db'}' AS x", "--sql")
    assert caught.value.exit_code == errors.EXIT_BAD_INPUT and "attaches" in str(caught.value)
    assert not (tmp_path / "x.db").exists()
    assert run(path, "SELECT 1").ok


def test_everything_rolled_back_on_the_copy(tmp_path):
    path = build(tmp_path)
    with safe_connection(path) as (work, conn):
        before = sha256_file(work.path)
        info = read_schema(conn, database=str(path))
        sim = replay(conn, info, parse_script("INSERT INTO customer VALUES (9, 'z@example.com'); "
                                              "INSERT INTO \"order\" VALUES (13, 9, 'ok');", "--sql"), "--sql")
        assert sim.ok
        assert conn.execute("SELECT count(*) FROM customer").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 2  # the trigger's rows are gone too
        assert sha256_file(work.path) == before


def test_json_shape(tmp_path):
    sim = run(build(tmp_path), "INSERT INTO \"order\" VALUES (12, 99, 'x')")
    d = sim.to_dict()
    assert list(d) == ["attempted", "ok", "error", "fails_at", "failed_statement", "violations",
                       "violations_total", "pre_existing"]
    assert list(d["violations"][0]) == ["table", "rowid", "key", "columns", "values", "parent_table",
                                        "parent_columns", "reason", "explanation", "on_delete", "on_update",
                                        "deferred"]


def test_deferred_key_without_begin_fails_when_its_statement_commits(tmp_path):
    path = build(tmp_path)
    text = "INSERT INTO auth_session VALUES (2, 42); INSERT INTO auth_user VALUES (42, 'x');"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.fails_at is FailsAt.COMMIT and sim.failed_statement == 1
    assert [v.rowid for v in sim.violations] == [2] and "commits on its own" in sim.summary


def test_script_turning_keys_off_before_writing_is_honoured(tmp_path):
    path = build(tmp_path)
    text = "PRAGMA foreign_keys = OFF; BEGIN; INSERT INTO \"order\" VALUES (12, 99, 'x'); COMMIT;"
    assert sqlite_says(path, text) is None
    assert run(path, text).ok


def test_app_rollback_undoes_its_transaction(tmp_path):
    path = build(tmp_path)
    text = ("BEGIN; PRAGMA defer_foreign_keys = ON; INSERT INTO \"order\" VALUES (12, 99, 'x'); ROLLBACK; "
            "BEGIN; INSERT INTO customer VALUES (3, 'c@example.com'); COMMIT;")
    assert sqlite_says(path, text) is None
    assert run(path, text).ok


def test_restrict_names_the_children_and_defers_like_sqlite(tmp_path):
    path = build(tmp_path, "CREATE TABLE invoice (id INTEGER PRIMARY KEY, "
                           "customer_id INTEGER REFERENCES customer(id) ON DELETE RESTRICT); "
                           "INSERT INTO invoice VALUES (1, 2), (2, 2);")
    text = "DELETE FROM customer WHERE id = 2"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.fails_at is FailsAt.STATEMENT and sim.violations_total == 3
    assert {(v.table, v.rowid, v.reason, v.on_delete) for v in sim.violations} == {
        ("invoice", 1, Reason.PARENT_DELETED, "RESTRICT"), ("invoice", 2, Reason.PARENT_DELETED, "RESTRICT"),
        ("order", 11, Reason.PARENT_DELETED, "NO ACTION")}
    assert "2 rows of invoice" in sim.summary
    # SQLite defers even RESTRICT once defer_foreign_keys is on: the failure moves to COMMIT
    deferred = "BEGIN; PRAGMA defer_foreign_keys = ON; DELETE FROM customer WHERE id = 2; COMMIT;"
    assert sqlite_says(path, deferred) == "FOREIGN KEY constraint failed"
    assert run(path, deferred).fails_at is FailsAt.COMMIT


def test_trigger_raise_is_not_a_foreign_key_problem(tmp_path):
    path = build(tmp_path, "CREATE TRIGGER no_free BEFORE INSERT ON \"line item\" WHEN NEW.qty > 100 "
                           "BEGIN SELECT RAISE(ABORT, 'too many'); END;")
    text = "INSERT INTO \"line item\" VALUES (10, 'SKU-1', 500)"
    assert sqlite_says(path, text) == "too many"
    sim = run(path, text)
    assert sim.error == "too many" and sim.violations == () and "not a foreign-key problem" in sim.summary


def test_non_deferrable_cycle_says_to_defer(tmp_path):
    path = build(tmp_path, "CREATE TABLE team (id INTEGER PRIMARY KEY, captain_id INTEGER REFERENCES player(id)); "
                           "CREATE TABLE player (id INTEGER PRIMARY KEY, team_id INTEGER REFERENCES team(id));")
    text = "BEGIN; INSERT INTO team VALUES (1, 1); INSERT INTO player VALUES (1, 1); COMMIT;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.failed_statement == 2 and "PRAGMA defer_foreign_keys = ON" in sim.summary
    fixed = ("BEGIN; PRAGMA defer_foreign_keys = ON; INSERT INTO team VALUES (1, 1); "
             "INSERT INTO player VALUES (1, 1); COMMIT;")
    assert sqlite_says(path, fixed) is None and run(path, fixed).ok


def test_looping_trigger_stops_at_the_deadline_and_rolls_back(tmp_path):
    path = build(tmp_path, "CREATE TRIGGER endless AFTER INSERT ON audit BEGIN "
                           "SELECT count(*) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                           "SELECT i FROM n); END;")
    before = sha256_file(path)
    with pytest.raises(errors.QueryTimeoutError), safe_connection(path) as (work, conn):
        info = read_schema(conn, database=str(path))
        copy_before = sha256_file(work.path)
        conn.deadline = guards.Deadline(0.5)
        conn.set_progress_handler(conn.deadline, 10_000)
        try:
            replay(conn, info, parse_script("BEGIN; INSERT INTO customer VALUES (5, 'e@example.com'); "
                                            "INSERT INTO audit VALUES ('x'); COMMIT;", "--sql"), "--sql")
        finally:
            assert not conn.in_transaction
            assert sqlite3.Connection.execute(conn, "SELECT count(*) FROM customer").fetchone()[0] == 2
            assert sha256_file(work.path) == copy_before
    assert sha256_file(path) == before


def test_other_error_beside_a_broken_declaration_is_not_blamed_on_it(tmp_path):
    path = build(tmp_path, "CREATE TABLE shipment (id INTEGER PRIMARY KEY, carrier_id INTEGER REFERENCES carrier(id));")
    text = "UPDATE customer SET nickname = 'x' WHERE id = 1"
    assert sqlite_says(path, text) == "no such column: nickname"
    sim = run(path, text)
    assert sim.error == "no such column: nickname" and sim.violations == () and sim.fails_at is None
    assert "not a foreign-key problem" in sim.summary
    # a write of another table is not refused at all
    assert run(path, "INSERT INTO customer VALUES (3, 'c@example.com')").ok


def test_deleting_a_non_unique_parent_names_the_declaration(tmp_path):
    path = build(tmp_path, "CREATE TABLE coupon (code TEXT); INSERT INTO coupon VALUES ('SAVE10'); "
                           "CREATE TABLE redemption (id INTEGER PRIMARY KEY, code TEXT REFERENCES coupon(code));")
    text = "DELETE FROM coupon"
    assert sqlite_says(path, text).startswith("foreign key mismatch")
    sim = run(path, text)
    assert sim.fails_at is FailsAt.STATEMENT and sim.violations == ()
    assert "redemption(code) REFERENCES coupon(code)" in sim.summary


def test_savepoint_transaction_fails_at_its_release(tmp_path):
    path = build(tmp_path)
    text = "SAVEPOINT s1; INSERT INTO auth_session VALUES (2, 42); SAVEPOINT inner; RELEASE inner; RELEASE s1;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.fails_at is FailsAt.COMMIT and sim.failed_statement == 5 and "RELEASE" in sim.summary
    undone = ("SAVEPOINT s1; SAVEPOINT \"Inner\"; INSERT INTO auth_session VALUES (2, 42); ROLLBACK TO inner; "
              "RELEASE s1;")
    assert sqlite_says(path, undone) is None
    assert run(path, undone).ok


def test_function_refused_on_the_copy_is_exit_2(tmp_path):
    path = build(tmp_path)
    script = parse_script("INSERT INTO audit SELECT load_extension('/tmp/x') FROM customer", "--sql")
    with safe_connection(path) as (work, conn):
        before = sha256_file(work.path)
        with pytest.raises(errors.RefusedStatementError) as caught:
            replay(conn, read_schema(conn, database=str(path)), script, "--sql")
        assert caught.value.exit_code == errors.EXIT_BAD_INPUT and caught.value.statement == 1
        assert "load_extension" in str(caught.value)
        assert not conn.in_transaction and sha256_file(work.path) == before


def test_text_keys_near_miss_and_type_mismatch(tmp_path):
    path = build(tmp_path, "CREATE TABLE zip (code PRIMARY KEY); INSERT INTO zip VALUES ('01581'); "
                           "CREATE TABLE \"shop's address\" (id INTEGER PRIMARY KEY, zip REFERENCES zip(code));")
    text = "INSERT INTO \"line item\" VALUES (10, 'sku-1', 1)"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    (v,) = run(path, text).violations
    assert (v.table, v.columns, v.values, v.reason) == ("line item", ("sku",), ("sku-1",), Reason.NEAR_MISS)
    assert (v.on_delete, v.parent_table) == ("SET NULL", "product")
    text = "INSERT INTO \"shop's address\" VALUES (1, 1581)"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    (v,) = run(path, text).violations
    assert (v.table, v.values, v.storage_classes, v.reason) == ("shop's address", (1581,), ("integer",),
                                                                 Reason.TYPE_MISMATCH)


def test_unique_failure_is_reported_as_itself(tmp_path):
    path = build(tmp_path)
    text = "INSERT INTO customer VALUES (3, 'ann@example.com')"
    assert sqlite_says(path, text) == "UNIQUE constraint failed: customer.email"
    sim = run(path, text)
    assert (sim.error, sim.error_code, sim.violations_total) == ("UNIQUE constraint failed: customer.email",
                                                                 "SQLITE_CONSTRAINT_UNIQUE", 0)


def test_immediate_failure_lists_only_its_own_rows_not_pending_deferred_ones(tmp_path):
    path = build(tmp_path)
    text = "BEGIN; INSERT INTO auth_session VALUES (2, 42); INSERT INTO \"order\" VALUES (12, 99, 'x'); COMMIT;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.failed_statement == 3 and sim.fails_at is FailsAt.STATEMENT
    assert [(v.table, v.rowid) for v in sim.violations] == [("order", 12)] and sim.violations_total == 1


def test_many_children_are_counted_and_a_bounded_number_explained(tmp_path):
    path = build(tmp_path, "INSERT INTO customer VALUES (3, 'many@example.com'); "
                           "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 169) "
                           "INSERT INTO \"order\" SELECT i, 3, 'bulk' FROM n;")
    text = ("BEGIN; PRAGMA defer_foreign_keys = ON; WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 "
            "FROM n WHERE i < 1059) INSERT INTO auth_session SELECT i, 999 FROM n; PRAGMA defer_foreign_keys = OFF; "
            "DELETE FROM customer WHERE id = 3; COMMIT;")
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.failed_statement == 5 and sim.fails_at is FailsAt.STATEMENT
    assert sim.violations_total == 70 and len(sim.violations) == 50
    assert {(v.table, v.reason) for v in sim.violations} == {("order", Reason.PARENT_DELETED)}


def test_script_without_commit_says_deferred_keys_were_not_checked(tmp_path):
    sim = run(build(tmp_path), "BEGIN; INSERT INTO auth_session VALUES (2, 42);")
    assert sim.ok and "no COMMIT" in sim.summary


def test_child_table_with_a_broken_declaration_still_lists_its_healthy_keys(tmp_path):
    path = build(tmp_path, "CREATE TABLE shipment (id INTEGER PRIMARY KEY, carrier_id INTEGER REFERENCES carrier(id), "
                           "customer_id INTEGER REFERENCES customer(id)); "
                           "INSERT INTO shipment VALUES (7, NULL, 2);")
    text = "DELETE FROM \"order\" WHERE customer_id = 2; DELETE FROM customer WHERE id = 2"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.failed_statement == 2
    assert [(v.table, v.rowid, v.reason) for v in sim.violations] == [("shipment", 7, Reason.PARENT_DELETED)]


def test_parent_deleted_inside_the_transaction_is_named_at_commit(tmp_path):
    path = build(tmp_path)
    text = "BEGIN; INSERT INTO auth_user VALUES (2, 'x'); DELETE FROM auth_user WHERE id = 1; COMMIT;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    (v,) = run(path, text).violations
    assert (v.table, v.rowid, v.reason, v.fails_at, v.statement) == ("auth_session", 1, Reason.PARENT_DELETED,
                                                                      FailsAt.COMMIT, None)
    assert v.explanation == ("Statement 3 deleted the auth_user row with (id) = (1), which this auth_session row "
                             "still references (ON DELETE NO ACTION).")
    text = "BEGIN; UPDATE auth_user SET id = 9 WHERE id = 1; COMMIT;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    (v,) = run(path, text).violations
    assert v.reason is Reason.PARENT_KEY_CHANGED and v.explanation.startswith("Statement 2 changed the key of")
    # part of the work rolled back: the parent is still named as the script's doing, no statement is
    text = ("BEGIN; SAVEPOINT a; INSERT INTO auth_user VALUES (3, 'y'); ROLLBACK TO a; "
            "DELETE FROM auth_user WHERE id = 1; COMMIT;")
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    (v,) = run(path, text).violations
    assert v.reason is Reason.PARENT_DELETED and v.explanation.startswith("The script deleted the auth_user row")


def test_without_rowid_orphan_already_there_is_not_listed_and_the_new_one_is(tmp_path):
    path = build(tmp_path, "PRAGMA foreign_keys = OFF; INSERT INTO stock VALUES ('SKU-9', 'eu', 'Z');")
    text = "INSERT INTO stock VALUES ('SKU-2', 'us', 'A')"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert [(p.table, p.count) for p in sim.pre_existing] == [("stock", 1)]
    assert [(v.rowid, v.values) for v in sim.violations] == [(("SKU-2", "us"), ("us", "A"))]
    assert sim.violations_total == 1


def test_without_rowid_key_compared_with_the_parent_affinity_as_sqlite_does(tmp_path):
    # an INTEGER child value never equals a TEXT parent's '01581' for SQLite's key check, though
    # a plain comparison of the two columns would convert the text to a number
    path = build(tmp_path, "CREATE TABLE zone (code TEXT PRIMARY KEY); INSERT INTO zone VALUES ('01581'); "
                           "CREATE TABLE depot (id INTEGER, zone INTEGER REFERENCES zone(code) "
                           "DEFERRABLE INITIALLY DEFERRED, PRIMARY KEY (id)) WITHOUT ROWID;")
    text = "BEGIN; INSERT INTO depot VALUES (1, 1581); COMMIT;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert [(v.rowid, v.values, v.reason) for v in sim.violations] == [((1,), (1581,), Reason.TYPE_MISMATCH)]


def test_dropping_a_parent_table_names_its_children(tmp_path):
    path = build(tmp_path)
    text = "DROP TABLE customer"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.fails_at is FailsAt.STATEMENT and sim.failed_statement == 1
    assert {(v.table, v.rowid, v.reason) for v in sim.violations} == {("order", 10, Reason.PARENT_DELETED),
                                                                       ("order", 11, Reason.PARENT_DELETED)}
    # deferred keys wait for COMMIT, when the parent table is gone
    text = "BEGIN; DROP TABLE auth_user; COMMIT;"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.fails_at is FailsAt.COMMIT
    assert [(v.table, v.rowid, v.reason) for v in sim.violations] == [("auth_session", 1, Reason.PARENT_TABLE_MISSING)]
    text = "BEGIN; DROP TABLE warehouse; COMMIT;"  # a WITHOUT ROWID child, immediate
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert [(v.table, v.rowid, v.reason) for v in sim.violations] == [("stock", ("SKU-1", "eu"),
                                                                        Reason.PARENT_DELETED)]


REBUILD_AUTH_USER = ("BEGIN; CREATE TABLE new_auth_user (id INTEGER PRIMARY KEY, name TEXT, email TEXT); "
                     "INSERT INTO new_auth_user (id, name) SELECT id, name FROM auth_user{where}; "
                     "DROP TABLE auth_user; ALTER TABLE new_auth_user RENAME TO auth_user; COMMIT;")


def test_table_rebuilt_with_keys_on_fails_at_commit_though_every_row_has_its_parent(tmp_path):
    path = build(tmp_path)
    text = "PRAGMA foreign_keys = ON; " + REBUILD_AUTH_USER.format(where="")
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.fails_at is FailsAt.COMMIT and sim.failed_statement == 7 and sim.violations_total == 1
    (v,) = sim.violations
    assert (v.table, v.rowid, v.values, v.reason, v.deferred) == ("auth_session", 1, (1,), Reason.PARENT_DELETED, True)
    assert v.explanation.startswith("Statement 5 (DROP TABLE auth_user) deleted the auth_user row with (id) = (1)")
    assert "PRAGMA foreign_keys = OFF before BEGIN" in sim.summary
    # the way SQLite's documentation rebuilds a table: keys off, so nothing is counted
    text = "PRAGMA foreign_keys = OFF; " + REBUILD_AUTH_USER.format(where="")
    assert sqlite_says(path, text) is None and run(path, text).ok


def test_a_row_the_rebuild_lost_is_named_with_the_drop_that_deleted_it(tmp_path):
    path = build(tmp_path, "INSERT INTO auth_user VALUES (2, 'b'); INSERT INTO auth_session VALUES (2, 2);")
    text = "PRAGMA foreign_keys = ON; " + REBUILD_AUTH_USER.format(where=" WHERE id <> 2")
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert [(v.table, v.rowid, v.reason) for v in sim.violations] == [("auth_session", 2, Reason.PARENT_DELETED)]
    assert sim.violations[0].explanation.startswith("Statement 5 deleted the auth_user row with (id) = (2)")


def test_set_null_on_a_not_null_column_is_named_as_the_keys_action(tmp_path):
    path = build(tmp_path, "CREATE TABLE review (id INTEGER PRIMARY KEY, "
                           "customer_id INTEGER NOT NULL REFERENCES customer(id) ON DELETE SET NULL); "
                           "INSERT INTO review VALUES (1, 2);")
    text = "DELETE FROM \"order\" WHERE customer_id = 2; DELETE FROM customer WHERE id = 2"
    assert sqlite_says(path, text) == "NOT NULL constraint failed: review.customer_id"
    sim = run(path, text)
    assert (sim.failed_statement, sim.error_code, sim.violations) == (2, "SQLITE_CONSTRAINT_NOTNULL", ())
    assert "review(customer_id) REFERENCES customer(id) is declared ON DELETE SET NULL" in sim.summary
    assert "not a foreign-key problem" not in sim.summary


@pytest.mark.parametrize(("text", "error", "broken"), [
    # the old violation fixed first counts nothing off: the new one fails COMMIT
    ("BEGIN; DELETE FROM auth_session WHERE id = 9; INSERT INTO auth_session VALUES (2, 42); COMMIT;",
     "FOREIGN KEY constraint failed", [(2, (42,))]),
    # fixed after the new one was counted, it counts it off: SQLite commits, the new orphan stays
    ("BEGIN; INSERT INTO auth_session VALUES (2, 42); DELETE FROM auth_session WHERE id = 9; COMMIT;", None, []),
    ("BEGIN; INSERT INTO auth_session VALUES (2, 42); INSERT INTO auth_user VALUES (404, 'x'); COMMIT;", None, []),
    # an orphan given another key that has no parent either is counted again
    ("BEGIN; UPDATE auth_session SET user_id = 405 WHERE id = 9; COMMIT;", "FOREIGN KEY constraint failed",
     [(9, (405,))]),
    ("UPDATE auth_session SET user_id = 405 WHERE id = 9", "FOREIGN KEY constraint failed", [(9, (405,))]),
])
def test_deferred_count_follows_sqlite_when_the_file_had_orphans(tmp_path, text, error, broken):
    path = build(tmp_path, "PRAGMA foreign_keys = OFF; INSERT INTO auth_session VALUES (9, 404);")
    assert sqlite_says(path, text) == error
    sim = run(path, text)
    assert sim.ok is (error is None)
    assert [(v.rowid, v.values) for v in sim.violations] == broken
    assert [(p.table, p.count) for p in sim.pre_existing] == [("auth_session", 1)]


def test_an_immediate_orphan_given_another_missing_key_is_listed(tmp_path):
    path = build(tmp_path, "PRAGMA foreign_keys = OFF; INSERT INTO \"order\" VALUES (50, 404, 'orphan');")
    text = "UPDATE \"order\" SET customer_id = 405 WHERE id = 50"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert [(v.rowid, v.values) for v in sim.violations] == [(50, (405,))] and sim.violations_total == 1


def test_one_row_breaking_several_keys_is_counted_as_one_row(tmp_path):
    path = build(tmp_path, "CREATE TABLE shipment (id INTEGER PRIMARY KEY, "
                           "customer_id INTEGER REFERENCES customer(id), "
                           "order_id INTEGER REFERENCES \"order\"(id), sku TEXT REFERENCES product(sku));")
    text = "INSERT INTO shipment VALUES (1, 7, 70, 'SKU-7')"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    sim = run(path, text)
    assert sim.violations_total == 3 and {v.rowid for v in sim.violations} == {1}
    assert "3 references broken (1 row of shipment)" in sim.summary


@pytest.mark.parametrize("setup, text", [
    # an orphan already there, and a new one in the same key
    ("PRAGMA foreign_keys = OFF; INSERT INTO \"order\" VALUES (20, 77, 'old orphan');",
     "INSERT INTO \"order\" VALUES (21, 78, 'new')"),
    # the old orphan re-keyed to another missing customer, and a good row re-keyed to a missing one
    ("PRAGMA foreign_keys = OFF; INSERT INTO \"order\" VALUES (20, 77, 'old orphan');",
     "UPDATE \"order\" SET customer_id = customer_id + 100 WHERE id IN (10, 20)"),
    # an old orphan fixed by the statement while another row breaks: SQLite's count nets to zero
    ("PRAGMA foreign_keys = OFF; INSERT INTO \"order\" VALUES (20, 77, 'old orphan');",
     "UPDATE \"order\" SET customer_id = CASE id WHEN 20 THEN 1 ELSE 99 END WHERE id IN (11, 20)"),
    # a trigger's insert breaks another table's key; a WITHOUT ROWID child; a composite key
    ("CREATE TRIGGER t AFTER INSERT ON audit BEGIN INSERT INTO \"order\" VALUES (NULL, 5, NEW.what); END;",
     "INSERT INTO audit VALUES ('x')"),
    ("", "INSERT INTO stock VALUES ('SKU-9', 'eu', 'Z')"),
    ("", "INSERT INTO \"line item\" VALUES (10, 'SKU-404', 1), (99, 'SKU-1', 1)"),
    # a parent re-keyed under its children
    ("", "UPDATE customer SET id = 9 WHERE id = 1"),
])
def test_capturing_written_rows_answers_as_checking_every_table(tmp_path, monkeypatch, setup, text):
    import toolkit.replay

    path = build(tmp_path, setup)
    said = sqlite_says(path, text)
    captured = run(path, text)
    assert captured.error == said and (said is None or captured.violations)
    monkeypatch.setattr(toolkit.replay, "MAX_CAPTURED_TABLES", 0)
    assert captured == run(path, text)


def test_a_virtual_parent_table_leaves_the_capture_out_and_the_answer_whole(tmp_path, monkeypatch):
    """SQLite puts no trigger on a virtual table: the rows a statement wrote are then found by
    checking every table, with the same answer."""
    import toolkit.replay

    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE v USING fts5(x)")
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no FTS5")
    path = build(tmp_path, "CREATE VIRTUAL TABLE docs USING fts5(title); "
                           "CREATE TABLE refs (id INTEGER PRIMARY KEY, t TEXT REFERENCES docs(title));")
    text = "INSERT INTO \"order\" VALUES (30, 99, 'x')"
    assert sqlite_says(path, text) == "FOREIGN KEY constraint failed"
    captured = run(path, text)
    assert [(v.table, v.rowid, str(v.reason)) for v in captured.violations] == [("order", 30, "missing-row")]
    monkeypatch.setattr(toolkit.replay, "MAX_CAPTURED_TABLES", 0)
    assert captured == run(path, text)
