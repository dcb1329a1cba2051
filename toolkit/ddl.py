"""Rewriting a CREATE TABLE statement: drop chosen columns' FOREIGN KEY and NOT NULL clauses,
keep every other byte of the declaration as the customer's file has it.

A small tokenizer for SQLite's SQL (quoted identifiers of all three kinds, string and blob
literals, comments) and a parser for just the parts of `CREATE TABLE` this needs.  Anything
it does not understand is refused, never guessed.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from . import errors
from .sqlnames import quote

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))
  | (?P<blob>[xX]'[0-9a-fA-F]*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`)
  | (?P<word>[^\W\d][\w$]*)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<punct>.)
    """,
    re.S | re.X,
)


@dataclass(frozen=True)
class Token:
    """One token of a CREATE statement: its kind, its text and where it stands in the SQL."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """The identifier this token spells, unquoted."""
        t = self.text
        if self.kind == "ident":
            if t[0] == "[":
                return t[1:-1]
            return t[1:-1].replace(t[0] * 2, t[0])
        if self.kind == "string":  # SQLite accepts 'name' where an identifier is expected
            return t[1:-1].replace("''", "'")
        return t


def tokenize(sql: str) -> list[Token]:
    # Every alternative of _TOKEN is a named group, so a match always has a lastgroup.
    tokens = [Token(m.lastgroup or "", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(sql)]
    for t in tokens:
        if (t.kind == "string" and not t.text.endswith("'")) or (t.kind == "ident" and len(t.text) < 2):
            raise ValueError("unterminated literal")
    return tokens


def significant(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.kind not in ("ws", "comment")]


def _group_end(toks: list[Token], i: int) -> int:
    """Index just past the parenthesised group opening at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text == "(":
            depth += 1
        elif toks[j].text == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError("unbalanced parentheses")


def _split_top_level(toks: list[Token]) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in toks:
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        if t.text == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


@dataclass(frozen=True)
class CreateTable:
    """A CREATE TABLE statement cut into its column and table-constraint definitions."""

    sql: str
    body_start: int  # offset just after the opening parenthesis
    body_end: int  # offset of the closing parenthesis
    definitions: list[list[Token]]  # significant tokens of each column / table constraint


def parse_create_table(sql: str) -> CreateTable:
    toks = significant(tokenize(sql))
    if len(toks) < 4 or toks[0].upper != "CREATE":
        raise ValueError("not a CREATE TABLE statement")
    i = next((k for k, t in enumerate(toks) if t.text == "("), None)
    if i is None or not any(t.upper == "TABLE" for t in toks[:i]):
        raise ValueError("no column list (CREATE TABLE ... AS SELECT?)")
    end = _group_end(toks, i) - 1
    return CreateTable(sql, toks[i].end, toks[end].start, [d for d in _split_top_level(toks[i + 1:end]) if d])


TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}
COLUMN_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE",
                      "REFERENCES", "GENERATED", "AS", "DEFERRABLE"}
# INSERT: SQLite accepts (and ignores) `ON INSERT <action>` in a REFERENCES clause
FK_ACTIONS = {"ON", "DELETE", "UPDATE", "INSERT", "SET", "NULL", "DEFAULT", "CASCADE", "RESTRICT", "NO", "ACTION",
              "MATCH", "NOT", "DEFERRABLE", "INITIALLY", "DEFERRED", "IMMEDIATE"}


def _conflict_clause(toks: list[Token], j: int) -> int:
    """Index past an optional `ON CONFLICT <resolution>`."""
    if j + 1 < len(toks) and toks[j].upper == "ON" and toks[j + 1].upper == "CONFLICT":
        return j + 3
    return j


@dataclass(frozen=True)
class Segment:
    """One constraint of a column definition (NOT NULL, REFERENCES ...), as a run of its tokens."""

    kind: str  # 'NOT NULL', 'REFERENCES', 'DEFAULT', ...
    first: int  # index of its first token (CONSTRAINT name included)
    last: int  # index just past its last token


# One parser per column-constraint keyword: each takes the definition's tokens and the index just past
# the keyword, and returns the constraint's kind and the index just past the constraint.
_ConstraintParser = Callable[[list[Token], int], tuple[str, int]]


