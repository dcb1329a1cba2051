"""The app's failing script: split as SQLite splits it, checked before anything runs."""
import sqlite3

import pytest

from conftest import make_db

from toolkit import errors
from toolkit.safe_access import connect
from toolkit.sqlite_codes import Kind, kind_of
from toolkit.statements import (
    Refusal,
    StatementKind,
    authorizer_for_replay,
    parse_script,
)

K = StatementKind


def kinds(text: str) -> list[StatementKind]:
    return [s.kind for s in parse_script(text, "--sql").statements]


# --------------------------------------------------------------------------- scripts as apps log them
DJANGO = """BEGIN;
INSERT INTO "library_book" ("title", "author_id", "published") VALUES ('Dune; the novel', 7, '1965-08-01');
UPDATE "library_author" SET "books" = "books" + 1 WHERE "library_author"."id" = 7;
COMMIT;"""

RAILS = """begin transaction
;INSERT INTO "comments" ("body", "post_id", "created_at") VALUES ('it''s -- not a comment', 3, '2024-01-02')
;commit transaction"""

PRISMA = ("BEGIN IMMEDIATE\nINSERT INTO `main`.`Post` (`title`,`authorId`) VALUES ('a /* b */ c',42) "
          "RETURNING `id`, `title`\nCOMMIT")


def test_a_django_transaction_splits_into_its_statements():
    script = parse_script(DJANGO, "--sql")
    assert [s.kind for s in script.statements] == [K.BEGIN, K.INSERT, K.UPDATE, K.COMMIT]
    assert [s.number for s in script.statements] == [1, 2, 3, 4]
    assert script.statements[1].sql.endswith("'1965-08-01')")  # the semicolon inside the string stayed
    assert script.explicit_transaction and script.statements[1].writes


def test_rails_statements_with_leading_semicolons_and_a_quote_in_a_string():
    script = parse_script(RAILS, "log.txt")
    assert [s.kind for s in script.statements] == [K.BEGIN, K.INSERT, K.COMMIT]
    assert "'it''s -- not a comment'" in script.statements[1].sql


def test_prisma_statements_without_semicolons_are_one_statement_until_sqlite_says_so():
    # no semicolons at all: SQLite would read it as one statement, and it does not parse
    with pytest.raises(errors.BadStatementError, match="statement 1, beginning 'BEGIN IMMEDIATE INSERT"):
        parse_script(PRISMA, "--sql")
    script = parse_script(PRISMA.replace("\n", ";\n"), "--sql")
    assert [s.kind for s in script.statements] == [K.BEGIN, K.INSERT, K.COMMIT]


@pytest.mark.parametrize("text, expected", [
    ("BEGIN DEFERRED; INSERT INTO t VALUES (1); END", [K.BEGIN, K.INSERT, K.COMMIT]),
    ("BEGIN EXCLUSIVE TRANSACTION;DELETE FROM t;COMMIT TRANSACTION;", [K.BEGIN, K.DELETE, K.COMMIT]),
    ("BEGIN IMMEDIATE;\r\nREPLACE INTO t VALUES (1);\r\nEND TRANSACTION;\r\n", [K.BEGIN, K.REPLACE, K.COMMIT]),
    ("SAVEPOINT s1; INSERT OR REPLACE INTO t VALUES (1); ROLLBACK TRANSACTION TO SAVEPOINT s1; RELEASE s1",
     [K.SAVEPOINT, K.INSERT, K.ROLLBACK_TO, K.RELEASE]),
    ("BEGIN; DELETE FROM t; ROLLBACK;", [K.BEGIN, K.DELETE, K.ROLLBACK]),
    ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) INSERT INTO t SELECT i FROM n",
     [K.INSERT]),
    ("WITH gone AS (SELECT id FROM p) DELETE FROM c WHERE pid IN gone", [K.DELETE]),
    ("VALUES (1), (2); SELECT 1", [K.SELECT, K.SELECT]),
    ("ALTER TABLE t RENAME TO t_old; CREATE TABLE t(a); DROP TABLE t_old", [K.ALTER, K.CREATE, K.DROP]),
    ("ANALYZE; REINDEX; EXPLAIN QUERY PLAN SELECT 1", [K.ANALYZE, K.REINDEX, K.EXPLAIN]),
])
def test_transaction_words_as_logs_write_them(text, expected):
    assert kinds(text) == expected


