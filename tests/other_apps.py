"""Five other applications' databases, shaped like the real ones (their table and column names,
their key declarations as their tools write them), a few rows each: the files a support engineer
gets when the app is not ours.

- CHINOOK: a music store (the Chinook sample): bracket-quoted names, `CONSTRAINT PK_... PRIMARY KEY`
  rowid keys, Employee.ReportsTo referencing Employee, PlaylistTrack with a composite primary key,
  plus PlaylistTrackPlay, an app's add-on table whose key references PlaylistTrack's two columns.
- NORTHWIND: a trading company (the SQLite port of Northwind): text customer keys ('ALFKI'), text
  territory keys with leading zeros ('01581'), a table named "Order Details" with CHECKs, and
  Employees.ReportsTo referencing Employees.
- SAKILA: a DVD rental shop (the SQLite port of Sakila): `numeric` and `INT` keys that are not rowid
  aliases, film_actor's composite key, ON UPDATE CASCADE, ON DELETE RESTRICT and SET NULL, and the
  store <-> staff reference cycle whose keys are NOT deferrable.
- DJANGO: a web framework's tables as Django's migrations create them on SQLite, every key
  `REFERENCES ... DEFERRABLE INITIALLY DEFERRED`.
- WEBAPP: a Rails-style web app with deferred keys, a WITHOUT ROWID table of tags keyed by name,
  a trigger that counts comments, CASCADE and SET NULL, and a column named with quotes and spaces.

Each builder writes with plain sqlite3 into a new file at `path` and returns it.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

CHINOOK = """
CREATE TABLE [Artist] ([ArtistId] INTEGER NOT NULL, [Name] NVARCHAR(120),
    CONSTRAINT [PK_Artist] PRIMARY KEY ([ArtistId]));
