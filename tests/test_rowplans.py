"""The row plans (repoint, unique-parent, orphans, retype): each through the CLI (`repair PLAN DB
--out/--sql`) and its --sql through the sqlite3 shell, on other applications' schemas (text and
integer keys, composite keys, WITHOUT ROWID, hostile names) and the samples; refusals are one
sentence with exit 2; the original is never changed."""
from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_sample, make_db
from other_apps import App, build
from toolkit.diagnosis import diagnose
from toolkit.safe_access import fingerprint

SHELL = shutil.which("sqlite3")

#: Webapp's users table rebuilt the way a migration does it with legacy_alter_table off: the rename
#: rewrote every REFERENCES "users" into "users_old", and the leftover was kept.
STALE_USERS = """
PRAGMA legacy_alter_table = OFF;
ALTER TABLE "users" RENAME TO "users_old";
CREATE TABLE "users" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "account_id" integer NOT NULL,
    "email" varchar NOT NULL, "created_at" datetime(6) NOT NULL);
INSERT INTO "users" SELECT * FROM "users_old";
INSERT INTO "users" VALUES (4, 1, 'dee@acme.test', '2024-02-01 09:00:00');
INSERT INTO "posts" VALUES (3, 4, NULL, 'New', 0, '2024-02-02 09:00:00');
"""

#: A table whose declaration is broken (its parent is gone): no repair elsewhere may depend on it.
BROKEN_ELSEWHERE = 'CREATE TABLE "audit" ("who" integer REFERENCES "nowhere" ("id"));\n'

