"""The guards on every connection to a customer's copy, each checked against the SQLite that runs."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import make_db

from toolkit import errors, guards
from toolkit.safe_access import connect, open_copy, sqlite_errors


def test_every_function_of_this_sqlite_is_classified():
    """A newer SQLite adds functions: each must be judged pure (allowed) or not (denied) by hand."""
    conn = sqlite3.connect(":memory:")
    names = {r[0].lower() for r in conn.execute("SELECT name FROM pragma_function_list")}
    unclassified = names - guards.BUILTIN_FUNCTIONS - guards.DENIED_FUNCTIONS
    assert unclassified == set()
    assert not guards.BUILTIN_FUNCTIONS & guards.DENIED_FUNCTIONS


def test_every_limit_is_set(tmp_path):
    conn = connect(tmp_path / "x.db")
    for limit, value in guards.LIMITS.items():
        assert conn.getlimit(limit) == value
    assert conn.execute("PRAGMA hard_heap_limit").fetchone()[0] == guards.HEAP_LIMIT
    assert conn.execute("PRAGMA recursive_triggers").fetchone() == (0,)


def _schema_with_builtins(path):
    make_db(path, """
        CREATE TABLE settings(id INTEGER PRIMARY KEY, body TEXT CHECK (json_valid(body)),
                              k AS (json_extract(body, '$.k')), made TEXT DEFAULT (strftime('%Y', 'now')));
        CREATE INDEX settings_k ON settings(json_extract(body, '$.k'));
        INSERT INTO settings(body) VALUES ('{"k": 1}');
        CREATE VIEW rounded AS SELECT round(abs(k) * pi(), 2) AS r FROM settings;
    """)


def test_sqlite_refuses_json_in_an_untrusted_schema_and_the_guarded_connection_reads_it(tmp_path):
    """The rule behind trusted_schema = ON: SQLite 3.40 refuses a schema that uses JSON functions
    when the schema is untrusted; with the authorizer in its place the same file reads."""
    path = tmp_path / "json.db"
    _schema_with_builtins(path)
    plain = sqlite3.connect(path)
    plain.execute("PRAGMA trusted_schema = OFF")
    refused = None
    try:
        plain.execute("INSERT INTO settings(body) VALUES ('{\"k\": 2}')")
    except sqlite3.DatabaseError as exc:  # "malformed database schema (settings) - unsafe use of ..."
        refused = str(exc)
    plain.close()
    if sqlite3.sqlite_version_info < (3, 45):  # JSON functions are innocuous from 3.45 on
        assert refused and "unsafe use of" in refused
    guarded = connect(path)
    guarded.execute("INSERT INTO settings(body) VALUES ('{\"k\": 2}')")
    assert guarded.execute("SELECT count(*), max(k) FROM settings").fetchone() == (2, 2)
    assert guarded.execute("SELECT r FROM rounded ORDER BY r").fetchall() == [(3.14,), (6.28,)]
    guarded.close()


def test_views_and_triggers_may_call_only_builtins(tmp_path):
    path = tmp_path / "f.db"
    conn = sqlite3.connect(path)
    conn.create_function("app_function", 0, lambda: 1)  # the app registers it; the toolkit never does
    conn.executescript("""
        CREATE TABLE t(a);
        CREATE VIEW loads AS SELECT load_extension('/tmp/nothing') AS x;
        CREATE TRIGGER logs AFTER INSERT ON t BEGIN SELECT sqlite_log(1, 'x'); END;
    """)
    conn.close()
    guarded = connect(path)
    # load_extension() is also SQLITE_DIRECTONLY: SQLite itself refuses it in a view
    with pytest.raises(sqlite3.DatabaseError, match="unsafe use|not authorized"):
        guarded.execute("SELECT * FROM loads").fetchall()
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        guarded.execute("INSERT INTO t VALUES (1)")
    assert "function sqlite_log()" in guarded.authorizer.denied
    with pytest.raises(errors.UnsafeContentError, match="built-ins"), sqlite_errors(path):
        guarded.execute("INSERT INTO t VALUES (1)")


def test_own_writes_fire_no_trigger(tmp_path):
    path = tmp_path / "f.db"
    make_db(path, """
        CREATE TABLE log(a); CREATE TABLE other(a); INSERT INTO other VALUES (1), (2);
        CREATE TRIGGER wipe AFTER INSERT ON log BEGIN DELETE FROM other; END;
    """)
    guarded = connect(path)
    guarded.authorizer.own_writes = True
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        guarded.execute("INSERT INTO log VALUES (1)")
    guarded.authorizer.own_writes = False
    assert guarded.execute("SELECT count(*) FROM other").fetchone() == (2,)
    guarded.execute("INSERT INTO log VALUES (1)")  # as the app would: the trigger runs
    assert guarded.execute("SELECT count(*) FROM other").fetchone() == (0,)


@pytest.mark.parametrize("sql", [
    "SELECT length(printf('%.*c', 900000000, 'x'))",
    "SELECT length(printf('%.*c', 900000, 'x')) + length(printf('%.*c', 900000, 'y'))",
    "SELECT length(zeroblob(2000000000))",
    "SELECT length(randomblob(1000000000))",
    "SELECT length(replace(printf('%.*c', 50000000, 'a'), 'a', 'abc'))",
    "SELECT length(group_concat(printf('%.*c', 1000000, 'x'))) FROM (WITH RECURSIVE c(x) AS "
    "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT x FROM c)",
])
def test_memory_bombs_stop_at_a_limit(tmp_path, sql):
    """Each either fails with the limit named, or SQLite cuts its result at the value limit."""
    conn = connect(tmp_path / "x.db")
    try:
        with sqlite_errors(tmp_path / "x.db"):
            (length,) = conn.execute(sql).fetchone()
    except errors.LimitExceededError as exc:
        assert "limit" in exc.message
    else:
        assert length is None or length <= guards.MAX_VALUE_BYTES  # printf gives NULL past the limit


def test_deep_expressions_meet_a_limit_not_a_damage_verdict(tmp_path):
    conn = connect(tmp_path / "x.db")
    with pytest.raises(errors.LimitExceededError, match="Expression tree is too large"), sqlite_errors("x.db"):
        conn.execute("SELECT " + "+".join(["1"] * 1200)).fetchall()


def test_the_deadline_names_its_limit(tmp_path):
    conn = connect(tmp_path / "x.db", time_limit=0.5)
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    started = time.monotonic()
    with pytest.raises(errors.QueryTimeoutError, match=r"time limit \(0.5 s\)"), sqlite_errors("x.db"):
        conn.execute(endless).fetchall()
    assert time.monotonic() - started < 5
    assert conn.deadline.stopped is guards.Stop.DEADLINE


def test_default_time_limit_scales_with_size(monkeypatch):
    monkeypatch.delenv("TOOLKIT_TIME_LIMIT", raising=False)
    assert guards.default_time_limit(0) == guards.BASE_TIME_LIMIT
    assert guards.default_time_limit(500 * guards.MB) == guards.BASE_TIME_LIMIT + 100
    monkeypatch.setenv("TOOLKIT_TIME_LIMIT", "7")
    assert guards.default_time_limit(500 * guards.MB) == 7


def test_view_nesting_is_counted_from_the_text():
    chain = [("v0", "CREATE VIEW v0 AS SELECT a FROM t")]
    chain += [(f"v{i}", f'CREATE VIEW v{i} AS SELECT a FROM "v{i - 1}"') for i in range(1, 3000)]
    nesting = guards.view_nesting(chain)
    assert (nesting.depth, nesting.deepest, nesting.too_deep) == (3000, "v2999", True)
    fan = [("f0", "CREATE VIEW f0 AS SELECT 1")]
    fan += [(f"f{i}", f"CREATE VIEW f{i} AS SELECT * FROM f{i - 1} a, f{i - 1} b") for i in range(1, 40)]
    fanned = guards.view_nesting(fan)
    assert fanned.expansion > guards.MAX_VIEW_EXPANSION and fanned.too_deep
    ordinary = guards.view_nesting([("a", "CREATE VIEW a AS SELECT 1"), ("b", "CREATE VIEW b AS SELECT * FROM a")])
    assert (ordinary.depth, ordinary.expansion, ordinary.too_deep) == (2, 2, False)


def test_a_deep_view_chain_is_refused_before_sqlite_expands_it(tmp_path):
    from hostile import make_case

    path = make_case("20,000 chained views", tmp_path).db
    with pytest.raises(errors.LimitExceededError, match="nested 20000 deep"), open_copy(path):
        pass


def test_super_journal_record_is_read_as_sqlite_reads_it():
    name = b"/tmp/canary"
    record = (b"\x00" * 512 + (0x40000000 // 4096 + 1).to_bytes(4, "big") + name
              + len(name).to_bytes(4, "big") + sum(name).to_bytes(4, "big") + guards.JOURNAL_MAGIC)
    assert guards.super_journal(record) == name
    assert guards.super_journal(b"\x00" * 600) is None
    assert guards.super_journal(record[:-1] + b"\x00") is None


def test_ctrl_c_exits_130_with_one_sentence(tmp_path):
    path = tmp_path / "slow.db"
    make_db(path, """
        CREATE TABLE t(a);
        CREATE VIEW endless AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c;
        CREATE TABLE veo3_video_upscales(id TEXT PRIMARY KEY, source_generation_id TEXT, profile_id TEXT,
                                         project_id TEXT);
        CREATE TRIGGER forever BEFORE INSERT ON veo3_video_upscales BEGIN SELECT count(*) FROM endless; END;
        CREATE TABLE veo3_video_generations(id TEXT PRIMARY KEY, profile_id TEXT, project_id TEXT, created_at TEXT);
        INSERT INTO veo3_video_generations VALUES ('g', 'p', 'q', '2026');
    """)
    env = {**os.environ, "TOOLKIT_TIME_LIMIT": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "diagnose", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # well inside the endless trigger
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Ctrl-C" in err and "Traceback" not in err


def test_printf_is_sqlites_own_with_its_endless_repeat_refused(tmp_path):
    conn = connect(tmp_path / "x.db")
    plain = sqlite3.connect(":memory:")
    for sql in ("SELECT printf('%5.2f|%d|%-4s|%c|%x', 3.14159, 42, 'ab', 'q', 255)", "SELECT format('%.*c', 3, 'x')",
                "SELECT printf('%s and %s', 'one', x'41')", "SELECT printf(NULL)"):
        assert conn.execute(sql).fetchone() == plain.execute(sql).fetchone()
    started = time.monotonic()
    with pytest.raises(errors.LimitExceededError, match="printf"), sqlite_errors("x.db"):
        conn.execute("SELECT printf('%.*c', 900000000, 'x')").fetchone()
    assert time.monotonic() - started < 1  # SQLite's own takes seconds in one uninterruptible call


def test_the_deadline_is_checked_between_small_statements(tmp_path):
    conn = connect(tmp_path / "x.db", time_limit=0.2)
    time.sleep(0.3)
    with pytest.raises(errors.QueryTimeoutError), sqlite_errors("x.db"):
        conn.cursor().execute("SELECT 1")
