"""`diagnose --table T --values col=val,...`: the row a person has, as the INSERT the app would run.

The text is a list of `column=value` items separated by commas:

- `col=5` has no type: the value is bound as TEXT, as every value typed on a command line is
  text.  SQLite then applies the column's affinity, as it does to a string an app binds: an
  INTEGER column stores `5` as the integer 5, an untyped column keeps the text '5'.
- `col:int=5` (or `integer`), `col:real=1.5` (or `float`), `col:text=5`, `col:blob=x'00ff'` (or
  just the hex digits) bind that storage class; `col:null` binds NULL (it takes no value).
- A value or a name holding commas, equals signs, colons or outer spaces is quoted, with double
  or single quotes, the quote doubled inside: `name="a,b"`, `'odd:name'=1`, `title='it''s'`.
  Unquoted names and values are stripped of outer spaces; a name may hold inner spaces
  (`first name=Ann`).  `col=` is the empty text.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from . import errors
from .guards import SqlValue
from .schema import TableInfo
from .sqlnames import quote


class ValueType(StrEnum):
    """The storage class a value is bound as."""

    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"
    BLOB = "blob"
    NULL = "null"


_TYPE_WORDS = {"text": ValueType.TEXT, "str": ValueType.TEXT, "int": ValueType.INTEGER,
               "integer": ValueType.INTEGER, "real": ValueType.REAL, "float": ValueType.REAL,
               "blob": ValueType.BLOB, "null": ValueType.NULL}
_HEX = re.compile(r"(?:[xX]'(?P<quoted>[0-9a-fA-F]*)'|(?P<bare>[0-9a-fA-F]*))")
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Value:
    column: str
    value: SqlValue
    type: ValueType


@dataclass(frozen=True)
class _Part:
    """Text read up to a separator: `text` unquoted, `raw` as written, `quoted` if any quote was in it."""

    text: str
    raw: str
    quoted: bool


def _bad(source: str, why: str) -> errors.BadStatementError:
    return errors.BadStatementError(f"{source}: {why}; write the values as col=val,col2:int=5 (quote a value "
                                    "that holds a comma: name=\"a,b\").")


def _scan(text: str, stops: str, source: str) -> list[tuple[_Part, str]]:
    """Split `text` at unquoted characters of `stops`: each part with the stop that ended it ('' at the end)."""
    parts: list[tuple[_Part, str]] = []
    chars: list[str] = []
    start, i, quoted = 0, 0, False
    while i < len(text):
        char = text[i]
        if char in "\"'":
            end = i + 1
            while True:
                end = text.find(char, end)
                if end == -1:
                    raise _bad(source, f"the quote opened at character {i + 1} is not closed")
                if text[end + 1:end + 2] != char:
                    break
                end += 2
            chars.append(text[i + 1:end].replace(char * 2, char))
            quoted, i = True, end + 1
            continue
        if char in stops:
            parts.append((_Part("".join(chars) if quoted else "".join(chars).strip(), text[start:i].strip(), quoted),
                          char))
            chars, start, quoted = [], i + 1, False
        else:
            chars.append(char)
        i += 1
    parts.append((_Part("".join(chars) if quoted else "".join(chars).strip(), text[start:].strip(), quoted), ""))
    return parts


def _typed(column: str, kind: ValueType, part: _Part | None, source: str, written: str) -> SqlValue:
    """The value `part` spells, as `kind` (None: no `=value` was written); `written` is the
    column and type as the person wrote them (for the sentence)."""
    if kind is ValueType.NULL:
        if part is not None:
            raise _bad(source, f"{written} takes no value (it binds NULL), but {part.raw!r} was given")
        return None
    if part is None:
        raise _bad(source, f"{column} has no value (write {column}=..., or {column}:null for NULL)")
    if kind is ValueType.TEXT:
        return part.text
    if kind is ValueType.BLOB:
        match = _HEX.fullmatch(part.raw)
        digits = match and (match["quoted"] if match["quoted"] is not None else match["bare"])
        if digits is None or len(digits) % 2:
            raise _bad(source, f"{written}={part.raw} is not hex bytes (write x'00ff' or 00ff)")
        return bytes.fromhex(digits)
    return _number(kind, part, source, written)


def _number(kind: ValueType, part: _Part, source: str, written: str) -> SqlValue:
    try:
        number: int | float = int(part.text) if kind is ValueType.INTEGER else float(part.text)
    except ValueError:
        what = "an integer" if kind is ValueType.INTEGER else "a real number"
        raise _bad(source, f"{written}={part.raw} is not {what}") from None
    if isinstance(number, int) and not _INT64[0] <= number <= _INT64[1]:
        raise _bad(source, f"{written}={part.raw} does not fit SQLite's 64-bit integers")
    if isinstance(number, float) and (math.isnan(number) or math.isinf(number)):
        raise _bad(source, f"{written}={part.raw} is not a finite number (SQLite stores NaN as NULL)")
    return number


def _item(spec: _Part, value: _Part | None, source: str) -> Value:
    """One `name[:type][=value]` item: the name's part was split off at its last unquoted colon."""
    pieces = _scan(spec.raw, ":", source)
    kind = ValueType.TEXT
    if len(pieces) > 1:
        word = pieces[-1][0].text.lower()
        if word not in _TYPE_WORDS:
            raise _bad(source, f"{spec.raw!r} names the type {pieces[-1][0].raw!r}, which is not one of "
                               f"{', '.join(sorted(_TYPE_WORDS))}")
        kind = _TYPE_WORDS[word]
        if len(pieces) > 2:
            raise _bad(source, f"{spec.raw!r} has more than one ':' (quote a name that holds one)")
    column = pieces[0][0].text
    if not column:
        raise _bad(source, f"an item, {(spec.raw + ('=' + value.raw if value else ''))!r}, has no column name")
    if value is None and kind is ValueType.TEXT and len(pieces) == 1:
        raise _bad(source, f"{column} has no value (write {column}=..., or {column}:null for NULL)")
    return Value(column, _typed(column, kind, value, source, spec.raw), kind)


