"""The large-file generator: proportionate parents, the seed's failure, deterministic."""
import sqlite3

from toolkit.diagnosis import diagnose
from toolkit.largefile import large_database


def counts(path):
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("profiles", "veo3_projects", "veo3_video_generations", "veo3_video_upscales")}
    finally:
        conn.close()


def test_large_file_has_proportionate_parents_and_the_seed_failure(tmp_path):
    path = large_database(tmp_path / "big.db", 20_000)
    c = counts(path)
    assert c["veo3_video_generations"] == 25_000 and c["profiles"] == 4 and c["veo3_projects"] == 39
    assert 19_000 < c["veo3_video_upscales"] < 20_000  # the deleted project's upscales cascaded away
    d = diagnose(path)
    assert d.state == "strict" and d.recorded_version == 26
    assert d.insert_simulation.failing == ["project_id"]
    ids = sqlite3.connect(path).execute("SELECT id FROM veo3_video_upscales LIMIT 3").fetchall()
    assert all(len(i[0]) == 36 for i in ids)


def test_same_size_same_contents(tmp_path):
    a = large_database(tmp_path / "a.db", 3_000)
    b = large_database(tmp_path / "b.db", 3_000)
    query = "SELECT id, source_generation_id, project_id FROM veo3_video_upscales ORDER BY rowid"
    assert sqlite3.connect(a).execute(query).fetchall() == sqlite3.connect(b).execute(query).fetchall()
