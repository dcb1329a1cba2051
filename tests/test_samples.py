"""The committed samples are exactly what the generator builds, and say what the manifest says."""
import sqlite3

import pytest

from conftest import APP_FILES, ids
from toolkit import samples
from toolkit.samples import SAMPLES_DIR, SCENARIOS, build_samples, canonical_wal


def _normalise(name: str, data: bytes) -> bytes:
    # Bytes 96-99 of a database header hold the writing library's SQLITE_VERSION_NUMBER:
    # the only byte that may differ when the builder runs on another SQLite release.
    if name.endswith(".db") and data.startswith(b"SQLite format 3\x00"):
        return data[:96] + b"\x00" * 4 + data[100:]
    return data


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    out = tmp_path_factory.mktemp("rebuilt")
    build_samples(out)
    return out


def test_committed_samples_are_exactly_what_the_generator_builds(rebuilt):
    built = sorted(p.name for p in rebuilt.iterdir())
    committed = sorted(p.name for p in SAMPLES_DIR.iterdir())
    assert built == committed
    for name in built:
        fresh, kept = (rebuilt / name).read_bytes(), (SAMPLES_DIR / name).read_bytes()
        assert _normalise(name, fresh) == _normalise(name, kept), name


def test_generator_is_deterministic(rebuilt, tmp_path):
    build_samples(tmp_path)
    for p in rebuilt.iterdir():
        assert (tmp_path / p.name).read_bytes() == p.read_bytes(), p.name


def test_manifest_has_one_row_per_file_with_expectations():
    readme = (SAMPLES_DIR / "README.md").read_text()
    assert readme == samples.manifest_markdown()
    for s in SCENARIOS:
        assert f"`{s.filename}`" in readme
        assert (SAMPLES_DIR / s.filename).exists()
        assert s.state or s.error
    # the scenarios the issue and the app model name are all there
    names = {s.filename for s in SCENARIOS}
    for needed in ("v26_fresh_empty.db", samples.HEADLINE, "cause_type_mismatch.db", "cause_near_miss_whitespace.db",
                   "cause_renamed_parent_dropped.db", "cause_renamed_parent_stale.db", "cause_parent_pk_dropped.db",
                   "cause_orphan_rows.db", "cause_fk_off_in_transaction.db", "028_recorded_not_applied.db",
                   "028_half_way_leftover.db", "028_nullable_fks_kept.db", "v30_fixed.db", "user_version_only.db",
                   "wal_pending.db", "other_app.db", "bad_empty.db", "bad_text.db", "bad_truncated.db"):
        assert needed in names


@pytest.mark.parametrize("scenario", [s for s in APP_FILES if s.filename != "v26_fresh_empty.db"], ids=ids)
def test_app_samples_hold_hundreds_of_rows_with_uuid_like_text_ids(scenario, sample):
    path = sample(scenario.filename)
    conn = sqlite3.connect(path)
    (upscales,) = conn.execute("SELECT count(*) FROM veo3_video_upscales").fetchone()
    (generations,) = conn.execute("SELECT count(*) FROM veo3_video_generations").fetchone()
    assert upscales >= 150 and generations >= 300
    ids_ = [r[0] for r in conn.execute("SELECT id FROM veo3_video_upscales LIMIT 20")]
    assert all(isinstance(i, str) and len(i) == 36 and i.count("-") == 4 for i in ids_)
    assert path.stat().st_size < 1_000_000


def test_wal_sample_keeps_its_newest_rows_in_the_wal(sample, tmp_path):
    with_wal = sample("wal_pending.db")
    (count_with,) = sqlite3.connect(with_wal).execute("SELECT count(*) FROM veo3_video_upscales").fetchone()
    alone = tmp_path / "alone" / "wal_pending.db"
    alone.parent.mkdir()
    alone.write_bytes((SAMPLES_DIR / "wal_pending.db").read_bytes())
    (count_without,) = sqlite3.connect(alone).execute("SELECT count(*) FROM veo3_video_upscales").fetchone()
    assert count_with != count_without


def test_canonical_wal_is_accepted_by_sqlite(tmp_path):
    db = tmp_path / "w.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    copy = tmp_path / "c.db"
    copy.write_bytes(db.read_bytes())
    (tmp_path / "c.db-wal").write_bytes(canonical_wal((tmp_path / "w.db-wal").read_bytes()))
    conn.close()
    assert sqlite3.connect(copy).execute("SELECT count(*) FROM t").fetchone() == (1000,)