def _not_null(defn: list[Token], j: int) -> tuple[str, int]:
    if j < len(defn) and defn[j].upper == "DEFERRABLE":
        return _deferrable(defn, j + 1)
    if j >= len(defn) or defn[j].upper != "NULL":
        raise ValueError("NOT without NULL")
    return "NOT NULL", _conflict_clause(defn, j + 1)


def _deferrable(defn: list[Token], j: int) -> tuple[str, int]:
    """A column's `[NOT] DEFERRABLE [INITIALLY DEFERRED|IMMEDIATE]` (SQLite parses it as a constraint
    of its own, applied to the foreign key declared last)."""
    if j + 1 < len(defn) and defn[j].upper == "INITIALLY" and defn[j + 1].upper in ("DEFERRED", "IMMEDIATE"):
        j += 2
    return "DEFERRABLE", j


def _null(defn: list[Token], j: int) -> tuple[str, int]:
    return "NULL", _conflict_clause(defn, j)


def _primary_key(defn: list[Token], j: int) -> tuple[str, int]:
    j += 1  # KEY
    if j < len(defn) and defn[j].upper in ("ASC", "DESC"):
        j += 1
    j = _conflict_clause(defn, j)
    if j < len(defn) and defn[j].upper == "AUTOINCREMENT":
        j += 1
    return "PRIMARY KEY", j


def _unique(defn: list[Token], j: int) -> tuple[str, int]:
    return "UNIQUE", _conflict_clause(defn, j)


def _check(defn: list[Token], j: int) -> tuple[str, int]:
    return "CHECK", _group_end(defn, j)


def _default(defn: list[Token], j: int) -> tuple[str, int]:
    if j < len(defn) and defn[j].text in "+-":
        j += 1
    return "DEFAULT", _group_end(defn, j) if defn[j].text == "(" else j + 1


def _collate(defn: list[Token], j: int) -> tuple[str, int]:
    return "COLLATE", j + 1


def _generated(defn: list[Token], j: int) -> tuple[str, int]:
    while defn[j].text != "(":
        j += 1
    j = _group_end(defn, j)
    if j < len(defn) and defn[j].upper in ("STORED", "VIRTUAL"):
        j += 1
    return "GENERATED", j


def _ends_references(defn: list[Token], j: int) -> bool:
    """Whether defn[j], a word that may belong to a REFERENCES clause's actions, starts the next constraint."""
    word = defn[j].upper
    if word == "NOT":
        return j + 1 >= len(defn) or defn[j + 1].upper != "DEFERRABLE"  # a NOT NULL after the clause
    return word in ("NULL", "DEFAULT") and defn[j - 1].upper != "SET"


def _references(defn: list[Token], j: int) -> tuple[str, int]:
    j += 1  # the parent table
    if j < len(defn) and defn[j].text == "(":
        j = _group_end(defn, j)
    while j < len(defn) and defn[j].upper in FK_ACTIONS and not _ends_references(defn, j):
        j += 2 if defn[j].upper == "MATCH" else 1
    return "REFERENCES", j


_CONSTRAINT_PARSERS: dict[str, _ConstraintParser] = {
    "NOT": _not_null, "NULL": _null, "PRIMARY": _primary_key, "UNIQUE": _unique, "CHECK": _check,
    "DEFAULT": _default, "COLLATE": _collate, "GENERATED": _generated, "AS": _generated, "REFERENCES": _references,
    "DEFERRABLE": _deferrable,
}


def column_segments(defn: list[Token]) -> list[Segment]:
    """Split a column definition into its constraints (the name and type come first)."""
    i = 1
    while i < len(defn) and defn[i].upper not in COLUMN_CONSTRAINTS:  # the type name
        i = _group_end(defn, i) if defn[i].text == "(" else i + 1
    segments = []
    while i < len(defn):
        first = i
        if defn[i].upper == "CONSTRAINT":
            i += 2
        if i >= len(defn):
            raise ValueError("dangling CONSTRAINT name")
        parser = _CONSTRAINT_PARSERS.get(defn[i].upper)
        if parser is None:
            raise ValueError(f"unexpected {defn[i].text!r} in a column definition")
        kind, j = parser(defn, i + 1)
        if j > len(defn):
            raise ValueError("truncated column constraint")
        segments.append(Segment(kind, first, j))
        i = j
    return segments