UNTYPED = """
CREATE TABLE "parent ""p"" ü" ("key", "label" TEXT, PRIMARY KEY ("key"));
CREATE TABLE "child 'c'" ("id" INTEGER PRIMARY KEY, "the key" REFERENCES "parent ""p"" ü" ("key"), "note" TEXT);
INSERT INTO "parent ""p"" ü" VALUES (5, 'five'), ('7', 'seven'), (x'41', 'blob');
INSERT INTO "child 'c'" VALUES (1, '5', 'a'), (2, '05', 'b'), (3, 5, 'c'), (4, 7, 'd'), (5, 'zz', 'e'), (6, NULL, 'f');
"""


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """One sentence on stderr, exit 2, nothing on stdout, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def repaired(db: Path, out: Path, plan: str, *options: object) -> dict:
    """Apply a plan through the CLI (--json) and check what every repair must hold."""
    before = fingerprint(db)
    result = run("repair", plan, db, "--out", out, "--json", *options)
    assert result.returncode == 0, result.stderr
    assert fingerprint(db) == before  # the original, byte for byte, sidecars included
    data = json.loads(result.stdout)
    assert data["plan"] == plan and data["output"] == str(out) and data["proof"]["ok"]
    assert all(c["ok"] for c in data["proof"]["checks"]), data["proof"]
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    return data


def by_shell(db: Path, tmp_path: Path, plan: str, *options: object) -> Path:
    """The plan's --sql, run by the sqlite3 shell on a copy of the file."""
    if SHELL is None:
        pytest.skip("the sqlite3 shell (Debian package sqlite3) is not installed: .ci/system-deps installs it")
    result = run("repair", plan, db, "--sql", *options)
    assert result.returncode == 0, result.stderr
    target = tmp_path / f"shell-{plan}.db"
    shutil.copyfile(db, target)
    done = subprocess.run([SHELL, "-bail", str(target)], input=result.stdout, capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return target


def rows(db: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        quoted = '"' + table.replace('"', '""') + '"'
        return conn.execute(f"SELECT * FROM {quoted} ORDER BY 1, 2").fetchall()  # 5 and '5' differ in Python too
    finally:
        conn.close()


def schema(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").fetchall()
    finally:
        conn.close()


def violations(db: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT * FROM pragma_foreign_key_check(?)", (table,)).fetchall()
    finally:
        conn.close()


# ---- repoint ------------------------------------------------------------------------------------
def test_repoint_names_the_live_table_and_counts_the_rows_that_then_match(tmp_path):
    db = build(App.WEBAPP, tmp_path / "webapp.db", STALE_USERS + BROKEN_ELSEWHERE)
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "repoint", "--table", "posts", "--columns", "user_id")
    assert data["procedure"] == "writable-schema" and data["parent_table"] == "users"
    assert "3 of the 3 child row(s)" in data["summary"] and data["touched"] == []
    # only the chosen clause changed: the hostile-named column's clause still names the leftover
    declared = dict((r[1], r[2]) for r in schema(out))["posts"]
    assert declared == data["new_declaration"]
    assert 'FOREIGN KEY ("user_id") REFERENCES "users" ("id")' in declared
    assert 'FOREIGN KEY ("editor\'s ""pen"" id") REFERENCES "users_old"' in declared
    conn = sqlite3.connect(out)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("INSERT INTO posts (user_id, title, created_at) VALUES (4, 't', 'now')")  # user 4: only in users
    conn.commit()
    assert rows(out, "posts")[:3] == rows(db, "posts")  # every row as it was
    assert schema(by_shell(db, tmp_path, "repoint", "--table", "posts", "--columns", "user_id")) == schema(out)


def test_repoint_a_hostile_column_and_a_dropped_parent(tmp_path):
    db = build(App.WEBAPP, tmp_path / "webapp.db", STALE_USERS + 'DROP TABLE "users_old";')
    out = tmp_path / "fixed.db"
    column = 'editor\'s "pen" id'
    data = repaired(db, out, "repoint", "--table", "posts", "--columns", column)
    assert data["parent_table"] == "users"  # inferred from the dropped leftover's name
    assert 'FOREIGN KEY ("editor\'s ""pen"" id") REFERENCES "users" ("id")' in data["new_declaration"]
    shell = by_shell(db, tmp_path, "repoint", "--table", "posts", "--columns", column)
    assert schema(shell) == schema(out)


def test_repoint_of_the_samples(tmp_path):
    for name in ("cause_renamed_parent_stale.db", "cause_renamed_parent_dropped.db"):
        db = copy_sample(name, tmp_path)
        data = repaired(db, tmp_path / f"fixed-{name}", "repoint")
        assert data["remaining"] == 0 and "240 of the 240" in data["summary"]


def test_repoint_refusals_are_one_sentence(tmp_path):
    db = build(App.WEBAPP, tmp_path / "webapp.db", STALE_USERS)
    refused(run("repair", "repoint", db, "--out", tmp_path / "o.db"), "3 keys qualify", "--columns")
    refused(run("repair", "repoint", db, "--table", "posts", "--columns", "user_id", "--to", "tags", "--out",
                tmp_path / "o.db"), "tags has no column(s) id")
    refused(run("repair", "repoint", db, "--table", "tags", "--out", tmp_path / "o.db"), "no foreign key")
    refused(run("repair", "repoint", db, "--table", "nope", "--sql"), "no such table")
    assert not (tmp_path / "o.db").exists()


def test_repoint_refuses_a_live_table_without_the_key(tmp_path):
    db = tmp_path / "shop.db"
    make_db(db, "CREATE TABLE customers (id INTEGER, name TEXT); CREATE TABLE orders (id INTEGER PRIMARY KEY, "
                "customer_id INTEGER REFERENCES customers_old(id));")
    refused(run("repair", "repoint", db, "--out", tmp_path / "o.db"), "customers(id) is neither a PRIMARY KEY nor "
                                                                       "UNIQUE", "unique-parent")


# ---- unique-parent ------------------------------------------------------------------------------
def test_unique_parent_gets_an_index_with_the_columns_collation(tmp_path):
    db = tmp_path / "codes.db"
    make_db(db, """CREATE TABLE "code list" ("code" TEXT COLLATE NOCASE, "label" TEXT);
        CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT REFERENCES "code list" ("code"));
        INSERT INTO "code list" VALUES ('a', 'A'), ('b', 'B'), (NULL, 'none'), (NULL, 'none again');
        INSERT INTO items VALUES (1, 'a'), (2, 'B'), (3, 'c');""" + BROKEN_ELSEWHERE)
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "unique-parent", "--table", "items")
    assert data["remaining"] == 1 and "repair orphans next" in data["summary"]  # 'c' has no parent
    assert data["statements"] == ["BEGIN", 'CREATE UNIQUE INDEX "code list_code_unique" ON "code list" ("code")',
                                  "COMMIT"]
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT coll FROM pragma_index_xinfo('code list_code_unique') WHERE key").fetchall() == \
        [("NOCASE",)]
    assert conn.execute("SELECT * FROM pragma_foreign_key_check('items')").fetchall() == [("items", 3, "code list", 0)]
    conn.close()
    assert schema(by_shell(db, tmp_path, "unique-parent", "--table", "items")) == schema(out)


def test_unique_parent_refuses_with_the_duplicate_keys(tmp_path):
    db = tmp_path / "dupes.db"
    make_db(db, "CREATE TABLE p (k TEXT, x); CREATE TABLE c (k REFERENCES p(k));"
                "INSERT INTO p VALUES ('a', 1), ('a', 2), ('b', 1), ('b', 2), ('b', 3), ('c', 1);")
    refused(run("repair", "unique-parent", db, "--out", tmp_path / "o.db"), "2 duplicate key(s)", "'a' (2 rows)",
            "'b' (3 rows)")
    assert not (tmp_path / "o.db").exists()


def test_unique_parent_of_the_sample(tmp_path):
    db = copy_sample("cause_parent_pk_dropped.db", tmp_path)
    data = repaired(db, tmp_path / "fixed.db", "unique-parent")
    assert data["table"] == "veo3_projects" and data["remaining"] == 0


# ---- orphans ------------------------------------------------------------------------------------
def test_orphans_without_an_action_only_lists_and_exits_1(tmp_path):
    db = build(App.CHINOOK, tmp_path / "chinook.db", "INSERT INTO [InvoiceLine] VALUES (4, 1, 99, 0.99, 1);")
    result = run("repair", "orphans", db, "--out", tmp_path / "o.db", "--json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["touched"] == [{"table": "InvoiceLine", "key": [4], "change": "violates"}]
    assert data["statements"] == [] and data["output"] is None and not (tmp_path / "o.db").exists()


def test_orphans_delete_on_chinook(tmp_path):
    db = build(App.CHINOOK, tmp_path / "chinook.db",
               "INSERT INTO [InvoiceLine] VALUES (4, 1, 99, 0.99, 1), (5, 2, 98, 0.99, 1);" + BROKEN_ELSEWHERE)
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "orphans", "--table", "InvoiceLine", "--action", "delete")
    assert [t["key"] for t in data["touched"]] == [[4], [5]]
    assert [r[0] for r in rows(out, "InvoiceLine")] == [1, 2, 3] and violations(out, "InvoiceLine") == []
    assert rows(by_shell(db, tmp_path, "orphans", "--table", "InvoiceLine", "--action", "delete"),
                "InvoiceLine") == rows(out, "InvoiceLine")


def test_orphans_delete_refuses_to_orphan_the_rows_referencing_them(tmp_path):
    """Employee 4 reports to a manager who is gone, and employee 5 reports to 4."""
    db = build(App.CHINOOK, tmp_path / "chinook.db",
               "INSERT INTO [Employee] VALUES (4, 'Park', 'Margaret', NULL, 99, NULL), (5, 'J', 'S', NULL, 4, NULL);")
    refused(run("repair", "orphans", db, "--table", "Employee", "--action", "delete", "--out", tmp_path / "o.db"),
            "1 row(s) of Employee referencing them")
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "orphans", "--table", "Employee", "--action", "set-null")
    assert data["touched"] == [{"table": "Employee", "key": [4], "change": "set ReportsTo = NULL"}]
    assert [r[4] for r in rows(out, "Employee")] == [None, 1, 2, None, 4]


def test_orphans_set_null_on_sakila_and_refused_on_a_not_null_key(tmp_path):
    db = build(App.SAKILA, tmp_path / "sakila.db",
               "INSERT INTO payment VALUES (2, 1, 1, 77, 0.99, '2005-05-25', '2006-02-15'),"
               " (3, 1, 9, 1, 0.99, '2005-05-25', '2006-02-15');")
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "orphans", "--table", "payment", "--columns", "rental_id", "--action", "set-null")
    assert [t["key"] for t in data["touched"]] == [[2]]
    assert [r[3] for r in rows(out, "payment")] == [1, None, 1]
    assert violations(out, "payment") == [("payment", 3, "staff", 0)]  # another key's orphan: not this plan's
    assert rows(by_shell(db, tmp_path, "orphans", "--table", "payment", "--columns", "rental_id", "--action",
                         "set-null"), "payment") == rows(out, "payment")
    refused(run("repair", "orphans", db, "--table", "payment", "--columns", "staff_id", "--action", "set-null",
                "--out", tmp_path / "o.db"), "payment.staff_id is NOT NULL")
    refused(run("repair", "orphans", db, "--table", "payment", "--out", tmp_path / "o.db", "--action", "delete"),
            "2 keys qualify")


