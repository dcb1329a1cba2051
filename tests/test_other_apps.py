"""Other applications' files and the statements that failed in their logs: the replay's answer
checked against what SQLite itself says on a plain copy with foreign keys on.

The cases are data (`CASES`, frozen dataclasses) so that the same cases can be run through the
CLI (`diagnose DB --sql ...`): each names its app's builder (tests/other_apps.py), what the
customer's history did to the file first (`setup`), the statements as the app's log shows them,
SQLite's own outcome, and the expected answer per broken reference.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from other_apps import App, build, sqlite_says
from toolkit import errors
from toolkit.findings import non_deferrable_cycles
from toolkit.keymatch import Reason, sql_type
from toolkit.messages import MessageKind, declarations_for, parse_error
from toolkit.replay import FailsAt, StatementSimulation, replay
from toolkit.safe_access import safe_connection, sha256_file
from toolkit.schema import DatabaseInfo, read_schema
from toolkit.statements import parse_script
from toolkit.values import insert_for, parse_values

FK_FAILED = "FOREIGN KEY constraint failed"
NOW = "'2024-03-01 12:00:00'"


@dataclass(frozen=True)
class Broken:
    """One reference the statements break, as the answer must name it."""

    table: str
    rowid: Any
    columns: tuple[str, ...]
    values: tuple[Any, ...]
    reason: Reason
    deferred: bool = False
    #: The 1-based statement that breaks it at once; None when COMMIT finds it.
    statement: int | None = None


@dataclass(frozen=True)
class Case:
    id: str
    app: App
    #: What the app did, in a support engineer's words.
    story: str
    sql: str
    #: SQLite's own error on a plain copy with foreign keys on (its beginning: the words after a CHECK's
    #: name vary between versions); None when it accepts the statements.
    sqlite: str | None
    fails_at: FailsAt | None = None
    failed_statement: int | None = None
    broken: tuple[Broken, ...] = ()
    #: violations_total, when it is not len(broken).
    total: int | None = None
    error_code: str | None = None
    #: SQL run on the file (keys off) before the app's statements: the customer's history.
    setup: str = ""
    #: (table, rows) that violated a key before the statements ran.
    pre_existing: tuple[tuple[str, int], ...] = ()
    #: Words the summary must hold.
    summary_has: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.sqlite is None


_FK = "SQLITE_CONSTRAINT_FOREIGNKEY"
_RENAMED_MEDIA_TYPE = "PRAGMA legacy_alter_table = ON; ALTER TABLE [MediaType] RENAME TO [MediaTypes];"
_SHIPPER_RATES = ("CREATE TABLE [ShipperRates] ([RateID] INTEGER PRIMARY KEY, "
                  "[Shipper] TEXT REFERENCES [Shippers] ([CompanyName]), [Rate] NUMERIC);")
# a rebuild of users the way a hand-written migration does it on SQLite 3.26+: the rename rewrites
# the children's REFERENCES to users_old, the copy becomes users, users_old stays behind
_USERS_REBUILT = ("ALTER TABLE \"users\" RENAME TO \"users_old\"; "
                  "CREATE TABLE \"users\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "
                  "\"account_id\" integer NOT NULL, \"email\" varchar NOT NULL, \"created_at\" datetime(6) NOT NULL); "
                  "INSERT INTO \"users\" SELECT * FROM \"users_old\"; "
                  "INSERT INTO \"users\" VALUES (4, 1, 'dee@acme.test', '2024-02-20 09:00:00');")
_EDITOR = "editor's \"pen\" id"
# a table rebuild the way hand-written migrations do it (add a column SQLite cannot add in place)
_REBUILD_USERS = ("{keys}BEGIN; CREATE TABLE \"new_users\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "
                  "\"account_id\" integer NOT NULL, \"email\" varchar NOT NULL, \"created_at\" datetime(6) NOT NULL, "
                  "\"name\" varchar DEFAULT '' NOT NULL); "
                  "INSERT INTO \"new_users\" (\"id\", \"account_id\", \"email\", \"created_at\") "
                  "SELECT \"id\", \"account_id\", \"email\", \"created_at\" FROM \"users\"; "
                  "DROP TABLE \"users\"; ALTER TABLE \"new_users\" RENAME TO \"users\"; COMMIT;")

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ Chinook, a music store
    Case("chinook-album-unknown-artist", App.CHINOOK,
         "the catalogue import adds an album of an artist not yet imported",
         "PRAGMA foreign_keys = ON; INSERT INTO Album (AlbumId, Title, ArtistId) VALUES (4, 'Let There Be Rock', 276);",
         FK_FAILED, FailsAt.STATEMENT, 2,
         (Broken("Album", 4, ("ArtistId",), (276,), Reason.MISSING_ROW, statement=2),), error_code=_FK),
    Case("chinook-delete-artist", App.CHINOOK, "an admin deletes an artist who still has albums",
         "DELETE FROM Artist WHERE ArtistId = 2", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("Album", 2, ("ArtistId",), (2,), Reason.PARENT_DELETED, statement=1),
          Broken("Album", 3, ("ArtistId",), (2,), Reason.PARENT_DELETED, statement=1)), error_code=_FK,
         summary_has=("2 rows of Album",)),
    Case("chinook-invoice-unknown-track", App.CHINOOK,
         "EF Core saves an invoice whose second line names a deleted track",
         "PRAGMA foreign_keys=ON;\nBEGIN;\nINSERT INTO \"Invoice\" (\"InvoiceId\", \"CustomerId\", \"InvoiceDate\", "
         "\"BillingCountry\", \"Total\") VALUES (3, 1, '2009-01-03 00:00:00', 'Brazil', 1.98);\n"
         "INSERT INTO \"InvoiceLine\" VALUES (4, 3, 1, 0.99, 1);\n"
         "INSERT INTO \"InvoiceLine\" VALUES (5, 3, 3503, 0.99, 1);\n"
         "COMMIT;", FK_FAILED, FailsAt.STATEMENT, 5,
         (Broken("InvoiceLine", 5, ("TrackId",), (3503,), Reason.MISSING_ROW, statement=5),), error_code=_FK),
    Case("chinook-play-of-track-not-in-playlist", App.CHINOOK,
         "the player logs a play of a track in a playlist the track is not in",
         "INSERT INTO PlaylistTrackPlay (PlaylistId, TrackId, PlayedAt) VALUES (1, 3, '2024-03-02 08:00:00')",
         FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("PlaylistTrackPlay", 2, ("PlaylistId", "TrackId"), (1, 3), Reason.COMPOSITE_PARTIAL, statement=1),),
         error_code=_FK),
    Case("chinook-media-type-renamed", App.CHINOOK,
         "a migration renamed MediaType with legacy_alter_table on; Track still references the old name",
         "INSERT INTO Track (TrackId, Name, AlbumId, MediaTypeId, GenreId, Milliseconds, UnitPrice) "
         "VALUES (4, 'Restless and Wild', 3, 2, 1, 252051, 0.99)",
         "no such table: main.MediaType", FailsAt.STATEMENT, 1,
         (Broken("Track", 4, ("MediaTypeId",), (2,), Reason.PARENT_TABLE_MISSING, statement=1),),
         setup=_RENAMED_MEDIA_TYPE, pre_existing=(("Track", 3),), summary_has=("MediaType",)),
    Case("chinook-track-without-media-type", App.CHINOOK, "the import leaves MediaTypeId out: NOT NULL, not a key",
         "INSERT INTO Track (TrackId, Name, AlbumId, GenreId, Milliseconds, UnitPrice) "
         "VALUES (4, 'Princess of the Dawn', 3, 1, 375418, 0.99)",
         "NOT NULL constraint failed: Track.MediaTypeId", failed_statement=1, error_code="SQLITE_CONSTRAINT_NOTNULL",
         summary_has=("not a foreign-key problem",)),
    Case("chinook-delete-manager", App.CHINOOK, "HR deletes the general manager, to whom a manager reports",
         "DELETE FROM Employee WHERE EmployeeId = 1", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("Employee", 2, ("ReportsTo",), (1,), Reason.PARENT_DELETED, statement=1),), error_code=_FK),
    Case("chinook-migration-drops-artist", App.CHINOOK,
         "a migration drops Artist with foreign keys on, while albums still reference its rows",
         "PRAGMA foreign_keys = ON; BEGIN; DROP TABLE [Artist]; COMMIT;", FK_FAILED, FailsAt.STATEMENT, 3,
         (Broken("Album", 1, ("ArtistId",), (1,), Reason.PARENT_DELETED, statement=3),
          Broken("Album", 2, ("ArtistId",), (2,), Reason.PARENT_DELETED, statement=3),
          Broken("Album", 3, ("ArtistId",), (2,), Reason.PARENT_DELETED, statement=3)), error_code=_FK),
    Case("chinook-orphan-already-there", App.CHINOOK,
         "a line of a deleted track is already in the file; the app writes another one",
         "INSERT INTO InvoiceLine VALUES (10, 2, 8888, 0.99, 1)", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("InvoiceLine", 10, ("TrackId",), (8888,), Reason.MISSING_ROW, statement=1),), error_code=_FK,
         setup="INSERT INTO InvoiceLine VALUES (9, 2, 9999, 0.99, 1);", pre_existing=(("InvoiceLine", 1),)),
    Case("chinook-orphan-rekeyed", App.CHINOOK,
         "support 'fixes' an orphan album by pointing it at another missing artist",
         "UPDATE Album SET ArtistId = 405 WHERE AlbumId = 9", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("Album", 9, ("ArtistId",), (405,), Reason.MISSING_ROW, statement=1),), error_code=_FK,
         setup="INSERT INTO Album VALUES (9, 'Unknown', 404);", pre_existing=(("Album", 1),)),
    # ------------------------------------------------------------------ Northwind, a trading company
    Case("northwind-lowercase-customer", App.NORTHWIND, "the order form sends the customer key as the user typed it",
         "INSERT INTO Orders (CustomerID, EmployeeID, OrderDate, ShipVia, Freight, ShipCountry) "
         "VALUES ('alfki', 1, '1998-05-06', 2, 8.53, 'Germany')", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("Orders", 10250, ("CustomerID",), ("alfki",), Reason.NEAR_MISS, statement=1),), error_code=_FK),
    Case("northwind-territory-lost-its-zero", App.NORTHWIND,
         "a spreadsheet import turned territory '01581' into the number 1581",
         "INSERT INTO EmployeeTerritories (EmployeeID, TerritoryID) VALUES (5, 1581)", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("EmployeeTerritories", 4, ("TerritoryID",), ("1581",), Reason.TYPE_MISMATCH, statement=1),),
         error_code=_FK),
    Case("northwind-order-with-unknown-product", App.NORTHWIND,
         "an order is saved with its details; the last names a product that was never added",
         "BEGIN TRANSACTION;\nINSERT INTO Orders VALUES (10250, 'ANATR', 5, '1996-07-08', 2, 65.83, 'Mexico');\n"
         "INSERT INTO \"Order Details\" VALUES (10250, 3, 10, 2, 0);\n"
         "INSERT INTO \"Order Details\" VALUES (10250, 77, 18, 1, 0);\nCOMMIT;", FK_FAILED, FailsAt.STATEMENT, 4,
         (Broken("Order Details", 5, ("ProductID",), (77,), Reason.MISSING_ROW, statement=4),), error_code=_FK),
    Case("northwind-discount-over-one", App.NORTHWIND, "a 150% discount: the CHECK fails, not a key",
         "INSERT INTO \"Order Details\" VALUES (10249, 1, 18, 5, 1.5)", "CHECK constraint failed", failed_statement=1,
         error_code="SQLITE_CONSTRAINT_CHECK", summary_has=("not a foreign-key problem",)),
    Case("northwind-customer-key-renamed", App.NORTHWIND, "support renames customer ALFKI, who has orders",
         "UPDATE Customers SET CustomerID = 'ALFKO' WHERE CustomerID = 'ALFKI'", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("Orders", 10249, ("CustomerID",), ("ALFKI",), Reason.PARENT_KEY_CHANGED, statement=1),),
         error_code=_FK),
    Case("northwind-rates-by-shipper-name", App.NORTHWIND,
         "an add-on table references Shippers by CompanyName, which is not unique",
         "INSERT INTO ShipperRates (Shipper, Rate) VALUES ('Speedy Express', 4.5)",
         'foreign key mismatch - "ShipperRates" referencing "Shippers"', FailsAt.STATEMENT, 1,
         (Broken("ShipperRates", 1, ("Shipper",), ("Speedy Express",), Reason.PARENT_KEY_NOT_UNIQUE, statement=1),),
         setup=_SHIPPER_RATES, summary_has=("ShipperRates(Shipper) REFERENCES Shippers(CompanyName)",)),
    Case("northwind-employees-in-wrong-order", App.NORTHWIND,
         "an HR import adds an employee before the manager they report to",
         "BEGIN; INSERT INTO Employees VALUES (7, 'King', 'Robert', 'Sales Representative', 8); "
         "INSERT INTO Employees VALUES (8, 'Callahan', 'Laura', 'Inside Sales Coordinator', 2); COMMIT;",
         FK_FAILED, FailsAt.STATEMENT, 2,
         (Broken("Employees", 7, ("ReportsTo",), (8,), Reason.MISSING_ROW, statement=2),), error_code=_FK),
    # ------------------------------------------------------------------ Sakila, a DVD rental shop
    Case("sakila-new-store-and-manager", App.SAKILA,
         "a new store and its manager, inserted one after the other: store and staff need each other",
         f"BEGIN; INSERT INTO store VALUES (3, 3, 5, {NOW}); "
         f"INSERT INTO staff VALUES (3, 'Ann', 'Lee', 5, 3, 1, 'ann', {NOW}); COMMIT;",
         FK_FAILED, FailsAt.STATEMENT, 2,
         (Broken("store", 3, ("manager_staff_id",), (3,), Reason.MISSING_ROW, statement=2),), error_code=_FK,
         summary_has=("PRAGMA defer_foreign_keys = ON",)),
    Case("sakila-new-store-deferred", App.SAKILA, "the same, with defer_foreign_keys on after BEGIN",
         f"BEGIN; PRAGMA defer_foreign_keys = ON; INSERT INTO store VALUES (3, 3, 5, {NOW}); "
         f"INSERT INTO staff VALUES (3, 'Ann', 'Lee', 5, 3, 1, 'ann', {NOW}); COMMIT;", None),
    Case("sakila-delete-customer-restrict", App.SAKILA, "a GDPR request deletes a customer with rentals and payments",
         "DELETE FROM customer WHERE customer_id = 1", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("payment", 1, ("customer_id",), (1,), Reason.PARENT_DELETED, statement=1),
          Broken("rental", 1, ("customer_id",), (1,), Reason.PARENT_DELETED, statement=1)),
         error_code="SQLITE_CONSTRAINT_TRIGGER"),  # RESTRICT runs as a trigger program: SQLite's own code
    Case("sakila-delete-rental-set-null", App.SAKILA, "a rental is deleted: its payment's rental_id is SET NULL",
         "DELETE FROM rental WHERE rental_id = 1", None),
    Case("sakila-film-renumbered-cascade", App.SAKILA, "a film is renumbered: ON UPDATE CASCADE follows it",
         "UPDATE film SET film_id = 1001 WHERE film_id = 1", None),
    Case("sakila-actor-id-bound-as-text", App.SAKILA, "a driver binds the keys as text: INT affinity converts them",
         f"INSERT INTO film_actor VALUES ('2', '1', {NOW})", None),
    Case("sakila-rental-of-unknown-copy", App.SAKILA, "the counter app rents out inventory 99, which is not in stock",
         "INSERT INTO rental (rental_id, rental_date, inventory_id, customer_id, staff_id, last_update) "
         f"VALUES (2, '2005-05-24 23:03:39', 99, 1, 1, {NOW})", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("rental", 2, ("inventory_id",), (99,), Reason.MISSING_ROW, statement=1),), error_code=_FK),
    # ------------------------------------------------------------------ Django's tables
    Case("django-loaddata-unknown-user", App.DJANGO,
         "loaddata installs a fixture whose rows name user 7, who is not in the fixture",
         "BEGIN;\nINSERT INTO \"auth_user_groups\" (\"id\", \"user_id\", \"group_id\") VALUES (2, 7, 2);\n"
         "INSERT INTO \"django_admin_log\" (\"id\", \"action_time\", \"user_id\", \"content_type_id\", \"object_id\", "
         "\"object_repr\", \"action_flag\", \"change_message\") VALUES (2, '2024-02-01 10:00:00', 7, 3, '2', "
         "'support', 1, '[]');\nCOMMIT;", FK_FAILED, FailsAt.COMMIT, 4,
         (Broken("auth_user_groups", 2, ("user_id",), (7,), Reason.MISSING_ROW, deferred=True),
          Broken("django_admin_log", 2, ("user_id",), (7,), Reason.MISSING_ROW, deferred=True)), error_code=_FK,
         summary_has=("at COMMIT",)),
    Case("django-loaddata-any-order", App.DJANGO, "a fixture lists the membership before its user: deferred keys wait",
         "BEGIN; INSERT INTO \"auth_user_groups\" (\"id\", \"user_id\", \"group_id\") VALUES (2, 3, 2); "
         "INSERT INTO \"auth_user\" (\"id\", \"password\", \"last_login\", \"is_superuser\", \"username\", "
         "\"last_name\", \"email\", \"is_staff\", \"is_active\", \"date_joined\", \"first_name\") VALUES "
         "(3, '!', NULL, 0, 'tom', '', 'tom@example.com', 0, 1, '2024-02-01 10:00:00', 'Tom'); COMMIT;", None),
    Case("django-duplicate-username", App.DJANGO, "createsuperuser with a taken username: UNIQUE, not a key",
         "INSERT INTO \"auth_user\" (\"password\", \"last_login\", \"is_superuser\", \"username\", \"last_name\", "
         "\"email\", \"is_staff\", \"is_active\", \"date_joined\", \"first_name\") VALUES ('!', NULL, 1, 'admin', '', "
         "'root@example.com', 1, 1, '2024-02-01 10:00:00', '')",
         "UNIQUE constraint failed: auth_user.username", failed_statement=1, error_code="SQLITE_CONSTRAINT_UNIQUE"),
    Case("django-raw-delete-content-type", App.DJANGO,
         "a data migration deletes a content type with raw SQL, bypassing Django's own cascade",
         "BEGIN; DELETE FROM \"django_content_type\" WHERE \"id\" IN (4); COMMIT;", FK_FAILED, FailsAt.COMMIT, 3,
         (Broken("auth_permission", 1, ("content_type_id",), (4,), Reason.PARENT_DELETED, deferred=True),
          Broken("auth_permission", 2, ("content_type_id",), (4,), Reason.PARENT_DELETED, deferred=True),
          Broken("django_admin_log", 1, ("content_type_id",), (4,), Reason.PARENT_DELETED, deferred=True)),
         error_code=_FK),
    Case("django-cleanup-then-fixture", App.DJANGO,
         "a data migration removes the membership of a deleted user, then a fixture adds one for a user not loaded",
         "BEGIN; DELETE FROM \"auth_user_groups\" WHERE \"user_id\" = 99; "
         "INSERT INTO \"auth_user_groups\" (\"id\", \"user_id\", \"group_id\") VALUES (3, 77, 1); COMMIT;",
         FK_FAILED, FailsAt.COMMIT, 4,
         (Broken("auth_user_groups", 3, ("user_id",), (77,), Reason.MISSING_ROW, deferred=True),), error_code=_FK,
         setup="INSERT INTO \"auth_user_groups\" VALUES (5, 99, 2);", pre_existing=(("auth_user_groups", 1),)),
    Case("django-fixture-restores-a-user", App.DJANGO,
         "the fixture's user 99 makes up, in SQLite's count, for its membership of user 77 that has no user",
         "BEGIN; INSERT INTO \"auth_user_groups\" (\"id\", \"user_id\", \"group_id\") VALUES (3, 77, 1); "
         "INSERT INTO \"auth_user\" (\"id\", \"password\", \"is_superuser\", \"username\", \"last_name\", "
         "\"email\", \"is_staff\", \"is_active\", \"date_joined\", \"first_name\") VALUES (99, '!', 0, 'old', '', "
         "'', 0, 0, '2020-01-01 00:00:00', ''); COMMIT;", None,
         setup="INSERT INTO \"auth_user_groups\" VALUES (5, 99, 2);", pre_existing=(("auth_user_groups", 1),)),
    Case("django-admin-log-without-content-type", App.DJANGO, "a NULL content type is never checked",
         "INSERT INTO \"django_admin_log\" (\"action_time\", \"user_id\", \"content_type_id\", \"object_id\", "
         "\"object_repr\", \"action_flag\", \"change_message\") VALUES ('2024-02-01 10:00:00', 1, NULL, NULL, "
         "'x', 3, '')", None),
    # ------------------------------------------------------------------ a Rails-style web app with deferred keys
    Case("webapp-post-unknown-editor", App.WEBAPP, "a post is saved with an editor id from another account's page",
         "BEGIN TRANSACTION; INSERT INTO \"posts\" (\"user_id\", \"editor's \"\"pen\"\" id\", \"title\", "
         "\"created_at\") VALUES (1, 9, 'Draft', '2024-02-01 09:00:00'); COMMIT TRANSACTION;",
         FK_FAILED, FailsAt.COMMIT, 3,
         (Broken("posts", 3, (_EDITOR,), (9,), Reason.MISSING_ROW, deferred=True),), error_code=_FK),
    Case("webapp-tag-with-trailing-space", App.WEBAPP, "a tag typed with a trailing space, into a WITHOUT ROWID table",
         "BEGIN; INSERT INTO \"taggings\" (\"post_id\", \"tag_name\") VALUES (2, 'ruby '); COMMIT;",
         FK_FAILED, FailsAt.COMMIT, 3,
         (Broken("taggings", (2, "ruby "), ("tag_name",), ("ruby ",), Reason.NEAR_MISS, deferred=True),),
         error_code=_FK),
    Case("webapp-delete-post-cascades", App.WEBAPP, "a post is deleted: its comments and taggings CASCADE",
         "DELETE FROM \"posts\" WHERE \"posts\".\"id\" = 1", None),
    Case("webapp-delete-user-with-comments", App.WEBAPP, "a user is deleted while their comment still names them",
         "BEGIN; DELETE FROM \"users\" WHERE \"users\".\"id\" = 3; COMMIT;", FK_FAILED, FailsAt.COMMIT, 3,
         (Broken("comments", 2, ("user_id",), (3,), Reason.PARENT_DELETED, deferred=True),), error_code=_FK),
    Case("webapp-users-rebuilt", App.WEBAPP,
         "after a hand-written rebuild of users, comments reference users_old, which lacks the new user 4",
         "BEGIN; INSERT INTO \"comments\" (\"post_id\", \"user_id\", \"body\", \"created_at\") "
         "VALUES (2, 4, 'Welcome', '2024-02-21 09:00:00'); COMMIT;", FK_FAILED, FailsAt.COMMIT, 3,
         (Broken("comments", 3, ("user_id",), (4,), Reason.STALE_PARENT_TABLE, deferred=True),), error_code=_FK,
         setup=_USERS_REBUILT),
    Case("webapp-tagging-orphan-already-there", App.WEBAPP,
         "a tagging of a tag deleted with keys off is already there; a new tagging names a tag never created",
         "BEGIN; INSERT INTO \"taggings\" (\"post_id\", \"tag_name\") VALUES (2, 'rails'); COMMIT;",
         FK_FAILED, FailsAt.COMMIT, 3,
         (Broken("taggings", (2, "rails"), ("tag_name",), ("rails",), Reason.MISSING_ROW, deferred=True),),
         error_code=_FK, setup="INSERT INTO \"taggings\" VALUES (1, 'perl');", pre_existing=(("taggings", 1),)),
    Case("webapp-migration-drops-tags", App.WEBAPP,
         "a migration drops tags; the deferred taggings key waits for COMMIT, when the table is gone",
         "BEGIN; DROP TABLE \"tags\"; COMMIT;", FK_FAILED, FailsAt.COMMIT, 3,
         tuple(Broken("taggings", pk, ("tag_name",), (pk[1],), Reason.PARENT_TABLE_MISSING, deferred=True)
               for pk in ((1, "ruby"), (1, "sqlite"), (2, "sqlite"))), error_code=_FK),
    Case("webapp-rebuild-users-keys-on", App.WEBAPP,
         "a migration rebuilds users with foreign keys on: every row keeps its parent, yet COMMIT fails",
         _REBUILD_USERS.format(keys="PRAGMA foreign_keys = ON; "), FK_FAILED, FailsAt.COMMIT, 7,
         (Broken("comments", 1, ("user_id",), (2,), Reason.PARENT_DELETED, deferred=True),
          Broken("comments", 2, ("user_id",), (3,), Reason.PARENT_DELETED, deferred=True),
          Broken("posts", 1, (_EDITOR,), (2,), Reason.PARENT_DELETED, deferred=True)), error_code=_FK,
         summary_has=("statement 5 (DROP TABLE", "PRAGMA foreign_keys = OFF before BEGIN")),
    Case("webapp-rebuild-users-keys-off", App.WEBAPP, "the same rebuild with foreign keys off, as SQLite documents",
         _REBUILD_USERS.format(keys="PRAGMA foreign_keys = OFF; "), None),
    Case("webapp-nullify-a-required-column", App.WEBAPP,
         "a comment is deleted; notifications.comment_id is `on_delete: :nullify` but `null: false`",
         "DELETE FROM \"comments\" WHERE \"comments\".\"id\" = 2",
         "NOT NULL constraint failed: notifications.comment_id",
         failed_statement=1, error_code="SQLITE_CONSTRAINT_NOTNULL",
         setup="CREATE TABLE \"notifications\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "
               "\"comment_id\" integer NOT NULL, CONSTRAINT \"fk_rails_notif_comment\" FOREIGN KEY (\"comment_id\") "
               "REFERENCES \"comments\" (\"id\") ON DELETE SET NULL); INSERT INTO \"notifications\" VALUES (1, 2);",
         summary_has=("notifications(comment_id) REFERENCES comments(id) is declared ON DELETE SET NULL",)),
    Case("webapp-device-id-from-the-url", App.WEBAPP,
         "a hand-made table without types: the API binds the device id from the URL, as text",
         "INSERT INTO \"pushes\" (\"device_id\", \"body\") VALUES ('5', 'Your order shipped')",
         FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("pushes", 1, ("device_id",), ("5",), Reason.TYPE_MISMATCH, statement=1),), error_code=_FK,
         setup="CREATE TABLE devices (id PRIMARY KEY, name); INSERT INTO devices VALUES (5, 'phone'); "
               "CREATE TABLE pushes (id INTEGER PRIMARY KEY, device_id REFERENCES devices(id), body);"),
    Case("webapp-comment-on-missing-post", App.WEBAPP, "a comment on a post deleted in another tab (the trigger runs)",
         "INSERT INTO \"comments\" (\"post_id\", \"user_id\", \"body\", \"created_at\") "
         "VALUES (42, 1, 'Late', '2024-02-01 09:00:00')", FK_FAILED, FailsAt.STATEMENT, 1,
         (Broken("comments", 3, ("post_id",), (42,), Reason.MISSING_ROW, statement=1),), error_code=_FK),
    Case("webapp-rename-tag-cascades", App.WEBAPP, "a tag is renamed: ON UPDATE CASCADE renames its taggings",
         "UPDATE \"tags\" SET \"name\" = 'Ruby' WHERE \"name\" = 'ruby'", None),
    Case("webapp-user-before-account", App.WEBAPP, "sign-up writes the user before the account: deferred, fine",
         "BEGIN; INSERT INTO \"users\" VALUES (5, 2, 'eve@new.test', '2024-02-01 09:00:00'); "
         "INSERT INTO \"accounts\" VALUES (2, 'New', '2024-02-01 09:00:00'); COMMIT;", None),
)


# --------------------------------------------------------------------------- running a case
def file_for(case: Case, tmp_path: Path) -> Path:
    return build(case.app, tmp_path / f"{case.app}.db", case.setup)


def simulate(path: Path, text: str) -> tuple[StatementSimulation, DatabaseInfo]:
    """The replay on a safe connection; the original and the work copy proven unchanged."""
    before = sha256_file(path)
    with safe_connection(path) as (work, conn):
        copy_before = sha256_file(work.path)
        info = read_schema(conn, database=str(path))
        sim = replay(conn, info, parse_script(text, "--sql"), "--sql")
        assert not conn.in_transaction and sha256_file(work.path) == copy_before
    assert sha256_file(path) == before
    return sim, info


def answered(sim: StatementSimulation) -> set[Broken]:
    return {Broken(v.table, v.rowid, v.columns, v.values, v.reason, v.deferred, v.statement) for v in sim.violations}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_matches_sqlite_and_names_the_reference(case, tmp_path):
    path = file_for(case, tmp_path)
    said = sqlite_says(path, case.sql)
    assert said is None if case.sqlite is None else (said or "").startswith(case.sqlite)
    sim, _ = simulate(path, case.sql)
    assert sim.ok is case.ok and sim.error == said
    assert (sim.fails_at, sim.failed_statement) == (case.fails_at, case.failed_statement)
    assert sim.error_code == case.error_code or case.error_code is None
    assert answered(sim) == set(case.broken)
    assert sim.violations_total == (len(case.broken) if case.total is None else case.total)
    assert [(p.table, p.count) for p in sim.pre_existing] == list(case.pre_existing)
    for v in sim.violations:
        assert v.fails_at is (FailsAt.COMMIT if v.statement is None else FailsAt.STATEMENT)
        assert v.storage_classes == tuple(sql_type(x) for x in v.values) and v.explanation
    for words in case.summary_has:
        assert words in sim.summary


def test_every_reason_and_both_moments_are_exercised():
    reasons = {b.reason for c in CASES for b in c.broken}
    assert reasons >= set(Reason) - {Reason.OK, Reason.NULL_NOT_ALLOWED}
    assert {c.fails_at for c in CASES} == {None, FailsAt.STATEMENT, FailsAt.COMMIT}
    assert len({c.app for c in CASES}) == 5 and sum(not c.ok for c in CASES) >= 23


# --------------------------------------------------------------------------- explanations read well
def case(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


@pytest.mark.parametrize(("case_id", "words"), [
    ("northwind-lowercase-customer", ("'alfki'", "'ALFKI'", "letter case")),
    ("northwind-territory-lost-its-zero", ("'1581'", "'01581'", "equal only as numbers")),
    ("webapp-tag-with-trailing-space", ("'ruby '", "'ruby'", "spaces")),
    ("chinook-play-of-track-not-in-playlist", ("PlaylistId, TrackId", "no row has the whole key")),
    ("webapp-users-rebuilt", ("users_old", "live users")),
    ("chinook-delete-artist", ("deleted the Artist row", "(ArtistId) = (2)")),
    ("northwind-customer-key-renamed", ("changed the key of the Customers row", "'ALFKI'")),
    ("sakila-delete-customer-restrict", ("ON DELETE RESTRICT",)),
])
def test_explanation_names_the_evidence(case_id, words, tmp_path):
    c = case(case_id)
    sim, _ = simulate(file_for(c, tmp_path), c.sql)
    text = " ".join(v.explanation for v in sim.violations)
    for word in words:
        assert word in text, text


# --------------------------------------------------------------------------- what the file says without a statement
def test_sakila_store_staff_cycle_is_a_finding_and_deferred_keys_are_not(tmp_path):
    found = {}
    for app in App:
        path = build(app, tmp_path / f"{app}.db")
        with safe_connection(path) as (_, conn):
            found[app] = non_deferrable_cycles(read_schema(conn, database=str(path)))
    (cycle,) = found[App.SAKILA]
    assert set(cycle.examples) == {"store", "staff"} and "PRAGMA defer_foreign_keys = ON" in cycle.message
    # a self-reference (Employee.ReportsTo) and deferred keys (Django, the web app) are no such cycle
    assert all(found[app] == () for app in App if app is not App.SAKILA)


# --------------------------------------------------------------------------- the message the customer saw
@dataclass(frozen=True)
class Message:
    id: str
    app: App
    #: The message as the app's log shows it, driver's words included.
    text: str
    kind: MessageKind
    #: The declarations named, as "child(cols) REFERENCES parent(cols)"; None: every declaration of the file.
    declarations: tuple[str, ...] | None
    #: The case whose statements make SQLite raise the message (proof the message is real).
    raised_by: str | None = None
    setup: str = ""


MESSAGES: tuple[Message, ...] = (
    Message("chinook-renamed-table", App.CHINOOK,
            "Microsoft.Data.Sqlite.SqliteException (0x80004005): SQLite Error 1: 'no such table: main.MediaType'.",
            MessageKind.NO_SUCH_TABLE, ("Track(MediaTypeId) REFERENCES MediaType(MediaTypeId)",),
            "chinook-media-type-renamed", _RENAMED_MEDIA_TYPE),
    Message("northwind-mismatch", App.NORTHWIND,
            'sqlite3.OperationalError: foreign key mismatch - "ShipperRates" referencing "Shippers"',
            MessageKind.FOREIGN_KEY_MISMATCH, ("ShipperRates(Shipper) REFERENCES Shippers(CompanyName)",),
            "northwind-rates-by-shipper-name", _SHIPPER_RATES),
    Message("webapp-rails", App.WEBAPP,
            "ActiveRecord::InvalidForeignKey: SQLite3::ConstraintException: FOREIGN KEY constraint failed",
            MessageKind.FOREIGN_KEY_FAILED, None, "webapp-comment-on-missing-post"),
    Message("webapp-prisma-field", App.WEBAPP,
            "Invalid `prisma.taggings.create()` invocation: Foreign key constraint failed on the field: `tag_name`",
            MessageKind.FOREIGN_KEY_FAILED, ("taggings(tag_name) REFERENCES tags(name)",)),
    Message("django-loaddata-check", App.DJANGO,
            "django.db.utils.IntegrityError: Problem installing fixtures: The row in table 'auth_user_groups' with "
            "primary key '2' has an invalid foreign key: auth_user_groups.user_id contains a value '7' that does not "
            "have a corresponding value in auth_user.id.", MessageKind.FOREIGN_KEY_FAILED,
            ("auth_user_groups(user_id) REFERENCES auth_user(id)",)),
    Message("django-not-null", App.DJANGO,
            "django.db.utils.IntegrityError: NOT NULL constraint failed: auth_user.email",
            MessageKind.NOT_A_FOREIGN_KEY, ()),
    Message("sakila-jdbc", App.SAKILA,
            "org.sqlite.SQLiteException: [SQLITE_CONSTRAINT_FOREIGNKEY] A foreign key constraint failed "
            "(FOREIGN KEY constraint failed)", MessageKind.FOREIGN_KEY_FAILED, None, "sakila-rental-of-unknown-copy"),
)


@pytest.mark.parametrize("msg", MESSAGES, ids=[m.id for m in MESSAGES])
def test_error_message_names_the_declarations(msg, tmp_path):
    path = build(msg.app, tmp_path / f"{msg.app}.db", msg.setup)
    if msg.raised_by is not None:
        raised = sqlite_says(path, case(msg.raised_by).sql)
        assert raised is not None and raised.lower() in msg.text.lower()
    parsed = parse_error(msg.text)
    assert parsed.kind is msg.kind
    with safe_connection(path) as (_, conn):
        info = read_schema(conn, database=str(path))
    named = tuple(d.text for d in declarations_for(info, parsed))
    if msg.declarations is None:
        assert len(named) == sum(len(t.foreign_keys) for t in info.tables) > 0
    else:
        assert named == msg.declarations


# --------------------------------------------------------------------------- not a key at all
def test_syntax_error_in_a_logged_statement_is_one_sentence(tmp_path):
    path = build(App.WEBAPP, tmp_path / "webapp.db")
    text = "BEGIN; INSERT INTO \"posts\" (\"title\", \"created_at\") VALUE ('x', '2024-02-01'); COMMIT;"
    assert sqlite_says(path, text) == 'near "VALUE": syntax error'
    with pytest.raises(errors.BadStatementError) as caught:
        parse_script(text, "--sql")
    assert caught.value.exit_code == errors.EXIT_BAD_INPUT and "statement 2" in str(caught.value)
    assert "syntax error" in str(caught.value)


def test_values_build_the_same_insert_as_the_app(tmp_path):
    """`--table Orders --values CustomerID=alfki,...` answers as the app's own INSERT does."""
    path = build(App.NORTHWIND, tmp_path / "northwind.db")
    with safe_connection(path) as (_, conn):
        info = read_schema(conn, database=str(path))
        table = info.table("Orders")
        assert table is not None
        sql, params = insert_for(table, parse_values("CustomerID=alfki,EmployeeID:int=1,ShipVia=2"))
    literal = sql.replace("?, ?, ?", ", ".join(f"'{p}'" if isinstance(p, str) else str(p) for p in params))
    sim, _ = simulate(path, literal)
    assert sqlite_says(path, literal) == FK_FAILED
    assert answered(sim) == {Broken("Orders", 10250, ("CustomerID",), ("alfki",), Reason.NEAR_MISS, statement=1)}


