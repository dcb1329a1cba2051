"""`diagnose --error "MESSAGE"`: the message a customer saw, and the declarations in this file that
can raise it.

The message is text a person pasted from an app's log or screen, after a driver wrapped it
(Python, Node, JDBC, Microsoft.Data.Sqlite, Prisma, Android ...): there is no exception and no
result code to read, only its words.  So it is matched as text here, and only here; SQLite errors
raised in the toolkit's own process are told apart by their result codes (`sqlite_codes`), never
by their wording.  SQLite's words for these errors have been stable since 3.7 (upper-case
"FOREIGN KEY constraint failed" since 3.8.3); matching ignores case so older ones read too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .schema import DatabaseInfo, ForeignKeyInfo, TableInfo


class MessageKind(StrEnum):
    FOREIGN_KEY_FAILED = "foreign-key-failed"  # a row's key has no parent (at a statement or at COMMIT)
    NO_SUCH_TABLE = "no-such-table"  # a REFERENCES names a table the file does not have
    FOREIGN_KEY_MISMATCH = "foreign-key-mismatch"  # the parent key is not unique, or not the parent's columns
    NOT_A_FOREIGN_KEY = "not-a-foreign-key"  # NOT NULL, UNIQUE, CHECK, PRIMARY KEY, a datatype: another constraint
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ErrorMessage:
    """What a pasted message says: `tables` are the names it carries (for a mismatch: the child,
    then the parent); `columns` the columns it names (NOT NULL / UNIQUE: as `table.column`;
    Prisma: its field or constraint names); `constraint` which other constraint failed."""

    text: str
    kind: MessageKind
    tables: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    constraint: str | None = None


@dataclass(frozen=True)
class Declaration:
    """One FOREIGN KEY declaration of the file: the child table and columns, what they reference."""

    table: str
    columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]
    on_delete: str
    on_update: str
    parent_table_exists: bool
    parent_key_unique: bool

    @property
    def text(self) -> str:
        return (f"{self.table}({', '.join(self.columns)}) REFERENCES "
                f"{self.parent_table}({', '.join(self.parent_columns)})")


# --------------------------------------------------------------------------- reading the message
_QUOTED = r'"((?:[^"]|"")*)"'
_MISMATCH = re.compile(rf"foreign key mismatch\s*-\s*{_QUOTED}\s+referencing\s+{_QUOTED}", re.I)
# a table's name runs to the end of the line or to the first character a driver wraps messages with
_NO_SUCH_TABLE = re.compile(r"no such table:\s*(?:(?:main|temp)\.)?([^\r\n'\"()`,]+)", re.I)
_FOREIGN_KEY = re.compile(r"foreign key constraint (?:failed|violated)|SQLITE_CONSTRAINT_FOREIGNKEY|\bP2003\b"
                          r"|\b(?:code|error|errno|result)\W{0,3}787\b", re.I)
# Prisma names the field or the constraint in backquotes: `authorId`, `Post_authorId_fkey (index)`
_PRISMA_FIELDS = re.compile(r"on the (?:field|fields|constraint)s?:?\s*\(?((?:`[^`]*`[,\s]*)+)", re.I)
# Django checks the keys itself after loaddata (and in its test runner) and names the row:
# "The row in table 'T' with primary key 'P' has an invalid foreign key: T.C contains a value 'V'
# that does not have a corresponding value in PT.PC."
_DJANGO = re.compile(r"The row in table '(?P<table>[^']+)' with primary key '.*?' has an invalid foreign key: "
                     r"(?P=table)\.(?P<column>\S+) contains a value .* that does not have a corresponding value "
                     r"in (?P<parent>[^.]+)\.(?P<parent_column>[^.\s]+)", re.I)
_OTHER = re.compile(r"\b(NOT NULL|UNIQUE|CHECK|PRIMARY KEY) constraint failed(?::\s*([^\r\n'\"()]*))?"
                    r"|SQLITE_CONSTRAINT_(NOTNULL|UNIQUE|CHECK|PRIMARYKEY|TRIGGER|ROWID|DATATYPE)"
                    r"|\b(datatype mismatch)\b|cannot store \w+ value in \w+ column", re.I)
_OTHER_NAMES = {"NOTNULL": "NOT NULL", "PRIMARYKEY": "PRIMARY KEY", "DATATYPE MISMATCH": "DATATYPE",
                "TRIGGER": "RAISE in a trigger"}


def _mismatch(text: str) -> ErrorMessage | None:
    match = _MISMATCH.search(text)
    if match is None:
        return None
    child, parent = (name.replace('""', '"') for name in match.groups())
    return ErrorMessage(text, MessageKind.FOREIGN_KEY_MISMATCH, (child, parent))


def _no_such_table(text: str) -> ErrorMessage | None:
    match = _NO_SUCH_TABLE.search(text)
    if match is None:
        return None
    name = match[1].strip().rstrip(".:;")
    return ErrorMessage(text, MessageKind.NO_SUCH_TABLE, (name,) if name else ())


def _django(text: str) -> ErrorMessage | None:
    match = _DJANGO.search(text)
    if match is None:
        return None
    return ErrorMessage(text, MessageKind.FOREIGN_KEY_FAILED, (match["table"], match["parent"]),
                        (f"{match['table']}.{match['column']}",))


def _foreign_key(text: str) -> ErrorMessage | None:
    if _FOREIGN_KEY.search(text) is None:
        return None
    fields: tuple[str, ...] = ()
    prisma = _PRISMA_FIELDS.search(text)
    if prisma is not None:
        fields = tuple(re.sub(r"\s*\(index\)$", "", f) for f in re.findall(r"`([^`]*)`", prisma[1]))
    return ErrorMessage(text, MessageKind.FOREIGN_KEY_FAILED, columns=fields)


def _other_constraint(text: str) -> ErrorMessage | None:
    matches = list(_OTHER.finditer(text))
    if not matches:
        return None
    # JDBC says it twice: "A NOT NULL constraint failed (NOT NULL constraint failed: t.c)": the detailed one
    match = next((m for m in matches if m[2]), matches[0])
    word = (match[1] or match[3] or match[4] or "DATATYPE").upper()
    constraint = _OTHER_NAMES.get(word, word)
    named = tuple(n.strip() for n in (match[2] or "").split(",") if n.strip())
    columns = tuple(n for n in named if "." in n) if constraint in ("NOT NULL", "UNIQUE", "PRIMARY KEY") else ()
    tables = tuple(dict.fromkeys(c.partition(".")[0] for c in columns))
    return ErrorMessage(text, MessageKind.NOT_A_FOREIGN_KEY, tables, columns, constraint)


def parse_error(message: str) -> ErrorMessage:
    """What kind of error `message` reports, with the names it carries (UNKNOWN when it is none
    of these): a mismatch or a missing table is read before "constraint failed", as a driver may
    add its own words around either."""
    text = " ".join(message.split())
    for reader in (_mismatch, _no_such_table, _django, _foreign_key, _other_constraint):
        found = reader(text)
        if found is not None:
            return found
    return ErrorMessage(text, MessageKind.UNKNOWN)


# --------------------------------------------------------------------------- the file's declarations
def _declaration(table: TableInfo, fk: ForeignKeyInfo) -> Declaration:
    return Declaration(table.name, tuple(fk.columns), fk.parent_table, tuple(fk.parent_columns), fk.on_delete,
                       fk.on_update, fk.parent_table_exists, fk.parent_key_unique)


def _all(info: DatabaseInfo) -> list[Declaration]:
    return [_declaration(t, fk) for t in info.tables for fk in t.foreign_keys]


def _named(msg: ErrorMessage, found: list[Declaration]) -> list[Declaration]:
    """Prisma's fields narrow the list: a child column, or its constraint name `Model_field_fkey`;
    Django's check names `table.column`."""
    wanted = {f.lower() for f in msg.columns}
    if not wanted:
        return found

    def names(d: Declaration) -> set[str]:
        return ({c.lower() for c in d.columns} | {f"{d.table}.{c}".lower() for c in d.columns}
                | {f"{d.table}_{'_'.join(d.columns)}_fkey".lower()})

    narrowed = [d for d in found if names(d) & wanted]
    return narrowed or found


