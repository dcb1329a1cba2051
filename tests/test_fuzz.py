"""Fuzzing: mutated sample files through inspect, diagnose and fix.

Any outcome is fine except an exception that is not the toolkit's own: a crash, a hang (every
query on customer data is bounded by SQLite's progress handler) or a half-written output.
`make test` runs a bounded number of cases; `make fuzz` (FUZZ_EXAMPLES=...) runs more.
"""
import os
import sqlite3

import pytest

from conftest import make_db
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit import errors
from toolkit.diagnosis import diagnose
from toolkit.migration import apply_030
from toolkit.safe_access import fingerprint
from toolkit.samples import SAMPLES_DIR
from toolkit.schema import inspect

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SOURCES = ["v26_seed_failure.db", "cause_parent_pk_dropped.db", "028_nullable_fks_kept.db", "wal_pending.db",
           "cause_renamed_parent_stale.db"]
BYTES = {name: (SAMPLES_DIR / name).read_bytes() for name in SOURCES}
PAGE = 4096


@st.composite
def mutations(draw):
    """A sample's name and a short list of edits (kept small so failures print readably)."""
    name = draw(st.sampled_from(SOURCES))
    size = len(BYTES[name])
    # aim where damage matters: the header, the schema page, b-tree page headers, anywhere
    offset = st.one_of(st.integers(0, 99), st.integers(100, PAGE - 1),
                       st.builds(lambda p, o: p * PAGE + o, st.integers(1, size // PAGE - 1), st.integers(0, 12)),
                       st.integers(0, size - 1))
    edits = draw(st.lists(st.tuples(offset, st.integers(0, 255)), min_size=1, max_size=8))
    tail = draw(st.one_of(st.none(), st.tuples(st.just("truncate"), st.integers(0, size)),
                          st.tuples(st.just("append"), st.binary(min_size=1, max_size=64))))
    return name, edits, tail


def apply_mutations(name: str, edits: list, tail) -> bytes:
    data = bytearray(BYTES[name])
    for offset, value in edits:
        data[offset] = value
    if tail and tail[0] == "truncate":
        data = data[: tail[1]]
    elif tail:
        data += tail[1] * (PAGE // len(tail[1]) + 1)
    return bytes(data)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=mutations())
def test_mutated_files_only_ever_raise_toolkit_errors(case, tmp_path_factory, monkeypatch, guarantees):
    name, edits, tail = case
    data = apply_mutations(name, edits, tail)
    monkeypatch.setenv("TOOLKIT_TIME_LIMIT", "20")
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / name
    path.write_bytes(data)
    if name == "wal_pending.db":
        (folder / f"{name}-wal").write_bytes((SAMPLES_DIR / f"{name}-wal").read_bytes())
    before = fingerprint(path)
    guarantees["mutated_files_tried"] += 1
    out = folder / "out" / "fixed.db"
    out.parent.mkdir()
    for step in (lambda: inspect(path), lambda: diagnose(path), lambda: apply_030(path, out)):
        try:
            step()
        except errors.ToolkitError as exc:
            assert exc.message and "\n" not in exc.message
    if out.exists():  # complete and proven, or absent
        conn = sqlite3.connect(out)
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
        conn.close()
    else:
        leftovers = [p for p in out.parent.iterdir()]
        guarantees["outputs_half_written"] += len(leftovers)
        assert leftovers == []
    changed = fingerprint(path) != before
    guarantees["originals_changed"] += int(changed)
    assert not changed


def test_a_query_that_never_ends_is_cut_off(sample, monkeypatch):
    """A customer's trigger that loops forever fires in the insert simulation: the deadline stops it."""
    path = sample("v26_seed_failure.db")
    make_db(path, """
        CREATE TRIGGER forever BEFORE INSERT ON veo3_video_upscales BEGIN
          SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c);
        END;
    """)
    monkeypatch.setenv("TOOLKIT_TIME_LIMIT", "2")
    before = fingerprint(path)
    with pytest.raises(errors.QueryTimeoutError, match="time limit"):
        diagnose(path)
    assert fingerprint(path) == before
