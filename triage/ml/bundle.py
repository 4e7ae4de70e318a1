"""Immutable, self-describing bundles: ``<kind>/<version>/manifest.json`` plus files with sha256 sums."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import secrets
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ("library_versions", "new_version", "read_manifest", "remove_abandoned", "verify_bundle", "write_bundle")

MANIFEST = "manifest.json"
_LIBRARIES = (
    "numpy",
    "scikit-learn",
    "faiss-cpu",
    "sentence-transformers",
    "torch",
    "onnxruntime",
    "skops",
    "helpdesk-triage",
)


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries a bundle depends on, for the manifest."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def new_version() -> str:
    """A sortable, unique version string such as ``20261126T224501Z-3f9a1c``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bundle(
    artifacts_dir: Path, kind: str, version: str, manifest: dict[str, Any], write_files: Callable[[Path], None]
) -> Path:
    """Write a bundle atomically: files into a temp folder, checksums into the manifest, fsync, rename.

    ``write_files(folder)`` writes the payload. On any error the temp folder is removed and nothing
    appears under ``<artifacts_dir>/<kind>/``. The writer holds a lock on ``.tmp-<version>.lock`` while it
    writes; temp folders whose lock nobody holds were left by a process that died, and are removed.
    """
    kind_dir = artifacts_dir / kind
    kind_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned(kind_dir)
    final = kind_dir / version
    if final.exists():
        raise FileExistsError(f"bundle {kind}/{version} already exists; bundles are immutable")
    tmp = kind_dir / f".tmp-{version}"
    lock = _hold(kind_dir / f".tmp-{version}.lock")
    tmp.mkdir()
    try:
        write_files(tmp)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        checksums = {p.relative_to(tmp).as_posix(): _sha256(p) for p in files}
        full = {
            **manifest,
            "kind": kind,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(),
            "libraries": library_versions(),
            "files": checksums,
        }
        (tmp / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True, default=str), encoding="utf-8")
        for path in [*files, tmp / MANIFEST]:
            _fsync(path)
        os.rename(tmp, final)
        _fsync(kind_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        (kind_dir / f".tmp-{version}.lock").unlink(missing_ok=True)
        os.close(lock)
    return final


def _hold(path: Path) -> int:
    """Open ``path`` and take an exclusive lock on it (released when the process ends, however it ends).

    A cleaner may unlink an abandoned lock file while we wait for it; then the lock we got is on a file
    nobody else can see, so we open the path again."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def remove_abandoned(kind_dir: Path) -> list[str]:
    """Remove temp folders, and lock files, left by writers that died (nobody holds their lock); returns
    the names of the folders removed. A writer killed between taking its lock and making its folder
    leaves only the lock file; one whose lock file is gone leaves only the folder."""
    removed = []
    for name in sorted({p.name.removesuffix(".lock") for p in kind_dir.glob(".tmp-*")}):
        tmp, lock = kind_dir / name, kind_dir / f"{name}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # its writer is alive
        try:  # holding the lock: a writer that waits for it opens the path again (see _hold)
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(name)
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return removed


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the bundle at ``path``."""
    return json.loads((path / MANIFEST).read_text(encoding="utf-8"))


def verify_bundle(path: Path) -> dict[str, Any]:
    """Read the manifest and check every file's sha256; raise ``ValueError`` on any mismatch."""
    manifest = read_manifest(path)
    for name, expected in manifest.get("files", {}).items():
        file = path / name
        if not file.is_file() or _sha256(file) != expected:
            raise ValueError(f"bundle {path} is damaged: {name} is missing or does not match its checksum")
    return manifest