CREATE TABLE [Album] ([AlbumId] INTEGER NOT NULL, [Title] NVARCHAR(160) NOT NULL, [ArtistId] INTEGER NOT NULL,
    CONSTRAINT [PK_Album] PRIMARY KEY ([AlbumId]),
    FOREIGN KEY ([ArtistId]) REFERENCES [Artist] ([ArtistId]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Genre] ([GenreId] INTEGER NOT NULL, [Name] NVARCHAR(120), CONSTRAINT [PK_Genre] PRIMARY KEY ([GenreId]));
CREATE TABLE [MediaType] ([MediaTypeId] INTEGER NOT NULL, [Name] NVARCHAR(120),
    CONSTRAINT [PK_MediaType] PRIMARY KEY ([MediaTypeId]));
CREATE TABLE [Track] ([TrackId] INTEGER NOT NULL, [Name] NVARCHAR(200) NOT NULL, [AlbumId] INTEGER,
    [MediaTypeId] INTEGER NOT NULL, [GenreId] INTEGER, [Composer] NVARCHAR(220), [Milliseconds] INTEGER NOT NULL,
    [Bytes] INTEGER, [UnitPrice] NUMERIC(10,2) NOT NULL, CONSTRAINT [PK_Track] PRIMARY KEY ([TrackId]),
    FOREIGN KEY ([AlbumId]) REFERENCES [Album] ([AlbumId]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([GenreId]) REFERENCES [Genre] ([GenreId]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([MediaTypeId]) REFERENCES [MediaType] ([MediaTypeId]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Employee] ([EmployeeId] INTEGER NOT NULL, [LastName] NVARCHAR(20) NOT NULL,
    [FirstName] NVARCHAR(20) NOT NULL, [Title] NVARCHAR(30), [ReportsTo] INTEGER, [Email] NVARCHAR(60),
    CONSTRAINT [PK_Employee] PRIMARY KEY ([EmployeeId]),
    FOREIGN KEY ([ReportsTo]) REFERENCES [Employee] ([EmployeeId]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Customer] ([CustomerId] INTEGER NOT NULL, [FirstName] NVARCHAR(40) NOT NULL,
    [LastName] NVARCHAR(20) NOT NULL, [Company] NVARCHAR(80), [Country] NVARCHAR(40), [Email] NVARCHAR(60) NOT NULL,
    [SupportRepId] INTEGER, CONSTRAINT [PK_Customer] PRIMARY KEY ([CustomerId]),
    FOREIGN KEY ([SupportRepId]) REFERENCES [Employee] ([EmployeeId]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Invoice] ([InvoiceId] INTEGER NOT NULL, [CustomerId] INTEGER NOT NULL, [InvoiceDate] DATETIME NOT NULL,
    [BillingCountry] NVARCHAR(40), [Total] NUMERIC(10,2) NOT NULL, CONSTRAINT [PK_Invoice] PRIMARY KEY ([InvoiceId]),
    FOREIGN KEY ([CustomerId]) REFERENCES [Customer] ([CustomerId]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [InvoiceLine] ([InvoiceLineId] INTEGER NOT NULL, [InvoiceId] INTEGER NOT NULL, [TrackId] INTEGER NOT NULL,
    [UnitPrice] NUMERIC(10,2) NOT NULL, [Quantity] INTEGER NOT NULL,
    CONSTRAINT [PK_InvoiceLine] PRIMARY KEY ([InvoiceLineId]),
    FOREIGN KEY ([InvoiceId]) REFERENCES [Invoice] ([InvoiceId]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([TrackId]) REFERENCES [Track] ([TrackId]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Playlist] ([PlaylistId] INTEGER NOT NULL, [Name] NVARCHAR(120),
    CONSTRAINT [PK_Playlist] PRIMARY KEY ([PlaylistId]));
CREATE TABLE [PlaylistTrack] ([PlaylistId] INTEGER NOT NULL, [TrackId] INTEGER NOT NULL,
    CONSTRAINT [PK_PlaylistTrack] PRIMARY KEY ([PlaylistId], [TrackId]),
    FOREIGN KEY ([PlaylistId]) REFERENCES [Playlist] ([PlaylistId]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([TrackId]) REFERENCES [Track] ([TrackId]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [PlaylistTrackPlay] ([PlayId] INTEGER PRIMARY KEY, [PlaylistId] INTEGER NOT NULL,
    [TrackId] INTEGER NOT NULL, [PlayedAt] DATETIME NOT NULL,
    FOREIGN KEY ([PlaylistId], [TrackId]) REFERENCES [PlaylistTrack] ([PlaylistId], [TrackId]));
CREATE INDEX [IFK_AlbumArtistId] ON [Album] ([ArtistId]);
CREATE INDEX [IFK_TrackAlbumId] ON [Track] ([AlbumId]);
INSERT INTO [Artist] VALUES (1, 'AC/DC'), (2, 'Accept'), (3, 'Aerosmith');
INSERT INTO [Album] VALUES (1, 'For Those About To Rock We Salute You', 1), (2, 'Balls to the Wall', 2),
    (3, 'Restless and Wild', 2);
INSERT INTO [Genre] VALUES (1, 'Rock'), (2, 'Jazz');
INSERT INTO [MediaType] VALUES (1, 'MPEG audio file'), (2, 'Protected AAC audio file');
INSERT INTO [Track] VALUES (1, 'For Those About To Rock (We Salute You)', 1, 1, 1, 'Angus Young', 343719, 11170334,
    0.99),
    (2, 'Balls to the Wall', 2, 2, 1, NULL, 342562, 5510424, 0.99),
    (3, 'Fast As a Shark', 3, 2, 1, 'F. Baltes', 230619, 3990994, 0.99);
INSERT INTO [Employee] VALUES (1, 'Adams', 'Andrew', 'General Manager', NULL, 'andrew@chinookcorp.com'),
    (2, 'Edwards', 'Nancy', 'Sales Manager', 1, 'nancy@chinookcorp.com'),
    (3, 'Peacock', 'Jane', 'Sales Support Agent', 2, 'jane@chinookcorp.com');
INSERT INTO [Customer] VALUES (1, 'Luís', 'Gonçalves', 'Embraer', 'Brazil', 'luisg@embraer.com.br', 3),
    (2, 'Leonie', 'Köhler', NULL, 'Germany', 'leonekohler@surfeu.de', 3);
INSERT INTO [Invoice] VALUES (1, 2, '2009-01-01 00:00:00', 'Germany', 1.98), (2, 1, '2009-01-02 00:00:00',
    'Brazil', 0.99);
INSERT INTO [InvoiceLine] VALUES (1, 1, 2, 0.99, 1), (2, 1, 3, 0.99, 1), (3, 2, 1, 0.99, 1);
INSERT INTO [Playlist] VALUES (1, 'Music'), (2, '90’s Music');
INSERT INTO [PlaylistTrack] VALUES (1, 1), (1, 2), (2, 3);
INSERT INTO [PlaylistTrackPlay] VALUES (1, 1, 1, '2024-03-01 10:00:00');
"""

NORTHWIND = """
CREATE TABLE [Categories] ([CategoryID] INTEGER PRIMARY KEY AUTOINCREMENT, [CategoryName] TEXT, [Description] TEXT);
CREATE TABLE [Customers] ([CustomerID] TEXT, [CompanyName] TEXT, [ContactName] TEXT, [City] TEXT, [Country] TEXT,
    PRIMARY KEY ("CustomerID"));
CREATE TABLE [Employees] ([EmployeeID] INTEGER PRIMARY KEY AUTOINCREMENT, [LastName] TEXT, [FirstName] TEXT,
    [Title] TEXT, [ReportsTo] INTEGER,
    FOREIGN KEY ([ReportsTo]) REFERENCES [Employees] ([EmployeeID]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Regions] ([RegionID] INTEGER NOT NULL PRIMARY KEY, [RegionDescription] TEXT NOT NULL);
CREATE TABLE [Territories] ([TerritoryID] TEXT NOT NULL, [TerritoryDescription] TEXT NOT NULL,
    [RegionID] INTEGER NOT NULL, PRIMARY KEY ("TerritoryID"),
    FOREIGN KEY ([RegionID]) REFERENCES [Regions] ([RegionID]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [EmployeeTerritories] ([EmployeeID] INTEGER NOT NULL, [TerritoryID] TEXT NOT NULL,
    PRIMARY KEY ("EmployeeID","TerritoryID"),
    FOREIGN KEY ([EmployeeID]) REFERENCES [Employees] ([EmployeeID]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([TerritoryID]) REFERENCES [Territories] ([TerritoryID]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Shippers] ([ShipperID] INTEGER PRIMARY KEY AUTOINCREMENT, [CompanyName] TEXT NOT NULL, [Phone] TEXT);
CREATE TABLE [Suppliers] ([SupplierID] INTEGER PRIMARY KEY AUTOINCREMENT, [CompanyName] TEXT NOT NULL, [Country] TEXT);
CREATE TABLE [Products] ([ProductID] INTEGER PRIMARY KEY AUTOINCREMENT, [ProductName] TEXT NOT NULL,
    [SupplierID] INTEGER, [CategoryID] INTEGER, [UnitPrice] NUMERIC DEFAULT 0, [Discontinued] TEXT NOT NULL DEFAULT '0',
    FOREIGN KEY ([CategoryID]) REFERENCES [Categories] ([CategoryID]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([SupplierID]) REFERENCES [Suppliers] ([SupplierID]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Orders] ([OrderID] INTEGER PRIMARY KEY AUTOINCREMENT, [CustomerID] TEXT, [EmployeeID] INTEGER,
    [OrderDate] DATETIME, [ShipVia] INTEGER, [Freight] NUMERIC DEFAULT 0, [ShipCountry] TEXT,
    FOREIGN KEY ([EmployeeID]) REFERENCES [Employees] ([EmployeeID]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([CustomerID]) REFERENCES [Customers] ([CustomerID]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([ShipVia]) REFERENCES [Shippers] ([ShipperID]) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Order Details] ([OrderID] INTEGER NOT NULL, [ProductID] INTEGER NOT NULL,
    [UnitPrice] NUMERIC NOT NULL DEFAULT 0, [Quantity] INTEGER NOT NULL DEFAULT 1, [Discount] REAL NOT NULL DEFAULT 0,
    PRIMARY KEY ("OrderID","ProductID"),
    CHECK ([Discount]>=(0) AND [Discount]<=(1)), CHECK ([Quantity]>(0)), CHECK ([UnitPrice]>=(0)),
    FOREIGN KEY ([OrderID]) REFERENCES [Orders] ([OrderID]) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY ([ProductID]) REFERENCES [Products] ([ProductID]) ON DELETE NO ACTION ON UPDATE NO ACTION);
INSERT INTO [Categories] VALUES (1, 'Beverages', 'Soft drinks, coffees, teas, beers, and ales'),
    (2, 'Condiments', 'Sweet and savory sauces');
INSERT INTO [Customers] VALUES ('ALFKI', 'Alfreds Futterkiste', 'Maria Anders', 'Berlin', 'Germany'),
    ('ANATR', 'Ana Trujillo Emparedados y helados', 'Ana Trujillo', 'México D.F.', 'Mexico'),
    ('VINET', 'Vins et alcools Chevalier', 'Paul Henriot', 'Reims', 'France');
INSERT INTO [Employees] VALUES (1, 'Davolio', 'Nancy', 'Sales Representative', 2),
    (2, 'Fuller', 'Andrew', 'Vice President, Sales', NULL), (5, 'Buchanan', 'Steven', 'Sales Manager', 2);
INSERT INTO [Regions] VALUES (1, 'Eastern'), (3, 'Northern');
INSERT INTO [Territories] VALUES ('01581', 'Westboro', 1), ('01730', 'Bedford', 1), ('48075', 'Southfield', 3);
INSERT INTO [EmployeeTerritories] VALUES (1, '48075'), (2, '01581'), (2, '01730');
INSERT INTO [Shippers] VALUES (1, 'Speedy Express', '(503) 555-9831'), (2, 'United Package', '(503) 555-3199'),
    (3, 'Federal Shipping', '(503) 555-9931');
INSERT INTO [Suppliers] VALUES (1, 'Exotic Liquids', 'UK'), (2, 'New Orleans Cajun Delights', 'USA');
INSERT INTO [Products] VALUES (1, 'Chai', 1, 1, 18, '0'), (2, 'Chang', 1, 1, 19, '0'),
    (3, 'Aniseed Syrup', 1, 2, 10, '0');
INSERT INTO [Orders] VALUES (10248, 'VINET', 5, '1996-07-04', 3, 32.38, 'France'),
    (10249, 'ALFKI', 1, '1996-07-05', 1, 11.61, 'Germany');
INSERT INTO [Order Details] VALUES (10248, 1, 14, 12, 0), (10248, 2, 9.8, 10, 0), (10249, 3, 10, 5, 0.05);
"""

SAKILA = """
CREATE TABLE language (language_id SMALLINT NOT NULL, name CHAR(20) NOT NULL, last_update TIMESTAMP NOT NULL,
    PRIMARY KEY (language_id));
CREATE TABLE actor (actor_id numeric NOT NULL, first_name VARCHAR(45) NOT NULL, last_name VARCHAR(45) NOT NULL,
    last_update TIMESTAMP NOT NULL, PRIMARY KEY (actor_id));
CREATE TABLE film (film_id int NOT NULL, title VARCHAR(255) NOT NULL, language_id SMALLINT NOT NULL,
    rental_rate DECIMAL(4,2) DEFAULT 4.99 NOT NULL, last_update TIMESTAMP NOT NULL, PRIMARY KEY (film_id),
    CONSTRAINT fk_film_language FOREIGN KEY (language_id) REFERENCES language (language_id)
        ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE film_actor (actor_id INT NOT NULL, film_id INT NOT NULL, last_update TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, film_id),
    CONSTRAINT fk_film_actor_actor FOREIGN KEY (actor_id) REFERENCES actor (actor_id)
        ON DELETE NO ACTION ON UPDATE CASCADE,
    CONSTRAINT fk_film_actor_film FOREIGN KEY (film_id) REFERENCES film (film_id)
        ON DELETE NO ACTION ON UPDATE CASCADE);
CREATE TABLE country (country_id SMALLINT NOT NULL, country VARCHAR(50) NOT NULL, last_update TIMESTAMP,
    PRIMARY KEY (country_id));
CREATE TABLE city (city_id int NOT NULL, city VARCHAR(50) NOT NULL, country_id SMALLINT NOT NULL,
    last_update TIMESTAMP NOT NULL, PRIMARY KEY (city_id),
    CONSTRAINT fk_city_country FOREIGN KEY (country_id) REFERENCES country (country_id)
        ON DELETE NO ACTION ON UPDATE CASCADE);
CREATE TABLE address (address_id int NOT NULL, address VARCHAR(50) NOT NULL, district VARCHAR(20) NOT NULL,
    city_id INT NOT NULL, phone VARCHAR(20) NOT NULL, last_update TIMESTAMP NOT NULL, PRIMARY KEY (address_id),
    CONSTRAINT fk_address_city FOREIGN KEY (city_id) REFERENCES city (city_id) ON DELETE NO ACTION ON UPDATE CASCADE);
CREATE TABLE store (store_id INT NOT NULL, manager_staff_id SMALLINT NOT NULL, address_id INT NOT NULL,
    last_update TIMESTAMP NOT NULL, PRIMARY KEY (store_id),
    CONSTRAINT fk_store_staff FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id)
        ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_store_address FOREIGN KEY (address_id) REFERENCES address (address_id)
        ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE staff (staff_id SMALLINT NOT NULL, first_name VARCHAR(45) NOT NULL, last_name VARCHAR(45) NOT NULL,
    address_id INT NOT NULL, store_id INT NOT NULL, active SMALLINT DEFAULT 1 NOT NULL, username VARCHAR(16) NOT NULL,
    last_update TIMESTAMP NOT NULL, PRIMARY KEY (staff_id),
    CONSTRAINT fk_staff_store FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_staff_address FOREIGN KEY (address_id) REFERENCES address (address_id)
        ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE customer (customer_id INT NOT NULL, store_id INT NOT NULL, first_name VARCHAR(45) NOT NULL,
    last_name VARCHAR(45) NOT NULL, email VARCHAR(50) DEFAULT NULL, address_id INT NOT NULL,
    active CHAR(1) DEFAULT 'Y' NOT NULL, create_date TIMESTAMP NOT NULL, last_update TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id),
    CONSTRAINT fk_customer_store FOREIGN KEY (store_id) REFERENCES store (store_id)
        ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_customer_address FOREIGN KEY (address_id) REFERENCES address (address_id)
        ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE inventory (inventory_id INT NOT NULL, film_id INT NOT NULL, store_id INT NOT NULL,
    last_update TIMESTAMP NOT NULL, PRIMARY KEY (inventory_id),
    CONSTRAINT fk_inventory_store FOREIGN KEY (store_id) REFERENCES store (store_id)
        ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_inventory_film FOREIGN KEY (film_id) REFERENCES film (film_id) ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE rental (rental_id INT NOT NULL, rental_date TIMESTAMP NOT NULL, inventory_id INT NOT NULL,
    customer_id INT NOT NULL, return_date TIMESTAMP DEFAULT NULL, staff_id SMALLINT NOT NULL,
    last_update TIMESTAMP NOT NULL, PRIMARY KEY (rental_id),
    CONSTRAINT fk_rental_staff FOREIGN KEY (staff_id) REFERENCES staff (staff_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_rental_inventory FOREIGN KEY (inventory_id) REFERENCES inventory (inventory_id)
        ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_rental_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id)
        ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE payment (payment_id INT NOT NULL, customer_id INT NOT NULL, staff_id SMALLINT NOT NULL,
    rental_id INT DEFAULT NULL, amount DECIMAL(5,2) NOT NULL, payment_date TIMESTAMP NOT NULL,
    last_update TIMESTAMP NOT NULL, PRIMARY KEY (payment_id),
    CONSTRAINT fk_payment_rental FOREIGN KEY (rental_id) REFERENCES rental (rental_id)
        ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT fk_payment_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id)
        ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_payment_staff FOREIGN KEY (staff_id) REFERENCES staff (staff_id)
        ON DELETE RESTRICT ON UPDATE CASCADE);
INSERT INTO language VALUES (1, 'English', '2006-02-15 05:02:19'), (2, 'Italian', '2006-02-15 05:02:19');
INSERT INTO actor VALUES (1, 'PENELOPE', 'GUINESS', '2006-02-15 04:34:33'), (2, 'NICK', 'WAHLBERG',
    '2006-02-15 04:34:33');
INSERT INTO film VALUES (1, 'ACADEMY DINOSAUR', 1, 0.99, '2006-02-15 05:03:42'),
    (2, 'ACE GOLDFINGER', 1, 4.99, '2006-02-15 05:03:42');
INSERT INTO film_actor VALUES (1, 1, '2006-02-15 05:05:03'), (2, 2, '2006-02-15 05:05:03');
INSERT INTO country VALUES (20, 'Canada', '2006-02-15 04:44:00'), (8, 'Australia', '2006-02-15 04:44:00');
INSERT INTO city VALUES (300, 'Lethbridge', 20, '2006-02-15 04:45:25'), (576, 'Woodridge', 8, '2006-02-15 04:45:25');
INSERT INTO address VALUES (1, '47 MySakila Drive', 'Alberta', 300, '', '2006-02-15 04:45:30'),
    (2, '28 MySQL Boulevard', 'QLD', 576, '', '2006-02-15 04:45:30'),
    (5, '1913 Hanoi Way', 'Nagasaki', 576, '28303384290', '2006-02-15 04:45:30');
INSERT INTO staff VALUES (1, 'Mike', 'Hillyer', 1, 1, 1, 'Mike', '2006-02-15 04:57:16'),
    (2, 'Jon', 'Stephens', 2, 2, 1, 'Jon', '2006-02-15 04:57:16');
INSERT INTO store VALUES (1, 1, 1, '2006-02-15 04:57:12'), (2, 2, 2, '2006-02-15 04:57:12');
INSERT INTO customer VALUES (1, 1, 'MARY', 'SMITH', 'MARY.SMITH@sakilacustomer.org', 5, '1', '2006-02-14 22:04:36',
    '2006-02-15 04:57:20');
INSERT INTO inventory VALUES (1, 1, 1, '2006-02-15 05:09:17'), (2, 2, 2, '2006-02-15 05:09:17');
INSERT INTO rental VALUES (1, '2005-05-24 22:53:30', 1, 1, '2005-05-26 22:04:30', 1, '2006-02-15 21:30:53');
INSERT INTO payment VALUES (1, 1, 1, 1, 2.99, '2005-05-25 11:30:37', '2006-02-15 22:12:30');
"""

DJANGO = """
CREATE TABLE "django_migrations" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "app" varchar(255) NOT NULL,
    "name" varchar(255) NOT NULL, "applied" datetime NOT NULL);
CREATE TABLE "django_content_type" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "app_label" varchar(100) NOT NULL, "model" varchar(100) NOT NULL);
CREATE UNIQUE INDEX "django_content_type_app_label_model_76bd3d3b_uniq" ON "django_content_type" ("app_label", "model");
CREATE TABLE "auth_permission" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "content_type_id" integer NOT NULL REFERENCES "django_content_type" ("id") DEFERRABLE INITIALLY DEFERRED,
    "codename" varchar(100) NOT NULL, "name" varchar(255) NOT NULL);
CREATE UNIQUE INDEX "auth_permission_content_type_id_codename_01ab375a_uniq"
    ON "auth_permission" ("content_type_id", "codename");
CREATE INDEX "auth_permission_content_type_id_2f476e4b" ON "auth_permission" ("content_type_id");
CREATE TABLE "auth_group" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(150) NOT NULL UNIQUE);
CREATE TABLE "auth_group_permissions" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "group_id" integer NOT NULL REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED,
    "permission_id" integer NOT NULL REFERENCES "auth_permission" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL,
    "last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE,
    "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" bool NOT NULL,
    "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL);
CREATE TABLE "auth_user_groups" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED,
    "group_id" integer NOT NULL REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE UNIQUE INDEX "auth_user_groups_user_id_group_id_94350c0c_uniq" ON "auth_user_groups" ("user_id", "group_id");
CREATE TABLE "django_admin_log" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "object_id" text NULL,
    "object_repr" varchar(200) NOT NULL, "action_flag" smallint unsigned NOT NULL CHECK ("action_flag" >= 0),
    "change_message" text NOT NULL,
    "content_type_id" integer NULL REFERENCES "django_content_type" ("id") DEFERRABLE INITIALLY DEFERRED,
    "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED,
    "action_time" datetime NOT NULL);
INSERT INTO "django_migrations" VALUES (1, 'contenttypes', '0001_initial', '2024-01-10 09:00:00'),
    (2, 'auth', '0012_alter_user_first_name_max_length', '2024-01-10 09:00:01');
INSERT INTO "django_content_type" VALUES (1, 'admin', 'logentry'), (2, 'auth', 'permission'), (3, 'auth', 'group'),
    (4, 'auth', 'user');
INSERT INTO "auth_permission" VALUES (1, 4, 'add_user', 'Can add user'), (2, 4, 'change_user', 'Can change user'),
    (3, 3, 'add_group', 'Can add group');
INSERT INTO "auth_group" VALUES (1, 'editors'), (2, 'support');
INSERT INTO "auth_group_permissions" VALUES (1, 1, 2);
INSERT INTO "auth_user" VALUES (1, 'pbkdf2_sha256$600000$x$y', NULL, 1, 'admin', '', 'admin@example.com', 1, 1,
    '2024-01-10 09:05:00', ''), (2, 'pbkdf2_sha256$600000$x$z', NULL, 0, 'maria', 'Anders', 'maria@example.com', 1, 1,
    '2024-01-11 10:00:00', 'Maria');
INSERT INTO "auth_user_groups" VALUES (1, 2, 1);
INSERT INTO "django_admin_log" VALUES (1, '2', 'maria', 1, '[{"added": {}}]', 4, 1, '2024-01-11 10:00:05');
"""

WEBAPP = """
CREATE TABLE "schema_migrations" ("version" varchar NOT NULL PRIMARY KEY);
CREATE TABLE "ar_internal_metadata" ("key" varchar NOT NULL PRIMARY KEY, "value" varchar,
    "created_at" datetime(6) NOT NULL, "updated_at" datetime(6) NOT NULL);
CREATE TABLE "accounts" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar NOT NULL,
    "created_at" datetime(6) NOT NULL);
CREATE TABLE "users" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "account_id" integer NOT NULL,
    "email" varchar NOT NULL, "created_at" datetime(6) NOT NULL,
    CONSTRAINT "fk_rails_61ac11da2b" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id")
        DEFERRABLE INITIALLY DEFERRED);
CREATE UNIQUE INDEX "index_users_on_email" ON "users" ("email");
CREATE TABLE "posts" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "user_id" integer,
    "editor's ""pen"" id" integer, "title" varchar NOT NULL, "comments_count" integer DEFAULT 0 NOT NULL,
    "created_at" datetime(6) NOT NULL,
    CONSTRAINT "fk_rails_5b5ddfd518" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE SET NULL
        DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY ("editor's ""pen"" id") REFERENCES "users" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE "comments" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "post_id" integer NOT NULL,
    "user_id" integer NOT NULL, "body" text NOT NULL, "created_at" datetime(6) NOT NULL,
    CONSTRAINT "fk_rails_2fd19c0db7" FOREIGN KEY ("post_id") REFERENCES "posts" ("id") ON DELETE CASCADE,
    CONSTRAINT "fk_rails_03de2dc08c" FOREIGN KEY ("user_id") REFERENCES "users" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE "tags" ("name" varchar NOT NULL PRIMARY KEY, "color" varchar) WITHOUT ROWID;
CREATE TABLE "taggings" ("post_id" integer NOT NULL, "tag_name" varchar NOT NULL, PRIMARY KEY ("post_id", "tag_name"),
    CONSTRAINT "fk_rails_taggings_post" FOREIGN KEY ("post_id") REFERENCES "posts" ("id") ON DELETE CASCADE,
    CONSTRAINT "fk_rails_taggings_tag" FOREIGN KEY ("tag_name") REFERENCES "tags" ("name") ON UPDATE CASCADE
        DEFERRABLE INITIALLY DEFERRED) WITHOUT ROWID;
CREATE TRIGGER "comments_count_up" AFTER INSERT ON "comments" BEGIN
    UPDATE "posts" SET "comments_count" = "comments_count" + 1 WHERE "id" = NEW."post_id";
END;
INSERT INTO "schema_migrations" VALUES ('20240101090000'), ('20240215120000');
INSERT INTO "ar_internal_metadata" VALUES ('environment', 'production', '2024-01-01 09:00:00', '2024-01-01 09:00:00');
INSERT INTO "accounts" VALUES (1, 'Acme', '2024-01-01 09:00:00');
INSERT INTO "users" VALUES (1, 1, 'ann@acme.test', '2024-01-01 09:00:00'), (2, 1, 'bob@acme.test',
    '2024-01-02 09:00:00'),
    (3, 1, 'cy@acme.test', '2024-01-03 09:00:00');
INSERT INTO "posts" VALUES (1, 1, 2, 'Hello', 0, '2024-01-05 09:00:00'), (2, 2, NULL, 'Second', 0,
    '2024-01-06 09:00:00');
INSERT INTO "comments" VALUES (1, 1, 2, 'Nice', '2024-01-05 10:00:00'), (2, 1, 3, 'Thanks', '2024-01-05 11:00:00');
INSERT INTO "tags" VALUES ('ruby', 'red'), ('sqlite', 'blue');
INSERT INTO "taggings" VALUES (1, 'ruby'), (1, 'sqlite'), (2, 'sqlite');
"""


class App(StrEnum):
    CHINOOK = "chinook"
    NORTHWIND = "northwind"
    SAKILA = "sakila"
    DJANGO = "django"
    WEBAPP = "webapp"


SCHEMAS: dict[App, str] = {App.CHINOOK: CHINOOK, App.NORTHWIND: NORTHWIND, App.SAKILA: SAKILA,
                           App.DJANGO: DJANGO, App.WEBAPP: WEBAPP}


def build(app: App, path: Path, setup: str = "") -> Path:
    """`app`'s file at `path`, then `setup` (what the customer's history did to it: a migration, an
    orphan written with keys off) run with foreign keys off, as the builders' own rows are."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(SCHEMAS[app] + setup)
    finally:
        conn.close()
    return path


def builder(app: App) -> Callable[[Path], Path]:
    """A one-argument builder for `app`, for callers that want one per schema."""
    return lambda path: build(app, path)


def sqlite_says(path: Path, text: str) -> str | None:
    """SQLite's own outcome: the statements on a plain throwaway copy, foreign keys on."""
    copy = path.with_name("plain-" + path.name)
    copy.write_bytes(path.read_bytes())
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        conn.executescript(text)
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
        copy.unlink()
    return None