def test_a_trigger_body_with_its_own_semicolons_is_one_statement():
    text = """CREATE TRIGGER "audit; trail" AFTER DELETE ON parent
BEGIN
  INSERT INTO log(what) VALUES ('deleted; ' || old.id);
  UPDATE counts SET n = CASE WHEN n > 0 THEN n - 1 ELSE 0 END;
END;
DELETE FROM parent WHERE id = 1;"""
    script = parse_script(text, "--sql")
    assert [s.kind for s in script.statements] == [K.CREATE, K.DELETE]
    assert script.statements[0].sql.endswith("END") and "ELSE 0 END;" in script.statements[0].sql


def test_a_trigger_ends_at_its_own_end_not_at_a_case_s():
    text = ("CREATE TEMP TRIGGER t1 BEFORE UPDATE ON t FOR EACH ROW WHEN new.a > 0 BEGIN\n"
            "  UPDATE t SET b = CASE WHEN new.a > 1 THEN 'end;' ELSE 0 END;\n"
            "  SELECT RAISE(ABORT, 'no; END');\n"
            "END /* done; */ ;\nINSERT INTO t VALUES (1)")
    script = parse_script(text, "--sql")
    assert [s.kind for s in script.statements] == [K.CREATE, K.INSERT]
    assert script.statements[0].sql.endswith("END")


def test_a_huge_open_quote_is_one_sentence_not_a_hang():
    with pytest.raises(errors.BadStatementError, match="statement 2, .* is longer than"):
        parse_script("SELECT 1;\nINSERT INTO t VALUES ('" + ";" * 3_000_000, "--sql")
    with pytest.raises(errors.BadStatementError, match="statement 1, .* is longer than"):
        parse_script("CREATE TRIGGER tr AFTER INSERT ON t BEGIN " + "SELECT 1;" * 200_000 + " END;", "--sql")


def test_quoted_names_with_spaces_quotes_and_semicolons():
    text = ('INSERT INTO "order ""items""; 2024" ([line;no], `it``s`, "a b") VALUES (1, x\'00ff\', \'"; --\');'
            "\nUPDATE [my table] SET \"x;y\" = 2")
    script = parse_script(text, "--sql")
    assert [s.kind for s in script.statements] == [K.INSERT, K.UPDATE]
    assert script.statements[1].sql == 'UPDATE [my table] SET "x;y" = 2'


def test_comments_around_statements_are_not_statements():
    text = """-- migration 0042: add books
/* a block comment; with a semicolon */
INSERT INTO t VALUES (1); -- trailing comment; with a semicolon
/* between */ INSERT INTO t VALUES (2) /* inside */ ;
-- the end, no semicolon after this comment"""
    script = parse_script(text, "--sql")
    assert [s.sql for s in script.statements] == ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"]
    assert [s.number for s in script.statements] == [1, 2]


def test_a_script_file_saved_on_windows(tmp_path):
    path = tmp_path / "failing.sql"
    path.write_bytes("\ufeffBEGIN TRANSACTION;\r\nINSERT INTO t VALUES ('é');\r\nCOMMIT;\r\n".encode("utf-8"))
    script = parse_script(path.read_text(encoding="utf-8"), str(path))
    assert [s.sql for s in script.statements] == ["BEGIN TRANSACTION", "INSERT INTO t VALUES ('é')", "COMMIT"]


def test_a_missing_final_semicolon_after_a_line_comment():
    script = parse_script("INSERT INTO t VALUES (1) -- why\r\n", "--sql")
    assert [s.sql for s in script.statements] == ["INSERT INTO t VALUES (1)"]


def test_empty_statements_are_skipped_and_numbers_count_real_ones():
    script = parse_script(";;\nBEGIN;;\n;INSERT INTO t VALUES (1);;COMMIT", "--sql")
    assert [(s.number, s.kind) for s in script.statements] == [(1, K.BEGIN), (2, K.INSERT), (3, K.COMMIT)]