def test_values_into_a_table_named_with_a_space(tmp_path):
    path = build(App.NORTHWIND, tmp_path / "northwind.db")
    with safe_connection(path) as (_, conn):
        table = read_schema(conn, database=str(path)).table("order details")
        assert table is not None
        sql, params = insert_for(table, parse_values("orderid:int=10248, ProductID:int=77, Quantity=3"))
    assert sql == 'INSERT INTO "Order Details" ("OrderID", "ProductID", "Quantity") VALUES (?, ?, ?)'
    literal = sql.replace("?, ?, ?", ", ".join(f"'{p}'" if isinstance(p, str) else str(p) for p in params))
    assert sqlite_says(path, literal) == FK_FAILED
    sim, _ = simulate(path, literal)
    assert answered(sim) == {Broken("Order Details", 4, ("ProductID",), (77,), Reason.MISSING_ROW, statement=1)}


def test_a_statement_logged_with_its_parameters_apart_is_one_sentence(tmp_path):
    """EF Core logs `Executed DbCommand ... [Parameters=[@p0='4', ...]]` and the SQL with @p0 in it."""
    text = ("BEGIN; INSERT INTO \"Album\" (\"AlbumId\", \"ArtistId\", \"Title\") VALUES (@p0, @p1, @p2); COMMIT;")
    with pytest.raises(errors.BadStatementError) as caught:
        parse_script(text, "--sql")
    assert "statement 2" in str(caught.value) and "(@p0, @p1, @p2)" in str(caught.value)
    assert caught.value.exit_code == errors.EXIT_BAD_INPUT


