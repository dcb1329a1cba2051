"""profile: the generic engine applies any application's profile; the video app's is data in one place."""
import re
import sqlite3
from pathlib import Path

import pytest

from toolkit import appmodel
from toolkit import profile as profiles
from toolkit.keymatch import Reason
from toolkit.profile import Profile, Reference, State
from toolkit.schema import read_schema

TOOLKIT = Path(__file__).resolve().parent.parent / "toolkit"
#: Modules that must work for any SQLite file: they may not know the video app's names.
GENERIC = ("diagnosis", "findings", "replay", "profile", "violations", "keymatch", "statements", "messages",
           "schema", "values", "ddl", "sqlnames", "safe_access", "guards", "triage")
APP_NAMES = (appmodel.UPSCALES, appmodel.PROJECTS, appmodel.GENERATIONS, "veo3", "source_generation_id")


@pytest.mark.parametrize("module", GENERIC)
def test_generic_modules_name_none_of_the_video_apps_tables(module):
    text = (TOOLKIT / f"{module}.py").read_text(encoding="utf-8")
    found = [name for name in APP_NAMES if re.search(re.escape(name), text, re.IGNORECASE)]
    assert found == [], f"toolkit/{module}.py names {found}: application knowledge belongs in a profile"


def _shop_insert(values, columns):
    row = {"id": 900, "customer_id": values.get("customer_id"), "note": "from the shop app"}
    cols = [c for c in row if c in columns]
    return (f"INSERT INTO orders ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            tuple(row[c] for c in cols))


#: A second application described the same way as the video app: nothing else in the engine changes.
SHOP_APP = Profile(
    name="shop-app", app="the shop app", table="orders",
    references=(Reference("customer_id", "customers", "id"),),
    known_tables=("customers", "orders"), sibling_tables=("customers",),
    introduced_by="release 2", fix="release 3", fix_command="python -m toolkit fix",
    claims=(), default_values=lambda conn, info: {"customer_id": "ALFKI"}, insert=_shop_insert,
    nothing_to_insert="no customer yet", nothing_to_insert_answer="No customer in {name} yet", row_noun="order")


@pytest.fixture
def shop(tmp_path):
    db = tmp_path / "shop.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript("""
        CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id), note TEXT);
        INSERT INTO customers VALUES ('alfki', 'Alfreds');
    """)
    return conn


def test_a_second_profile_is_applied_by_the_same_engine(shop):
    info = read_schema(shop, database="shop.db")
    assert SHOP_APP.applies(info) and not appmodel.VIDEO_APP.applies(info)
    table = info.table("orders")
    assert profiles.table_state(SHOP_APP, table) is State.STRICT
    values = SHOP_APP.default_values(shop, info)
    violations, flagged, _ = profiles.probe_and_check(SHOP_APP, shop, info, values)
    sim = profiles.simulate_insert(SHOP_APP, shop, info, values, flagged)
    # SQLite's own verdict, and the reason: the key matches only case-folded (customers.id is BINARY)
    assert not sim.ok and sim.fails_on_foreign_key and sim.failing == ["customer_id"]
    assert [r.reason for r in sim.references] == [Reason.NEAR_MISS] and violations == []
    said = profiles.answer(SHOP_APP, "shop.db", State.STRICT, sim, [])
    assert "apply release 3" in said and "customers" in said
    assert shop.execute("SELECT count(*) FROM orders").fetchone() == (0,)  # rolled back


def test_the_video_app_is_described_in_one_place():
    assert appmodel.VIDEO_APP.table == appmodel.UPSCALES
    assert {r.parent_table for r in appmodel.VIDEO_APP.references} == {
        appmodel.GENERATIONS, appmodel.PROFILES, appmodel.PROJECTS}
