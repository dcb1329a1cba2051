"""`--error`: the message a customer pasted, and the declarations in the file that can raise it."""
import sqlite3

import pytest

from conftest import make_db

from toolkit.messages import MessageKind, declarations_for, parse_error
from toolkit.schema import inspect

M = MessageKind


@pytest.mark.parametrize("message, kind, tables, columns", [
    ("FOREIGN KEY constraint failed", M.FOREIGN_KEY_FAILED, (), ()),
    ("SQLITE_CONSTRAINT: FOREIGN KEY constraint failed", M.FOREIGN_KEY_FAILED, (), ()),
    ("SQLITE_CONSTRAINT_FOREIGNKEY", M.FOREIGN_KEY_FAILED, (), ()),
    ("sqlite3.IntegrityError: FOREIGN KEY constraint failed", M.FOREIGN_KEY_FAILED, (), ()),
    ("Microsoft.Data.Sqlite.SqliteException (0x80004005): SQLite Error 19: 'FOREIGN KEY constraint failed'.",
     M.FOREIGN_KEY_FAILED, (), ()),
    ("org.sqlite.SQLiteException: [SQLITE_CONSTRAINT_FOREIGNKEY] A foreign key constraint failed "
     "(FOREIGN KEY constraint failed)", M.FOREIGN_KEY_FAILED, (), ()),
    ("Error: SQLITE_CONSTRAINT: FOREIGN KEY constraint failed\n    at Statement.run (node:internal)",
     M.FOREIGN_KEY_FAILED, (), ()),
    ("android.database.sqlite.SQLiteConstraintException: FOREIGN KEY constraint failed (code 787 "
     "SQLITE_CONSTRAINT_FOREIGNKEY)", M.FOREIGN_KEY_FAILED, (), ()),
    ("ActiveRecord::InvalidForeignKey: SQLite3::ConstraintException: FOREIGN KEY constraint failed",
     M.FOREIGN_KEY_FAILED, (), ()),
    ("foreign key constraint failed", M.FOREIGN_KEY_FAILED, (), ()),  # SQLite before 3.8.3
    ("Invalid `prisma.post.create()` invocation:\n\nForeign key constraint failed on the field: `authorId`",
     M.FOREIGN_KEY_FAILED, (), ("authorId",)),
    ("PrismaClientKnownRequestError: Foreign key constraint violated on the constraint: `Post_authorId_fkey (index)`",
     M.FOREIGN_KEY_FAILED, (), ("Post_authorId_fkey",)),
    # Django's own check after loaddata names the row, the column and the parent
    ("django.db.utils.IntegrityError: Problem installing fixture '/app/fixtures/books.json': The row in table "
     "'book' with primary key '7' has an invalid foreign key: book.author_id contains a value '99' that does not "
     "have a corresponding value in author list.id.", M.FOREIGN_KEY_FAILED, ("book", "author list"),
     ("book.author_id",)),
    ("no such table: main.series_old", M.NO_SUCH_TABLE, ("series_old",), ()),
    ("sqlite3.OperationalError: no such table: series_old", M.NO_SUCH_TABLE, ("series_old",), ()),
    ("SQLite Error 1: 'no such table: main.authors_old'.", M.NO_SUCH_TABLE, ("authors_old",), ()),
    ("[SQLITE_ERROR] SQL error or missing database (no such table: main.users)", M.NO_SUCH_TABLE, ("users",), ()),
    ("android.database.sqlite.SQLiteException: no such table: users (code 1 SQLITE_ERROR): , while compiling",
     M.NO_SUCH_TABLE, ("users",), ()),
    ('foreign key mismatch - "review" referencing "book"', M.FOREIGN_KEY_MISMATCH, ("review", "book"), ()),
    ('SQLITE_ERROR: foreign key mismatch - "odd ""child""" referencing "parent table"', M.FOREIGN_KEY_MISMATCH,
     ('odd "child"', "parent table"), ()),
    ("NOT NULL constraint failed: book.title", M.NOT_A_FOREIGN_KEY, ("book",), ("book.title",)),
    ("[SQLITE_CONSTRAINT_NOTNULL] A NOT NULL constraint failed (NOT NULL constraint failed: book.title)",
     M.NOT_A_FOREIGN_KEY, ("book",), ("book.title",)),
    ("UNIQUE constraint failed: tag.name, tag.owner", M.NOT_A_FOREIGN_KEY, ("tag",), ("tag.name", "tag.owner")),
    ("CHECK constraint failed: price_positive", M.NOT_A_FOREIGN_KEY, (), ()),
    ("SQLITE_CONSTRAINT_PRIMARYKEY", M.NOT_A_FOREIGN_KEY, (), ()),
    ("datatype mismatch", M.NOT_A_FOREIGN_KEY, (), ()),
    ("cannot store TEXT value in INTEGER column book.id", M.NOT_A_FOREIGN_KEY, (), ()),
    ("database is locked", M.UNKNOWN, (), ()),
    ("", M.UNKNOWN, (), ()),
])
def test_messages_as_customers_paste_them(message, kind, tables, columns):
    msg = parse_error(message)
    assert (msg.kind, msg.tables, msg.columns) == (kind, tables, columns)


@pytest.mark.parametrize("message, constraint", [
    ("NOT NULL constraint failed: book.title", "NOT NULL"),
    ("SQLITE_CONSTRAINT_UNIQUE", "UNIQUE"),
    ("CHECK constraint failed: price > 0", "CHECK"),
    ("SQLITE_CONSTRAINT_PRIMARYKEY", "PRIMARY KEY"),
])
def test_other_constraints_are_named(message, constraint):
    assert parse_error(message).constraint == constraint


