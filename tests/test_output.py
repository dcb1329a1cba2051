"""output: --out checked before anything is read, the copy started beside it, the work folder gone afterwards."""
from pathlib import Path

import pytest

from toolkit import errors
from toolkit.output import copying_beside_output
from toolkit.safe_access import fingerprint


def _work_folders(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".fk-toolkit-")]


def test_the_copy_starts_beside_out_and_the_folder_goes_afterwards(sample, tmp_path):
    src = sample("v26_seed_failure.db")
    before = fingerprint(src)
    out = tmp_path / "fixed.db"
    with copying_beside_output(src, out, False, "fix") as started:
        assert started.path.parent == started.workdir and started.workdir.parent == tmp_path
        work = started.copy.result()
        assert work.path == started.path and work.verbatim and work.main_hash_deferred
        assert started.path.read_bytes() == src.read_bytes()
    assert _work_folders(tmp_path) == [] and not out.exists()
    assert fingerprint(src) == before


def test_a_failure_inside_waits_for_the_copy_and_removes_the_folder(sample, tmp_path):
    src = sample("v26_seed_failure.db")
    with pytest.raises(RuntimeError), copying_beside_output(src, tmp_path / "fixed.db", False, "fix"):
        raise RuntimeError("the planner failed")  # raised while the copy may still run
    assert _work_folders(tmp_path) == []


@pytest.mark.parametrize("case", ["the original itself", "an existing file", "a folder"])
def test_out_is_refused_before_anything_is_read(sample, tmp_path, case):
    src = sample("v26_seed_failure.db")
    out = {"the original itself": src, "an existing file": tmp_path / "there.db", "a folder": tmp_path}[case]
    if case == "an existing file":
        out.write_bytes(b"kept")
    with pytest.raises(errors.RefusedError), copying_beside_output(src, out, False, "fix"):
        pytest.fail("the copy must not start")
    assert _work_folders(src.parent) == [] and _work_folders(tmp_path) == []
    if case == "an existing file":
        assert out.read_bytes() == b"kept"
