from __future__ import annotations

from pathlib import Path

import pytest

from triage.ml.bundle import read_manifest, verify_bundle, write_bundle


def _payload(folder: Path) -> None:
    (folder / "a.txt").write_text("alpha")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("beta")


def test_bundle_describes_itself(tmp_path: Path):
    path = write_bundle(tmp_path, "triage", "v1", {"metrics": {"x": 1}}, _payload)
    assert path == tmp_path / "triage" / "v1"
    manifest = verify_bundle(path)
    assert manifest == read_manifest(path)
    assert manifest["version"] == "v1" and manifest["kind"] == "triage"
    assert set(manifest["files"]) == {"a.txt", "sub/b.txt"}
    assert manifest["libraries"]["scikit-learn"]
    assert manifest["metrics"] == {"x": 1}


def test_failed_write_leaves_nothing(tmp_path: Path):
    def broken(folder: Path) -> None:
        (folder / "half.bin").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_bundle(tmp_path, "triage", "v1", {}, broken)
    assert list((tmp_path / "triage").iterdir()) == []


def test_bundles_are_immutable_and_tampering_is_detected(tmp_path: Path):
    path = write_bundle(tmp_path, "triage", "v1", {}, _payload)
    with pytest.raises(FileExistsError):
        write_bundle(tmp_path, "triage", "v1", {}, _payload)
    (path / "a.txt").write_text("changed")
    with pytest.raises(ValueError, match="a.txt"):
        verify_bundle(path)


def test_temp_folders_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    import fcntl
    import os

    from triage.ml.bundle import remove_abandoned

    dead, live = tmp_path / ".tmp-dead", tmp_path / ".tmp-live"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "part.bin").write_bytes(b"half")
    holder = os.open(tmp_path / ".tmp-live.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a writer that is still at work
    try:
        assert remove_abandoned(tmp_path) == [".tmp-dead"]
        assert not dead.exists() and live.is_dir()
    finally:
        os.close(holder)
    assert remove_abandoned(tmp_path) == [".tmp-live"]  # its writer is gone now


def test_a_writer_killed_before_making_its_folder_leaves_a_lock_file_the_next_write_removes(tmp_path):
    (tmp_path / "triage").mkdir()
    (tmp_path / "triage" / ".tmp-v0.lock").touch()  # killed between taking its lock and its mkdir
    write_bundle(tmp_path, "triage", "v1", {}, _payload)
    assert sorted(p.name for p in (tmp_path / "triage").iterdir()) == ["v1"]