def foreign_key_columns(defn: list[Token]) -> list[str] | None:
    """The child columns of a table-level FOREIGN KEY constraint, else None."""
    i = 2 if defn[0].upper == "CONSTRAINT" else 0
    if i < len(defn) and defn[i].upper == "FOREIGN":
        open_at = i + 2
        return [t.name for t in defn[open_at + 1:_group_end(defn, open_at) - 1] if t.text != ","]
    return None


def _column_cuts(defn: list[Token], wanted: bool, last_removed: bool, kinds: frozenset[str] = frozenset(
        {"NOT NULL", "REFERENCES"})) -> tuple[list[tuple[int, int]], bool]:
    """The spans to cut from one column definition, and whether the key declared last is now a removed
    one.  A stand-alone DEFERRABLE applies to the key declared last (sqlite3DeferForeignKey): when that
    key is removed, the DEFERRABLE goes too, else it would move to an earlier key."""
    if not wanted and not (last_removed and any(t.upper == "DEFERRABLE" for t in defn)):
        return [], last_removed and not any(t.upper == "REFERENCES" for t in defn)
    cuts = []
    for seg in column_segments(defn):
        if seg.kind == "REFERENCES":
            last_removed = wanted
        if (wanted and seg.kind in kinds) or (seg.kind == "DEFERRABLE" and last_removed):
            cuts.append((defn[seg.first - 1].end, defn[seg.last - 1].end))
    return cuts, last_removed


def relax_columns(sql: str, columns: set[str], new_name: str, *, not_null: bool = True) -> str:
    """`sql` (a CREATE TABLE) rebuilt as `new_name`, with the FOREIGN KEY clauses that
    involve `columns` and (`not_null`) their NOT NULL constraints removed; everything else verbatim."""
    kinds = frozenset({"NOT NULL", "REFERENCES"} if not_null else {"REFERENCES"})
    try:
        table = parse_create_table(sql)
        wanted = {c.lower() for c in columns}
        cuts: list[tuple[int, int]] = []
        kept: list[list[Token]] = []
        last_removed = False
        for defn in table.definitions:
            fk_cols = foreign_key_columns(defn) if defn[0].upper in TABLE_CONSTRAINTS else None
            if defn[0].upper in TABLE_CONSTRAINTS and defn[0].kind == "word":
                if fk_cols is not None and {c.lower() for c in fk_cols} & wanted:
                    continue  # the whole table-level FOREIGN KEY goes
                kept.append(defn)
                continue
            kept.append(defn)
            column_cuts, last_removed = _column_cuts(defn, defn[0].name.lower() in wanted, last_removed, kinds)
            cuts += column_cuts
    except (ValueError, IndexError) as exc:
        raise errors.RefusedError(
            f"The declaration of the table could not be parsed safely ({exc}); nothing was changed, "
            "so send the file to engineering.") from None
    pieces = []
    for defn in kept:
        start, end = defn[0].start, defn[-1].end
        text = sql[start:end]
        for cut_start, cut_end in sorted((c for c in cuts if start <= c[0] < end), reverse=True):
            text = text[: cut_start - start] + text[cut_end - start:]
        pieces.append(text)
    tail = sql[table.body_end + 1:]
    return f"CREATE TABLE {quote(new_name)} (\n  " + ",\n  ".join(pieces) + "\n)" + tail


# --------------------------------------------------------------------------- foreign keys' deferral
class Deferral(StrEnum):
    """A foreign key's declared timing (foreignkeys.html, 4.2).  Only DEFERRABLE INITIALLY DEFERRED
    waits for COMMIT; the other forms are checked at the end of each statement."""

    NOT_DEFERRABLE = "not-deferrable"
    INITIALLY_IMMEDIATE = "deferrable-initially-immediate"
    INITIALLY_DEFERRED = "deferrable-initially-deferred"
    #: the declaration could not be read (never guessed as immediate)
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ReferencesClause:
    """One REFERENCES clause as declared, in the order SQLite creates the keys."""

    columns: tuple[str, ...]
    parent_table: str
    #: empty when the clause names no columns (the parent's PRIMARY KEY is meant)
    parent_columns: tuple[str, ...]
    deferral: Deferral