@pytest.mark.parametrize("text, pragma, value", [
    ("PRAGMA foreign_keys = ON", "foreign_keys", "ON"),
    ("pragma main.Foreign_Keys=1", "foreign_keys", "1"),
    ("PRAGMA defer_foreign_keys = true", "defer_foreign_keys", "true"),
    ("PRAGMA foreign_key_check", "foreign_key_check", None),
    ("PRAGMA foreign_key_check('order items')", "foreign_key_check", "order items"),
    ("PRAGMA foreign_key_list(\"book\")", "foreign_key_list", "book"),
    ("PRAGMA table_info(t)", "table_info", "t"),
    ("PRAGMA index_list(t)", "index_list", "t"),
    ("PRAGMA user_version", "user_version", None),
    ("PRAGMA journal_mode", "journal_mode", None),
])
def test_the_app_s_own_pragmas_are_allowed_as_sqlite_reads_them(text, pragma, value):
    (statement,) = parse_script(text, "--sql").statements
    assert (statement.kind, statement.pragma, statement.pragma_value) == (K.PRAGMA, pragma, value)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("text, why", [
    ("", "the script is empty"),
    ("  \r\n -- only a comment\n /* and another */ ", "the script is empty"),
    (";;;", "the script is empty"),
    ("BEGIN;\nINSERT INTO t VALUES ('unclosed", r"statement 2, beginning \"INSERT INTO t VALUES \('unclosed\", is"),
    ("BEGIN; CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1;", "statement 2, .* is not complete"),
    ("SELECT 1; SELECT 2 /* open comment", "statement 2, .* is not complete"),
    ("BEGIN; INSRT INTO t VALUES (1); COMMIT", "statement 2, beginning 'INSRT INTO t VALUES \\(1\\)', is not SQL"),
    ("INSERT INTO t VALUES (1,)", "statement 1, .* is not SQL that SQLite parses"),
    ("SELECT 1;\nSELECT 'a\x00b';", "statement 2 holds a NUL character"),
    ("\x00", "statement 1 holds a NUL character"),
    # a log line as an ORM writes it, the values bound apart: SQLite would bind NULL for each
    ("BEGIN; INSERT INTO \"Album\" (\"Title\", \"ArtistId\") VALUES (?, ?); COMMIT;",
     r"statement 2, .* has parameters \(\?, \?\) whose values the app bound apart"),
    ("UPDATE t SET a = :title, b = @b, c = $c, d = ?3 WHERE e = '?' AND \"f?\" = 1",
     r"has parameters \(:title, @b, \$c, \?3\)"),
])
def test_bad_scripts_get_one_sentence_naming_the_statement(text, why):
    with pytest.raises(errors.BadStatementError, match=why) as caught:
        parse_script(text, "--sql")
    assert caught.value.exit_code == errors.EXIT_BAD_INPUT
    assert caught.value.message.startswith("--sql: ") and "\n" not in caught.value.message


def test_no_such_table_on_the_blank_database_means_it_parsed():
    script = parse_script("INSERT INTO nowhere (a) VALUES (1); DELETE FROM elsewhere", "--sql")
    assert [s.kind for s in script.statements] == [K.INSERT, K.DELETE]


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("text, refusal, why", [
    ("ATTACH DATABASE '/etc/passwd' AS p", Refusal.ATTACH, "attaches another database file"),
    ("BEGIN; attach 'other.db' as o; COMMIT", Refusal.ATTACH, "statement 2, .*attaches"),
    ("DETACH DATABASE o", Refusal.DETACH, "detaches a database"),
    ("VACUUM", Refusal.VACUUM, "vacuums the database"),
    ("VACUUM INTO '/tmp/stolen.db'", Refusal.VACUUM, "VACUUM INTO writes another file"),
    ("SELECT load_extension('/tmp/evil.so')", Refusal.FUNCTION, r"calls load_extension\(\)"),
    ("SELECT fts3_tokenizer('simple')", Refusal.FUNCTION, r"calls fts3_tokenizer\(\), which can reach outside"),
    ("SELECT writefile('/tmp/x', 'y')", Refusal.FUNCTION, r"calls writefile\(\)"),
    ("SELECT my_app_function(1)", Refusal.FUNCTION, r"calls my_app_function\(\), which is not one of SQLite's own"),
    ("PRAGMA writable_schema = ON", Refusal.PRAGMA, "runs PRAGMA writable_schema = ON"),
    ("PRAGMA journal_mode = OFF", Refusal.PRAGMA, "PRAGMA journal_mode = OFF"),
    ("PRAGMA schema_version = 1", Refusal.PRAGMA, "PRAGMA schema_version = 1"),
    ("PRAGMA user_version = 31", Refusal.PRAGMA, "PRAGMA user_version = 31"),
    ("PRAGMA locking_mode = EXCLUSIVE", Refusal.PRAGMA, "locking_mode"),
    ("PRAGMA mmap_size = 268435456", Refusal.PRAGMA, "mmap_size"),
    ("PRAGMA trusted_schema = ON", Refusal.PRAGMA, "trusted_schema"),
    ("PRAGMA cell_size_check = OFF", Refusal.PRAGMA, "cell_size_check"),
    ("PRAGMA temp_store_directory = '/tmp'", Refusal.PRAGMA, "temp_store_directory"),
    ("PRAGMA data_store_directory = '/tmp'", Refusal.PRAGMA, "data_store_directory"),
    ("PRAGMA recursive_triggers = ON", Refusal.PRAGMA, "recursive_triggers"),
    ("PRAGMA synchronous = OFF", Refusal.PRAGMA, "synchronous"),
    ("PRAGMA no_such_pragma_at_all = 1", Refusal.PRAGMA, "no_such_pragma_at_all"),
    ("PRAGMA optimize", Refusal.PRAGMA, "PRAGMA optimize"),
    ("PRAGMA wal_checkpoint(TRUNCATE)", Refusal.PRAGMA, "wal_checkpoint"),
])
def test_anything_that_could_reach_outside_the_copy_is_refused(text, refusal, why):
    with pytest.raises(errors.RefusedStatementError, match=why) as caught:
        parse_script(text, "--sql")
    assert caught.value.refusal == refusal and caught.value.exit_code == errors.EXIT_BAD_INPUT
    assert "remove it and try again" in caught.value.message and "\n" not in caught.value.message


