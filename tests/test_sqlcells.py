"""sqlcells: a notebook's SQL run statement by statement, SQLite's answer kept for each."""
import html

from toolkit.sqlcells import run, scratch


def test_each_statement_gets_its_rows_or_sqlites_own_error_and_the_rest_still_run():
    conn = scratch()
    result = run(conn, """
        CREATE TABLE artist (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE track (id INTEGER PRIMARY KEY, artist INTEGER REFERENCES artist(id));
        INSERT INTO track (artist) VALUES (7);  -- no artist 7
        INSERT INTO artist VALUES (7, 'Dean ''Z'' Martin');
        INSERT INTO track (artist) VALUES (7);
        SELECT id, name, typeof(id) FROM artist;
    """)
    assert len(result) == 6
    assert result[2].error == "FOREIGN KEY constraint failed" and result[2].error_kind == "IntegrityError"
    assert result[4].ok and result[1].answer() == "ok"
    assert result.last().rows == ((7, "Dean 'Z' Martin", "integer"),)
    assert result.last().answer() == "7, 'Dean ''Z'' Martin', 'integer'"
    assert result.errors == ["FOREIGN KEY constraint failed"]


def test_foreign_keys_can_be_left_off_and_a_transaction_is_the_scripts_own():
    conn = scratch(foreign_keys=False)
    result = run(conn, "PRAGMA foreign_keys; BEGIN; PRAGMA foreign_keys = ON; PRAGMA foreign_keys; COMMIT;")
    assert result[0].rows == ((0,),) and result[3].rows == ((0,),)  # ignored inside the transaction


def test_the_html_keeps_every_character_and_escapes_it():
    long_text = "<b>" + "x" * 500 + "</b>"
    result = run(scratch(), f"SELECT '{long_text}' AS v; SELECT * FROM nowhere;")
    page = result._repr_html_()
    assert html.escape("'" + long_text + "'") in page and "<b>x" not in page
    assert "no such table: nowhere" in page and "text-align:left" in page
    frame = result.frame()
    assert list(frame.columns) == ["statement", "SQLite says"] and frame.iloc[1, 1].startswith("OperationalError")
