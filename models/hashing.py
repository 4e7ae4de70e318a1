"""Content hashes used to skip work that is already done."""

from __future__ import annotations

import hashlib

__all__ = ("content_hash",)


def content_hash(*parts: str | None) -> str:
    """A sha256 over the parts, separated so ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update((part or "").encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()