# --------------------------------------------------------------------------- against a file
SCHEMA = '''
CREATE TABLE "author list" (id INTEGER PRIMARY KEY, email TEXT UNIQUE);
CREATE TABLE series (id INTEGER PRIMARY KEY);
CREATE TABLE book (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  author_id INTEGER REFERENCES "author list"(id) ON DELETE CASCADE,
  series_id INTEGER REFERENCES series_old(id),
  editor_email TEXT REFERENCES "author list"(email) ON UPDATE CASCADE
);
CREATE TABLE review (
  book_id INTEGER, book_title TEXT, stars INTEGER CHECK (stars BETWEEN 1 AND 5),
  FOREIGN KEY (book_id, book_title) REFERENCES book(id, title) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE "User" (id INTEGER PRIMARY KEY, age INTEGER CHECK (age >= 0));
CREATE TABLE "Post" (id INTEGER PRIMARY KEY, "authorId" INTEGER NOT NULL REFERENCES "User"(id) ON DELETE RESTRICT);
CREATE TABLE chapter (series_id INTEGER REFERENCES series_old(id));
CREATE TABLE "odd ""child""" (p TEXT REFERENCES "parent table"(name));
CREATE TABLE "parent table" (name TEXT);
'''


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("messages") / "shop.db"
    make_db(path, SCHEMA)
    return path


def sqlite_says(path, sql):
    """The message SQLite itself gives for `sql` on a scratch copy with foreign keys on."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute(sql)
    conn.close()
    return str(caught.value)


def refs(declarations):
    return [d.text for d in declarations]


def test_no_such_table_names_every_reference_to_the_missing_table(shop):
    message = sqlite_says(shop, "INSERT INTO book (title, series_id) VALUES ('x', 1)")
    assert message == "no such table: main.series_old"
    found = declarations_for(inspect(shop), parse_error(message))
    # in the file's order of tables (by name, as inspect lists them)
    assert refs(found) == ["book(series_id) REFERENCES series_old(id)", "chapter(series_id) REFERENCES series_old(id)"]
    assert not any(d.parent_table_exists for d in found)


def test_a_missing_table_the_file_does_not_reference_names_nothing(shop):
    assert declarations_for(inspect(shop), parse_error("no such table: main.invoices")) == ()


def test_foreign_key_mismatch_names_the_reference_whose_parent_key_is_not_unique(shop):
    message = sqlite_says(shop, "INSERT INTO review VALUES (1, 'x', 3)")
    assert message == 'foreign key mismatch - "review" referencing "book"'
    (found,) = declarations_for(inspect(shop), parse_error(message))
    assert (found.table, found.columns, found.parent_table, found.parent_columns) == (
        "review", ("book_id", "book_title"), "book", ("id", "title"))
    assert found.parent_table_exists and not found.parent_key_unique


def test_foreign_key_mismatch_with_quoted_names(shop):
    # the parent table comes after its child here, and neither name is plain
    message = sqlite_says(shop, "INSERT INTO \"odd \"\"child\"\"\" VALUES ('a')")
    assert message == 'foreign key mismatch - "odd ""child""" referencing "parent table"'
    assert refs(declarations_for(inspect(shop), parse_error(message))) == [
        'odd "child"(p) REFERENCES parent table(name)']


def test_foreign_key_failed_names_every_declaration(shop):
    message = sqlite_says(shop, "INSERT INTO \"Post\" (\"authorId\") VALUES (99)")
    assert message == "FOREIGN KEY constraint failed"
    found = declarations_for(inspect(shop), parse_error(f"sqlite3.IntegrityError: {message}"))
    assert refs(found) == [
        "Post(authorId) REFERENCES User(id)",
        # a table's keys as SQLite numbers them (pragma foreign_key_list: the last declared first)
        "book(editor_email) REFERENCES author list(email)", "book(series_id) REFERENCES series_old(id)",
        "book(author_id) REFERENCES author list(id)", "chapter(series_id) REFERENCES series_old(id)",
        'odd "child"(p) REFERENCES parent table(name)', "review(book_id, book_title) REFERENCES book(id, title)"]
    cascade = next(d for d in found if d.columns == ("author_id",))
    assert (cascade.on_delete, cascade.on_update) == ("CASCADE", "NO ACTION")


@pytest.mark.parametrize("message", [
    "Foreign key constraint failed on the field: `authorId`",
    "Foreign key constraint violated on the constraint: `Post_authorId_fkey (index)`",
])
def test_prisma_s_field_narrows_the_declarations(shop, message):
    assert refs(declarations_for(inspect(shop), parse_error(message))) == ["Post(authorId) REFERENCES User(id)"]


def test_django_s_check_narrows_the_declarations_to_the_column_it_names(shop):
    message = ("The row in table 'book' with primary key '7' has an invalid foreign key: book.author_id contains a "
               "value '99' that does not have a corresponding value in author list.id.")
    assert refs(declarations_for(inspect(shop), parse_error(message))) == ["book(author_id) REFERENCES author list(id)"]


@pytest.mark.parametrize("sql", [
    "INSERT INTO \"Post\" (id) VALUES (1)",
    "INSERT INTO \"User\" (age) VALUES (-1)",
    "INSERT INTO \"author list\" (id, email) VALUES (1, 'a'), (2, 'a')",
])
def test_other_constraints_name_no_foreign_key(shop, sql):
    message = sqlite_says(shop, sql)
    msg = parse_error(message)
    assert msg.kind is M.NOT_A_FOREIGN_KEY, message
    assert declarations_for(inspect(shop), msg) == ()