def _cli(*args: Any) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True,
                          cwd=root, timeout=120)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_through_the_cli(case, tmp_path):
    """What a support engineer types: `diagnose DB --sql ... --json`, and its exit code."""
    path = file_for(case, tmp_path)
    before = sha256_file(path)
    run = _cli("diagnose", path, "--sql", case.sql, "--json")
    assert run.returncode in (0, 1) and "Traceback" not in run.stderr, run.stderr
    stmt = json.loads(run.stdout)["statement_simulation"]
    assert (stmt["ok"], stmt["fails_at"], stmt["failed_statement"]) == (
        case.ok, case.fails_at and str(case.fails_at), case.failed_statement)
    assert {(v["table"], v["reason"]) for v in stmt["violations"]} == {(b.table, str(b.reason)) for b in case.broken}
    assert stmt["violations_total"] == (len(case.broken) if case.total is None else case.total)
    # a statement that fails is a problem; one that succeeds on a file with no other error is not
    assert run.returncode == 1 or case.ok
    assert sha256_file(path) == before


@pytest.mark.parametrize("case", [c for c in CASES if c.fails_at is FailsAt.STATEMENT], ids=lambda c: c.id)
def test_the_rows_a_statement_wrote_give_the_answer_checking_every_table_gives(case, tmp_path, monkeypatch):
    """A failing statement's broken references are looked for among the rows it wrote (TEMP
    triggers record them): the answer is the one a check of every table gives."""
    import toolkit.replay

    path = file_for(case, tmp_path)
    captured, _ = simulate(path, case.sql)
    monkeypatch.setattr(toolkit.replay, "MAX_CAPTURED_TABLES", 0)
    checked, _ = simulate(path, case.sql)
    assert captured == checked