def test_orphans_placeholder_for_a_text_key_of_a_without_rowid_table(tmp_path):
    db = build(App.WEBAPP, tmp_path / "webapp.db", "INSERT INTO taggings VALUES (2, 'perl'), (1, 'go'), (2, 'go');")
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "orphans", "--table", "taggings", "--action", "placeholder")
    assert data["touched"] == [{"table": "tags", "key": ["go"], "change": "insert placeholder"},
                               {"table": "tags", "key": ["perl"], "change": "insert placeholder"}]
    assert rows(out, "tags") == [("go", None), ("perl", None), ("ruby", "red"), ("sqlite", "blue")]
    assert rows(out, "taggings") == rows(db, "taggings") and violations(out, "taggings") == []
    assert rows(by_shell(db, tmp_path, "orphans", "--table", "taggings", "--action", "placeholder"), "tags") == \
        rows(out, "tags")
    deleted = repaired(db, tmp_path / "deleted.db", "orphans", "--table", "taggings", "--action", "delete")
    assert sorted(t["key"] for t in deleted["touched"]) == [[1, "go"], [2, "go"], [2, "perl"]]


def test_orphans_placeholder_for_a_composite_key(tmp_path):
    db = build(App.CHINOOK, tmp_path / "chinook.db",
               "INSERT INTO [PlaylistTrackPlay] VALUES (2, 2, 1, '2024-03-02'), (3, 9, 9, '2024-03-03');")
    refused(run("repair", "orphans", db, "--table", "PlaylistTrackPlay", "--action", "placeholder", "--out",
                tmp_path / "o.db"), "a placeholder row (9, 9) in PlaylistTrack would itself violate")
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM PlaylistTrackPlay WHERE PlayId = 3")
    conn.commit()
    conn.close()
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "orphans", "--table", "PlaylistTrackPlay", "--action", "placeholder")
    assert data["touched"] == [{"table": "PlaylistTrack", "key": [2, 1], "change": "insert placeholder"}]
    assert (2, 1) in rows(out, "PlaylistTrack") and violations(out, "PlaylistTrackPlay") == []


