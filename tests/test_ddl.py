"""Rewriting CREATE TABLE: only the chosen columns' FOREIGN KEY and NOT NULL clauses go."""
import sqlite3

import pytest

from toolkit import errors
from toolkit.ddl import relax_columns, tokenize

REFS = {"source_generation_id", "profile_id", "project_id"}


def columns(sql):
    conn = sqlite3.connect(":memory:")
    conn.execute(sql)
    name = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchone()[0]
    cols = conn.execute("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?)",
                        (name,)).fetchall()
    fks = conn.execute("SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?)", (name,)).fetchall()
    return cols, fks


@pytest.mark.parametrize("sql", [
    # the app's own shape
    "CREATE TABLE t (id TEXT PRIMARY KEY, source_generation_id TEXT NOT NULL, profile_id TEXT NOT NULL, "
    "project_id TEXT NOT NULL, FOREIGN KEY (source_generation_id) REFERENCES g(id) ON DELETE CASCADE, "
    "FOREIGN KEY (profile_id) REFERENCES p(id) ON DELETE CASCADE, FOREIGN KEY (project_id) REFERENCES j(id))",
    # column-level clauses, named constraints, conflict clauses, deferrable, odd quoting and comments
    """CREATE TABLE "t" (id INTEGER PRIMARY KEY AUTOINCREMENT, -- a comment, with (parens)
      "source_generation_id" TEXT CONSTRAINT nn NOT NULL ON CONFLICT ABORT CONSTRAINT fk REFERENCES g(id)
         ON DELETE SET NULL ON UPDATE SET DEFAULT MATCH SIMPLE NOT DEFERRABLE INITIALLY IMMEDIATE COLLATE NOCASE,
      [profile_id] VARCHAR(36) DEFAULT NULL NOT NULL REFERENCES p CHECK (length(profile_id) > 0 /* ) */),
      `project_id` "TEXT" REFERENCES j(id) DEFERRABLE INITIALLY DEFERRED NOT NULL DEFAULT 'x,y' UNIQUE,
      other TEXT NOT NULL DEFAULT (lower('A')) REFERENCES o(id),
      gen TEXT GENERATED ALWAYS AS (upper(other)) STORED,
      gen2 AS (other || 'x'),
      CONSTRAINT both_fk FOREIGN KEY (profile_id, project_id) REFERENCES pj(a, b),
      CONSTRAINT ck CHECK (other <> 'no, really'),
      FOREIGN KEY (other) REFERENCES o2(id)
    )""",
    "CREATE TABLE t (source_generation_id TEXT NOT NULL, profile_id TEXT NOT NULL, project_id TEXT NOT NULL, "
    "PRIMARY KEY (source_generation_id, profile_id)) WITHOUT ROWID",
])
def test_only_reference_clauses_are_removed(sql):
    before_cols, before_fks = columns(sql)
    after_sql = relax_columns(sql, REFS, "t_new")
    after_cols, after_fks = columns(after_sql)
    assert [c[0] for c in after_cols] == [c[0] for c in before_cols]
    for b, a in zip(before_cols, after_cols, strict=True):
        if b[0] in REFS:
            # NOT NULL gone, except where a PRIMARY KEY of a WITHOUT ROWID table implies it
            assert a[2] == (1 if "WITHOUT ROWID" in sql and b[4] else 0)
            assert (a[1], a[3], a[4], a[5]) == (b[1], b[3], b[4], b[5])
        else:
            assert a == b
    assert {f[0] for f in after_fks} & REFS == set()
    assert [f for f in before_fks if f[0] not in REFS] == after_fks
    assert after_sql.endswith(("WITHOUT ROWID", ")"))


def test_unparseable_declaration_is_refused_not_guessed():
    with pytest.raises(errors.RefusedError, match="could not be parsed"):
        relax_columns("CREATE TABLE t (profile_id TEXT NOT WHATEVER)", REFS, "n")
    with pytest.raises(errors.RefusedError):
        relax_columns("CREATE TABLE t AS SELECT 1", REFS, "n")


def test_tokenizer_keeps_every_byte():
    sql = "CREATE TABLE \"a\"\"b\" ([c d] 'x' /* c */ , e DEFAULT x'00ff', f -- end\n)"
    assert "".join(t.text for t in tokenize(sql)) == sql


def test_removed_reference_takes_its_stand_alone_deferrable_with_it():
    """SQLite applies a column's DEFERRABLE to the key declared last: left behind after the removed
    clause, it would make the previous column's key deferred."""
    from toolkit.ddl import Deferral, references_clauses

    sql = ("CREATE TABLE t (other REFERENCES o(id), profile_id TEXT REFERENCES p(id) NOT NULL "
           "DEFERRABLE INITIALLY DEFERRED, last TEXT DEFERRABLE INITIALLY IMMEDIATE)")
    assert [c.deferral for c in references_clauses(sql)] == [Deferral.NOT_DEFERRABLE, Deferral.INITIALLY_IMMEDIATE]
    after = relax_columns(sql, REFS, "t_new")
    columns(after)  # SQLite accepts it
    # neither the removed key's own DEFERRABLE nor the next column's moved to the key that stays
    assert [(c.columns, c.deferral) for c in references_clauses(after)] == [(("other",), Deferral.NOT_DEFERRABLE)]
    assert "last TEXT" in after and "INITIALLY" not in after
