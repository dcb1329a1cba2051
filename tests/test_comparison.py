"""compare(): the schema, the data and the insert, before and after the fix."""
from toolkit.comparison import compare
from toolkit.migration import apply_030
from toolkit.safe_access import fingerprint

from customer_files import customised_file


def test_compare_headline_before_and_after(sample, tmp_path):
    path = sample("v26_seed_failure.db")
    out = tmp_path / "fixed.db"
    apply_030(path, out)
    before = fingerprint(path), fingerprint(out)
    c = compare(path, out)
    assert (fingerprint(path), fingerprint(out)) == before
    changes = {(ch.kind, ch.name, ch.change) for ch in c.schema_changes}
    assert changes == {("column", col, "changed") for col in ("source_generation_id", "profile_id", "project_id")} | \
        {("foreign key", col, "removed") for col in ("source_generation_id", "profile_id", "project_id")}
    cols = {ch.name: (ch.before, ch.after) for ch in c.schema_changes if ch.kind == "column"}
    assert cols["project_id"] == ("TEXT NOT NULL", "TEXT")
    data = {t.table: t for t in c.tables}
    assert data["veo3_video_upscales"].only_before == 0 and data["veo3_video_upscales"].only_after == 0
    assert data["migrations"].only_after == 1 and data["migrations"].rows_after == data["migrations"].rows_before + 1
    assert c.insert_before.failing == ["project_id"] and not c.insert_before.ok
    assert c.insert_after.ok and c.insert_after.values == c.insert_before.values
    assert len(c.schema_frame()) == 6 and list(c.insert_frame()["ok"]) == [False, True]
    assert set(c.to_dict()) >= {"schema_changes", "tables", "insert_before", "insert_after"}


def test_compare_sees_rows_only_on_one_side(tmp_path):
    import sqlite3

    a = customised_file(tmp_path / "a.db")
    b = tmp_path / "b.db"
    b.write_bytes(a.read_bytes())
    conn = sqlite3.connect(b)
    conn.execute("DELETE FROM profiles WHERE rowid = 1")
    conn.execute("UPDATE veo3_projects SET name = 'renamed' WHERE rowid = 2")
    conn.execute("DROP INDEX idx_upscales_expr")
    conn.commit()
    conn.close()
    c = compare(a, b)
    data = {t.table: t for t in c.tables}
    assert (data["profiles"].only_before, data["profiles"].only_after) == (1, 0)
    assert (data["veo3_projects"].only_before, data["veo3_projects"].only_after) == (1, 1)
    assert ("index", "idx_upscales_expr", "removed") in {(x.kind, x.name, x.change) for x in c.schema_changes}


def test_change_vocabularies_are_the_json_strings(sample, tmp_path):
    import dataclasses
    import json

    import pytest

    from toolkit.comparison import Change, Kind

    assert [k.value for k in Kind] == ["table", "column", "foreign key", "index", "trigger", "view"]
    assert [c.value for c in Change] == ["added", "removed", "changed"]
    path = sample("v26_seed_failure.db")
    apply_030(path, tmp_path / "f.db")
    c = compare(path, tmp_path / "f.db")
    data = json.loads(json.dumps(c.to_dict()))
    assert {(ch["kind"], ch["change"]) for ch in data["schema_changes"]} == {("column", "changed"),
                                                                          ("foreign key", "removed")}
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.insert_before = None
    assert c.insert_before is not None and not c.insert_before.ok  # joined by replace, once