def test_a_refused_function_hidden_in_a_subquery_is_found_by_sqlite():
    text = "BEGIN; WITH x AS (SELECT 1 FROM (SELECT upper(load_extension('a')) AS n)) SELECT * FROM x; COMMIT"
    with pytest.raises(errors.RefusedStatementError, match="statement 2") as caught:
        parse_script(text, "--sql")
    assert caught.value.statement == 2


def test_the_refusal_comes_before_any_statement_runs(tmp_path):
    # nothing is executed while parsing: the ATTACH target is never created
    target = tmp_path / "created.db"
    with pytest.raises(errors.RefusedStatementError):
        parse_script(f"CREATE TABLE x(a); ATTACH '{target}' AS o", "--sql")
    assert not target.exists()


# --------------------------------------------------------------------------- the replay authorizer
SCHEMA = """
CREATE TABLE "author list" (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE book (id INTEGER PRIMARY KEY, title TEXT,
                   author_id INTEGER REFERENCES "author list"(id) ON DELETE CASCADE);
CREATE TABLE log (what TEXT);
CREATE TRIGGER book_log AFTER INSERT ON book BEGIN INSERT INTO log VALUES (upper(new.title)); END;
INSERT INTO "author list" VALUES (1, 'Le Guin');
"""


@pytest.fixture
def copy_conn(tmp_path):
    path = tmp_path / "copy.db"
    make_db(path, SCHEMA)
    conn = connect(path, time_limit=30)
    yield conn
    conn.close()


def replay(conn, text):
    """Run the parsed script under the replay authorizer, as the replay engine will."""
    script = parse_script(text, "--sql")
    auth = authorizer_for_replay(conn.authorizer)
    conn.set_authorizer(auth)
    try:
        for statement in script.statements:
            auth.reset()
            try:
                conn.execute(statement.sql).fetchall()
            except sqlite3.Error:
                refused = auth.refusal(statement, "--sql")
                if refused is not None:
                    raise refused from None
                raise
    finally:
        conn.set_authorizer(conn.authorizer)
    return auth


def test_the_replay_authorizer_lets_the_app_s_writes_and_pragmas_run(copy_conn):
    auth = replay(copy_conn, """PRAGMA foreign_keys = ON;
BEGIN;
PRAGMA defer_foreign_keys = ON;
INSERT INTO book (title, author_id) VALUES ('Earthsea', 1);
UPDATE book SET title = 'A Wizard of Earthsea' WHERE author_id = 1;
PRAGMA foreign_key_check;
PRAGMA foreign_key_list(book);
PRAGMA table_info("author list");
PRAGMA index_list(book);
PRAGMA user_version;
DELETE FROM "author list" WHERE id = 1;
ROLLBACK;""")
    assert auth.refused == []
    # the trigger ran (upper() is SQLite's own) and everything was rolled back
    assert copy_conn.execute("SELECT count(*) FROM log").fetchone() == (0,)
    assert copy_conn.execute("SELECT count(*) FROM \"author list\"").fetchone() == (1,)