def test_orphans_refuses_a_trigger_that_would_write_more(tmp_path):
    db = build(App.DJANGO, tmp_path / "django.db",
               'INSERT INTO "auth_user_groups" VALUES (2, 9, 1);'
               'CREATE TABLE "log" ("what" text);'
               'CREATE TRIGGER "keep_log" AFTER DELETE ON "auth_user_groups" BEGIN '
               "INSERT INTO log VALUES ('deleted'); END;")
    refused(run("repair", "orphans", db, "--action", "delete", "--out", tmp_path / "o.db"), "keep_log")
    # set-null is refused on the NOT NULL key; the listing still works
    listing = run("repair", "orphans", db)
    assert listing.returncode == 1 and "auth_user_groups [2]: violates" in listing.stdout


def test_orphans_of_the_sample(tmp_path):
    db = copy_sample("cause_orphan_rows.db", tmp_path)
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "orphans", "--action", "delete")
    assert len(data["touched"]) == 4 and violations(out, "veo3_video_upscales") == []


# ---- retype -------------------------------------------------------------------------------------
def test_retype_converts_only_exact_matches_with_hostile_names(tmp_path):
    db = tmp_path / "untyped.db"
    make_db(db, UNTYPED)
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "retype")
    assert [(t["key"], t["change"]) for t in data["touched"]] == [([1], "the key '5' -> 5"), ([4], "the key 7 -> '7'")]
    assert [t["key"] for t in data["skipped"]] == [[2], [5]] and data["remaining"] == 2
    assert [(r[1], r[2]) for r in rows(out, "child 'c'")] == [(5, "a"), ("05", "b"), (5, "c"), ("7", "d"),
                                                               ("zz", "e"), (None, "f")]
    conn = sqlite3.connect(out)
    assert conn.execute("""SELECT typeof("the key") FROM "child 'c'" WHERE id IN (1, 4) ORDER BY id""").fetchall() \
        == [("integer",), ("text",)]
    conn.close()
    assert rows(by_shell(db, tmp_path, "retype"), "child 'c'") == rows(out, "child 'c'")