def _missing_parent(msg: ErrorMessage, found: list[Declaration]) -> list[Declaration]:
    missing = [d for d in found if not d.parent_table_exists]
    named = {t.lower() for t in msg.tables}
    exact = [d for d in missing if d.parent_table.lower() in named]
    if exact or not named:
        return exact
    # the name was cut at a quote or bracket it holds: find it in the message as SQLite wrote it
    text = msg.text.lower()
    return [d for d in missing if any(f"no such table: {schema}{d.parent_table.lower()}" in text
                                      for schema in ("", "main.", "temp."))]


def declarations_for(info: DatabaseInfo, msg: ErrorMessage) -> tuple[Declaration, ...]:
    """The FOREIGN KEY declarations of this file that can raise `msg`, in the order `inspect` lists
    them (tables by name, each table's keys as SQLite numbers them):
    every key whose REFERENCES names the missing table; the child's references to the parent
    whose key is not unique; every key for "FOREIGN KEY constraint failed" (only those Prisma
    names, when it names any); none for a message that is not a foreign key's."""
    found = _all(info)
    if msg.kind is MessageKind.NO_SUCH_TABLE:
        return tuple(_missing_parent(msg, found))
    if msg.kind is MessageKind.FOREIGN_KEY_MISMATCH and len(msg.tables) == 2:
        child, parent = (t.lower() for t in msg.tables)
        return tuple(d for d in found if d.table.lower() == child and d.parent_table.lower() == parent
                     and d.parent_table_exists and not d.parent_key_unique)
    if msg.kind is MessageKind.FOREIGN_KEY_FAILED:
        return tuple(_named(msg, found))
    return ()
