"""`--values`: a row written as col=val,... becomes the INSERT the app would run."""
import sqlite3

import pytest

from conftest import make_db

from toolkit import errors
from toolkit.schema import inspect
from toolkit.values import Value, ValueType, insert_for, parse_values

T = ValueType


@pytest.mark.parametrize("text, expected", [
    ("id=5", [Value("id", "5", T.TEXT)]),
    ("id:int=5", [Value("id", 5, T.INTEGER)]),
    ("id:integer=-12", [Value("id", -12, T.INTEGER)]),
    ("code:text=01581", [Value("code", "01581", T.TEXT)]),
    ("price:real=1.5", [Value("price", 1.5, T.REAL)]),
    ("price:float=2", [Value("price", 2.0, T.REAL)]),
    ("parent_id:null", [Value("parent_id", None, T.NULL)]),
    ("hash:blob=x'00ff'", [Value("hash", b"\x00\xff", T.BLOB)]),
    ("hash:blob=X'AB'", [Value("hash", b"\xab", T.BLOB)]),
    ("hash:blob=0a0b", [Value("hash", b"\x0a\x0b", T.BLOB)]),
    ("note=", [Value("note", "", T.TEXT)]),
    ('name="a,b",id:int=1', [Value("name", "a,b", T.TEXT), Value("id", 1, T.INTEGER)]),
    ("title='it''s = ok, really'", [Value("title", "it's = ok, really", T.TEXT)]),
    ('q="say ""hi"""', [Value("q", 'say "hi"', T.TEXT)]),
    ('pad="  spaced  "', [Value("pad", "  spaced  ", T.TEXT)]),
    ("first name = Ann , last name=Le Guin",
     [Value("first name", "Ann", T.TEXT), Value("last name", "Le Guin", T.TEXT)]),
    ('"odd:name"=1,"a=b":int=2', [Value("odd:name", "1", T.TEXT), Value("a=b", 2, T.INTEGER)]),
    ("ID:INT=7", [Value("ID", 7, T.INTEGER)]),
])
def test_values_as_people_write_them(text, expected):
    assert list(parse_values(text)) == expected


@pytest.mark.parametrize("text, why", [
    ("", "no values were given"),
    ("a=1,,b=2", "an item is empty"),
    ("a=1,", "an item is empty"),
    ("a", "a has no value"),
    ("a:int", "a has no value"),
    ("a:int=x", "a:int=x is not an integer"),
    ("a:int=1.5", "is not an integer"),
    ("a:int=99999999999999999999", "does not fit SQLite's 64-bit integers"),
    ("a:real=abc", "is not a real number"),
    ("a:real=nan", "is not a finite number"),
    ("a:blob=xyz", "is not hex bytes"),
    ("a:blob=abc", "is not hex bytes"),
    ("a:null=5", "a:null takes no value"),
    ("a:date=2024", "names the type 'date'"),
    ("a=1=2", "more than one '='"),
    ("a:int:text=1", "more than one ':'"),
    ('a="open', "the quote opened at character 3 is not closed"),
    ("=5", "has no column name"),
    ("a=1,A=2", "the column 'A' is given twice"),
])
def test_bad_values_get_one_sentence(text, why):
    with pytest.raises(errors.BadStatementError, match=why) as caught:
        parse_values(text)
    assert caught.value.exit_code == errors.EXIT_BAD_INPUT
    assert caught.value.message.startswith("--values: ") and "\n" not in caught.value.message


SCHEMA = '''
CREATE TABLE "order ""items""" (
  id INTEGER PRIMARY KEY,
  "product code" TEXT REFERENCES product(code),
  qty INTEGER NOT NULL DEFAULT 1,
  price REAL,
  untyped,
  raw BLOB,
  total REAL GENERATED ALWAYS AS (qty * price) VIRTUAL
);
CREATE TABLE product (code TEXT PRIMARY KEY);
'''


@pytest.fixture
def items(tmp_path):
    path = tmp_path / "shop.db"
    make_db(path, SCHEMA)
    info = inspect(path)
    table = info.table('order "items"')
    assert table is not None
    return path, table


def test_the_insert_quotes_names_as_the_table_spells_them_and_binds_values(items):
    path, table = items
    values = parse_values("Product Code=01581,QTY=3,price:real=2.5,untyped=5,raw:blob=x'00ff'")
    sql, params = insert_for(table, values)
    assert sql == ('INSERT INTO "order ""items""" ("product code", "qty", "price", "untyped", "raw") '
                   "VALUES (?, ?, ?, ?, ?)")
    assert params == ("01581", "3", 2.5, "5", b"\x00\xff")
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    # SQLite applies each column's affinity to the text, as it does to an app's bound string
    row = conn.execute('SELECT typeof("product code"), "product code", typeof(qty), typeof(untyped), typeof(raw), '
                       'total FROM "order ""items"""').fetchone()
    assert row == ("text", "01581", "integer", "text", "blob", 7.5)
    conn.close()


def test_typed_values_keep_their_storage_class_in_an_untyped_column(items):
    path, table = items
    sql, params = insert_for(table, parse_values("untyped:int=5,qty:int=1"))
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    assert conn.execute('SELECT typeof(untyped) FROM "order ""items"""').fetchone() == ("integer",)
    conn.close()


def test_no_values_is_an_insert_of_defaults(items):
    _, table = items
    assert insert_for(table, ()) == ('INSERT INTO "order ""items""" DEFAULT VALUES', ())


@pytest.mark.parametrize("text, why", [
    ("colour=red", r"the table 'order \"items\"' has no column 'colour' \(its columns: id, product code, qty"),
    ("total:real=1", "the column 'total' of 'order \"items\"' is generated"),
])
def test_a_column_the_table_cannot_take_is_refused(items, text, why):
    _, table = items
    with pytest.raises(errors.BadStatementError, match=why) as caught:
        insert_for(table, parse_values(text))
    assert "\n" not in caught.value.message and caught.value.exit_code == errors.EXIT_BAD_INPUT