def test_the_replay_authorizer_keeps_foreign_keys_as_the_app_sets_them(copy_conn):
    replay(copy_conn, "PRAGMA foreign_keys = ON")
    assert copy_conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    with pytest.raises(sqlite3.IntegrityError) as caught:
        replay(copy_conn, "INSERT INTO book (title, author_id) VALUES ('x', 99)")
    assert kind_of(caught.value) is Kind.CONSTRAINT_FOREIGNKEY


@pytest.mark.parametrize("text, refusal", [
    # tables that exist only on the copy: the blank database stopped before seeing the function
    ("INSERT INTO book (title) VALUES (load_extension('/tmp/evil.so'))", Refusal.FUNCTION),
    ("UPDATE book SET title = fts3_tokenizer('simple')", Refusal.FUNCTION),
    ("DELETE FROM book WHERE id IN (SELECT load_extension(title) FROM book)", Refusal.FUNCTION),
])
def test_the_replay_authorizer_refuses_what_only_the_copy_could_show(copy_conn, text, refusal):
    with pytest.raises(errors.RefusedStatementError, match="statement 1") as caught:
        replay(copy_conn, text)
    assert caught.value.refusal == refusal


def test_a_trigger_the_script_creates_cannot_call_what_the_script_could_not(copy_conn):
    text = ("BEGIN; CREATE TRIGGER sneaky AFTER INSERT ON log BEGIN SELECT load_extension('/tmp/evil.so'); END;\n"
            "INSERT INTO log VALUES ('x'); COMMIT")
    with pytest.raises(errors.RefusedStatementError, match=r"statement 3, .*calls load_extension\(\)"):
        replay(copy_conn, text)
    copy_conn.execute("ROLLBACK")


@pytest.mark.parametrize("action, arg1, arg2, refusal", [
    (sqlite3.SQLITE_ATTACH, "/tmp/other.db", None, Refusal.ATTACH),
    (sqlite3.SQLITE_DETACH, "other", None, Refusal.DETACH),
    (sqlite3.SQLITE_PRAGMA, "writable_schema", "1", Refusal.PRAGMA),
    (sqlite3.SQLITE_PRAGMA, "user_version", "5", Refusal.PRAGMA),
    (sqlite3.SQLITE_PRAGMA, "journal_mode", "off", Refusal.PRAGMA),
    (sqlite3.SQLITE_FUNCTION, None, "load_extension", Refusal.FUNCTION),
])
def test_the_replay_authorizer_denies_each_kind_on_a_real_connection(copy_conn, action, arg1, arg2, refusal):
    auth = authorizer_for_replay(copy_conn.authorizer)
    assert auth(action, arg1, arg2, "main", None) == sqlite3.SQLITE_DENY
    assert auth.refused[-1][0] == refusal
    # and SQLite enforces it: the statements that ask for these fail to prepare, with SQLITE_AUTH
    statement = {
        Refusal.ATTACH: f"ATTACH '{arg1}' AS other", Refusal.DETACH: "DETACH other",
        Refusal.PRAGMA: f"PRAGMA {arg1} = {arg2}", Refusal.FUNCTION: "SELECT load_extension('x')",
    }[refusal]
    copy_conn.set_authorizer(auth)
    auth.reset()
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        copy_conn.execute(statement)
    assert auth.refused[0][0] == refusal
    copy_conn.set_authorizer(copy_conn.authorizer)
    assert copy_conn.execute("PRAGMA user_version").fetchone() == (0,)
    assert copy_conn.execute("PRAGMA database_list").fetchall()[-1][1] in ("main", "temp")


def test_the_replay_authorizer_passes_on_to_the_guards(copy_conn):
    # the guards' own authorizer keeps its rule for the file's triggers: own writes fire none of them
    copy_conn.authorizer.own_writes = True
    auth = authorizer_for_replay(copy_conn.authorizer)
    copy_conn.set_authorizer(auth)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        copy_conn.execute("INSERT INTO book (title, author_id) VALUES ('x', 1)")
    assert kind_of(caught.value) is Kind.AUTH and auth.refused == []
    assert copy_conn.authorizer.denied == ["trigger book_log"]