def test_retype_refuses_when_the_child_column_would_undo_it(tmp_path):
    """The sample's children hold '17' in a TEXT column: stored there, 17 becomes '17' again."""
    db = copy_sample("cause_type_mismatch.db", tmp_path)
    refused(run("repair", "retype", db, "--out", tmp_path / "o.db"), "TEXT affinity would store it as '17' again")


# ---- the command ----------------------------------------------------------------------------------
def test_repair_needs_out_or_sql_and_never_overwrites(tmp_path):
    db = build(App.CHINOOK, tmp_path / "chinook.db", "INSERT INTO [InvoiceLine] VALUES (4, 1, 99, 0.99, 1);")
    refused(run("repair", "orphans", db, "--action", "delete"), "--out")
    (tmp_path / "taken.db").write_bytes(b"keep")
    result = run("repair", "orphans", db, "--action", "delete", "--out", tmp_path / "taken.db")
    assert result.returncode == 2 and (tmp_path / "taken.db").read_bytes() == b"keep"
    refused(run("repair", "orphans", db, "--action", "delete", "--out", db), "customer's file itself")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fk-toolkit")]  # no work folder left


def test_diagnose_answer_ends_with_the_repair_command(tmp_path):
    db = build(App.CHINOOK, tmp_path / "chinook.db", "INSERT INTO [InvoiceLine] VALUES (4, 1, 99, 0.99, 1);")
    answer = diagnose(db).answer
    command = f"python -m toolkit repair orphans {db} --table InvoiceLine --columns TrackId --action delete"
    assert answer.endswith(f"Repair with: {command} --out FIXED.db")
    stale = build(App.WEBAPP, tmp_path / "webapp.db", STALE_USERS)
    assert diagnose(stale).answer.endswith(f"Repair with: python -m toolkit repair repoint {stale} --table comments "
                                           "--columns user_id --to users --out FIXED.db")
    run_it = run(*command.split()[3:], "--out", tmp_path / "fixed.db")
    assert run_it.returncode == 0, run_it.stderr


def test_orphans_delete_with_hostile_names_through_the_shell(tmp_path):
    db = tmp_path / "untyped.db"
    make_db(db, UNTYPED)
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "orphans", "--table", "child 'c'", "--columns", "the key", "--action", "delete")
    assert [t["key"] for t in data["touched"]] == [[1], [2], [4], [5]]  # NULL keys are never orphans
    assert [r[0] for r in rows(out, "child 'c'")] == [3, 6]
    assert rows(by_shell(db, tmp_path, "orphans", "--table", "child 'c'", "--action", "delete"), "child 'c'") == \
        rows(out, "child 'c'")


def test_the_proof_sees_a_row_the_plan_did_not_list(tmp_path):
    """prove_rows on a copy where one more row changed than the plan lists: it fails, naming the check."""
    from toolkit.plan import OrphanAction
    from toolkit.rowplans import execute_rows_plan, plan_orphans, prove_rows
    from toolkit.schema import read_schema

    db = build(App.CHINOOK, tmp_path / "chinook.db", "INSERT INTO [InvoiceLine] VALUES (4, 1, 99, 0.99, 1);")
    after = tmp_path / "after.db"
    shutil.copyfile(db, after)
    conn = sqlite3.connect(after, isolation_level=None)
    info = read_schema(conn, database=str(db))
    plan = plan_orphans(conn, info, table="InvoiceLine", action=OrphanAction.DELETE)
    execute_rows_plan(conn, plan)
    conn.execute("ATTACH DATABASE ? AS before", (str(db),))
    assert prove_rows(conn, info, plan).ok
    conn.execute("UPDATE InvoiceLine SET Quantity = 2 WHERE InvoiceLineId = 1")
    proof = prove_rows(conn, info, plan)
    assert not proof.ok and proof.problems == (
        "exactly the 1 listed row(s) of InvoiceLine deleted, every other row identical",)
    conn.close()


def test_another_plans_options_are_refused(tmp_path):
    db = build(App.CHINOOK, tmp_path / "chinook.db", "INSERT INTO [InvoiceLine] VALUES (4, 1, 99, 0.99, 1);")
    refused(run("repair", "orphans", db, "--to", "Track", "--sql"), "--to belongs to repair repoint")
    refused(run("repair", "retype", db, "--action", "delete", "--sql"), "--action belongs to repair orphans")
    refused(run("repair", "orphans", db, "--rebuild", "--sql"), "--rebuild")
    refused(run("repair", "unique-parent", db, "--not-null", "--sql"), "--not-null")