def parse_values(text: str, *, source: str = "--values") -> tuple[Value, ...]:
    """The values `text` spells (see the module's docstring); one sentence for anything else."""
    if not text.strip():
        raise _bad(source, "no values were given")
    values: list[Value] = []
    for item, _ in _scan(text, ",", source):
        if not item.raw:
            raise _bad(source, "an item is empty (two commas in a row, or one at the end)")
        halves = _scan(item.raw, "=", source)
        if len(halves) > 2:
            raise _bad(source, f"{item.raw!r} has more than one '=' (quote a value that holds one)")
        value = halves[1][0] if len(halves) == 2 else None
        values.append(_item(halves[0][0], value, source))
    seen: set[str] = set()
    for v in values:
        if v.column.lower() in seen:
            raise _bad(source, f"the column {v.column!r} is given twice")
        seen.add(v.column.lower())
    return tuple(values)


def insert_for(table: TableInfo, values: tuple[Value, ...], *,
               source: str = "--values") -> tuple[str, tuple[SqlValue, ...]]:
    """The INSERT the app would run for `values` in `table`: names quoted as the table spells
    them, values bound.  One sentence for a column the table does not have or cannot take."""
    columns = []
    for v in values:
        column = table.column(v.column)
        if column is None:
            have = ", ".join(c.name for c in table.columns if not c.hidden)
            raise errors.BadStatementError(
                f"{source}: the table {table.name!r} has no column {v.column!r} (its columns: {have}): "
                "name one of these.")
        if column.hidden:
            raise errors.BadStatementError(
                f"{source}: the column {column.name!r} of {table.name!r} is "
                f"{'generated' if column.generated else 'hidden'}, so no INSERT can give it a value: leave it out.")
        columns.append(column.name)
    if not values:
        return f"INSERT INTO {quote(table.name)} DEFAULT VALUES", ()
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join("?" * len(values))
    return f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", tuple(v.value for v in values)