def _defer_subclause(toks: list[Token], j: int) -> tuple[Deferral, int]:
    """`[NOT] DEFERRABLE [INITIALLY DEFERRED|IMMEDIATE]` at toks[j]: SQLite's defer_subclause, where
    NOT DEFERRABLE INITIALLY DEFERRED still means immediate."""
    negated = toks[j].upper == "NOT"
    j += 2 if negated else 1
    initially = ""
    if j + 1 < len(toks) and toks[j].upper == "INITIALLY" and toks[j + 1].upper in ("DEFERRED", "IMMEDIATE"):
        initially, j = toks[j + 1].upper, j + 2
    if negated:
        return Deferral.NOT_DEFERRABLE, j
    return (Deferral.INITIALLY_DEFERRED if initially == "DEFERRED" else Deferral.INITIALLY_IMMEDIATE), j


def _starts_defer(toks: list[Token], j: int) -> bool:
    return toks[j].upper == "DEFERRABLE" or (
        toks[j].upper == "NOT" and j + 1 < len(toks) and toks[j + 1].upper == "DEFERRABLE")


def _reference_target(toks: list[Token], j: int, columns: tuple[str, ...]) -> tuple[ReferencesClause, int]:
    """The clause whose REFERENCES keyword is toks[j], and the index just past its actions."""
    parent, k = toks[j + 1].name, j + 2
    parent_columns: tuple[str, ...] = ()
    if k < len(toks) and toks[k].text == "(":
        end = _group_end(toks, k)
        parent_columns, k = tuple(t.name for t in toks[k + 1:end - 1] if t.text != ","), end
    deferral = Deferral.NOT_DEFERRABLE
    while k < len(toks):
        word = toks[k].upper
        if word == "MATCH":
            k += 2
        elif word == "ON" and k + 2 < len(toks) and toks[k + 1].upper in ("DELETE", "UPDATE", "INSERT"):
            k += 4 if toks[k + 2].upper in ("SET", "NO") else 3
        elif _starts_defer(toks, k):
            deferral, k = _defer_subclause(toks, k)  # several: the last one counts, as in SQLite
        else:
            break
    return ReferencesClause(columns, parent, parent_columns, deferral), k


def _table_constraint_references(defn: list[Token]) -> list[ReferencesClause]:
    """The FOREIGN KEY constraints in a table-constraint definition (SQLite lets table constraints
    follow each other without a comma, so there may be several)."""
    found, i = [], 0
    while i < len(defn):
        if defn[i].text == "(":
            i = _group_end(defn, i)
        elif defn[i].upper == "FOREIGN":
            end = _group_end(defn, i + 2)
            columns = tuple(t.name for t in defn[i + 3:end - 1] if t.text != ",")
            if end >= len(defn) or defn[end].upper != "REFERENCES":
                raise ValueError("FOREIGN KEY without REFERENCES")
            clause, i = _reference_target(defn, end, columns)
            found.append(clause)
        else:
            i += 1
    return found


def _apply_defer(found: list[ReferencesClause], defn: list[Token], seg: Segment) -> None:
    """A column's stand-alone DEFERRABLE applies to the key declared last (in this column or an earlier
    one: sqlite3DeferForeignKey), and to none when there is none yet."""
    if found:
        start = seg.first + 2 if defn[seg.first].upper == "CONSTRAINT" else seg.first
        last = found[-1]
        found[-1] = ReferencesClause(last.columns, last.parent_table, last.parent_columns,
                                     _defer_subclause(defn, start)[0])


def references_clauses(sql: str) -> list[ReferencesClause]:
    """Every foreign key a CREATE TABLE declares, in declaration order (PRAGMA foreign_key_list numbers
    them the other way round: its id 0 is the last one declared).  ValueError when unparseable."""
    found: list[ReferencesClause] = []
    for defn in parse_create_table(sql).definitions:
        if defn[0].upper in TABLE_CONSTRAINTS and defn[0].kind == "word":
            found += _table_constraint_references(defn)
            continue
        for seg in column_segments(defn):
            if seg.kind == "REFERENCES":
                at = seg.first + 2 if defn[seg.first].upper == "CONSTRAINT" else seg.first
                found.append(_reference_target(defn, at, (defn[0].name,))[0])
            elif seg.kind == "DEFERRABLE":
                _apply_defer(found, defn, seg)
    return found