def test_a_write_ahead_log_is_part_of_the_file_repaired(tmp_path):
    """The orphan exists only in the customer's un-checkpointed -wal: the repair sees and removes it."""
    db = build(App.CHINOOK, tmp_path / "chinook.db")
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO [InvoiceLine] VALUES (4, 1, 99, 0.99, 1)")
    try:
        assert Path(f"{db}-wal").stat().st_size > 0
        out = tmp_path / "fixed.db"
        data = repaired(db, out, "orphans", "--action", "delete")
        assert [t["key"] for t in data["touched"]] == [[4]] and not Path(f"{out}-wal").exists()
        assert [r[0] for r in rows(out, "InvoiceLine")] == [1, 2, 3]
    finally:
        writer.close()


def test_sigkill_at_random_points_leaves_no_output_or_a_complete_proven_one(tmp_path):
    import random
    import signal
    import time

    db = tmp_path / "big.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);"
                       "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), "
                       "payload TEXT);"
                       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
                       "INSERT INTO parent SELECT i, 'p' || i FROM n;"
                       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) "
                       "INSERT INTO child SELECT i, i % 2300, hex(randomblob(40)) FROM n;")
    conn.close()
    before = fingerprint(db)
    command = [sys.executable, "-m", "toolkit", "repair", "orphans", str(db), "--action", "delete", "--out"]
    start = time.perf_counter()
    subprocess.run([*command, str(tmp_path / "timing.db")], check=True, capture_output=True)
    full = time.perf_counter() - start
    expected = rows(tmp_path / "timing.db", "child")
    assert violations(tmp_path / "timing.db", "child") == [] and len(expected) < 60000
    rng = random.Random(20261126)
    outcomes = {"absent": 0, "complete": 0}
    for i in range(8):
        out = tmp_path / f"fixed{i}.db"
        proc = subprocess.Popen([*command, str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, full * 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if out.exists():
            outcomes["complete"] += 1
            assert rows(out, "child") == expected
        else:
            outcomes["absent"] += 1
        assert not Path(f"{out}-wal").exists() and not Path(f"{out}-journal").exists()
    assert fingerprint(db) == before and outcomes["absent"] >= 1, outcomes


STRICT_SHOP = """
CREATE TABLE cat (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT DEFAULT 'unnamed',
    slug TEXT GENERATED ALWAYS AS (lower(name)) VIRTUAL) STRICT;
CREATE TABLE item (id INTEGER PRIMARY KEY, cat_id INTEGER REFERENCES cat(id), price REAL NOT NULL,
    total REAL GENERATED ALWAYS AS (price * 2) STORED) STRICT;
CREATE VIEW priced AS SELECT item.id, cat.name, item.total FROM item JOIN cat ON cat.id = item.cat_id;
INSERT INTO cat (name) VALUES ('A'), ('B');
INSERT INTO item (id, cat_id, price) VALUES (1, 1, 1.5), (2, 7, 2.5), (3, 8, 3.5), (4, NULL, 1);
"""


@pytest.mark.parametrize("action", ["placeholder", "set-null", "delete"])
def test_orphans_of_strict_tables_with_generated_columns_and_autoincrement(tmp_path, action):
    db = tmp_path / "shop.db"
    make_db(db, STRICT_SHOP)
    out = tmp_path / "fixed.db"
    data = repaired(db, out, "orphans", "--action", action)
    assert len(data["touched"]) == 2 and violations(out, "item") == []
    table = "cat" if action == "placeholder" else "item"
    if action == "placeholder":  # the defaults and the generated column fill the placeholders
        assert rows(out, "cat")[2:] == [(7, "unnamed", "unnamed"), (8, "unnamed", "unnamed")]
    assert rows(by_shell(db, tmp_path, "orphans", "--action", action), table) == rows(out, table)


def test_a_key_value_cannot_smuggle_a_shell_command_into_the_script(tmp_path):
    """The script's comments list the rows: a key value with a line break must not start a line of its own."""
    marker = tmp_path / "pwned"
    db = build(App.WEBAPP, tmp_path / "webapp.db",
               f"INSERT INTO taggings VALUES (2, 'x' || char(10) || '.shell touch {marker}' || char(13) || '.q');")
    result = run("repair", "orphans", db, "--action", "delete", "--sql")
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith(".")]
    shell = by_shell(db, tmp_path, "orphans", "--action", "delete")
    assert not marker.exists() and len(rows(shell, "taggings")) == 3


def test_diagnose_suggests_nothing_for_what_no_plan_repairs(tmp_path):
    db = tmp_path / "gone.db"
    make_db(db, "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id REFERENCES customers (id));"
                "CREATE TABLE z_parent (k TEXT); CREATE TABLE z_child (k REFERENCES z_parent (k));")
    answer = diagnose(db).answer
    assert "REFERENCES customers, which does not exist" in answer and "Repair with" not in answer
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE orders")
    conn.close()
    assert diagnose(db).answer.endswith(f"Repair with: python -m toolkit repair unique-parent {db} --table z_child "
                                        "--columns k --out FIXED.db")


@pytest.mark.parametrize("value", [0, -7, 2**63 - 1, 1.5, 0.1, 1e300, float("inf"), float("-inf"), "", "it's",
                                   "ü\n.shell", b"", b"\x00\xff", None])
def test_a_literal_reads_back_as_the_same_value(value):
    from toolkit.sqlnames import literal

    conn = sqlite3.connect(":memory:")
    (back,) = conn.execute(f"SELECT {literal(value)}").fetchone()
    assert back == value and type(back) is type(value)


def test_the_json_of_a_row_repair_is_pinned(tmp_path):
    db = build(App.CHINOOK, tmp_path / "chinook.db", "INSERT INTO [InvoiceLine] VALUES (4, 1, 99, 0.99, 1);")
    data = repaired(db, tmp_path / "fixed.db", "orphans", "--action", "delete")
    assert set(data) == {"plan", "table", "columns", "parent_table", "procedure", "action", "summary", "output",
                         "touched", "skipped", "remaining", "new_declaration", "statements", "proof", "seconds"}
    assert (data["table"], data["columns"], data["parent_table"], data["procedure"], data["action"]) == \
        ("InvoiceLine", ["TrackId"], "Track", "statements", "delete")
    assert set(data["proof"]) == {"ok", "checks"} and set(data["proof"]["checks"][0]) == {"check", "ok"}
    assert data["proof"]["checks"][-1] == {"check": "the original is byte-identical (SHA-256, sidecars included)",
                                           "ok": True}


STATEMENT_CASES = [
    # a REFERENCES left pointing at the leftover of a rebuild: repoint to the live table
    ("CREATE TABLE users (id INTEGER PRIMARY KEY); CREATE TABLE users_old (id INTEGER PRIMARY KEY);"
     "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users_old(id));"
     "INSERT INTO users VALUES (1);", "INSERT INTO posts VALUES (1, 1)", "repoint", "--to users"),
    # a parent key that lost its UNIQUE: unique-parent
    ("CREATE TABLE tags (name TEXT); CREATE TABLE notes (id INTEGER PRIMARY KEY, tag TEXT REFERENCES tags(name));"
     "INSERT INTO tags VALUES ('a');", "INSERT INTO notes VALUES (1, 'a')", "unique-parent", "--columns tag"),
]


@pytest.mark.parametrize("schema, statement, plan, words", STATEMENT_CASES, ids=["repoint", "unique-parent"])
def test_a_failing_statements_answer_ends_with_the_repair_and_the_repair_makes_it_succeed(tmp_path, schema, statement,
                                                                                            plan, words):
    db = tmp_path / "app.db"
    make_db(db, schema)
    d = diagnose(db, sql=statement)
    assert not d.statement_simulation.ok
    command = d.answer.split("Repair with: ", 1)[1]
    assert command.startswith(f"python -m toolkit repair {plan} ") and words in command
    fixed = tmp_path / "fixed.db"
    args = shlex.split(command.replace("python -m toolkit ", "", 1).replace("FIXED.db", str(fixed)))
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert diagnose(fixed, sql=statement).statement_simulation.ok


def test_a_missing_parent_row_gets_no_repair_command(tmp_path):
    db = tmp_path / "app.db"
    make_db(db, "CREATE TABLE users (id INTEGER PRIMARY KEY);"
                "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));")
    d = diagnose(db, sql="INSERT INTO posts VALUES (1, 7)")
    assert "missing-row" in {str(v.reason) for v in d.statement_simulation.violations}
    assert "Repair with" not in d.answer
