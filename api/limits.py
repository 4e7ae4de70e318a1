"""Request checks that apply to every route: no control characters in the path (404), JSON bodies only
(415), nested at most ``MAX_JSON_DEPTH`` levels (400), and the CORS allow-list."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException, NotFoundException
from litestar.types import Empty

from models.settings import ApiSettings

__all__ = ("MAX_JSON_DEPTH", "BoundedJSONRequest", "check_request", "cors_config", "json_depth", "require_json_body")

BODY_METHODS = ("POST", "PUT", "PATCH")
MAX_JSON_DEPTH = 32  # far beyond any body of this API; the JSON decoder recurses once per level
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING = frozenset(b"[{")
_PATH_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def json_depth(body: bytes, stop_after: int | None = None) -> int:
    """How deep arrays and objects nest in the JSON text ``body`` (brackets inside strings are text); the
    count stops once it passes ``stop_after``. Malformed JSON is the decoder's to report."""
    depth = deepest = 0
    for byte in _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth = depth + 1 if byte in _OPENING else depth - 1
        if depth > deepest:
            deepest = depth
            if stop_after is not None and deepest > stop_after:
                break
    return deepest


class BoundedJSONRequest(Request):
    """A request whose JSON body is refused (400) when it nests deeper than :data:`MAX_JSON_DEPTH`, before
    the decoder would recurse into it (a RecursionError, a 500 and a traceback before)."""

    async def json(self) -> Any:
        unread = self._json is Empty and self._connection_state.json is Empty
        if unread and json_depth(await self.body(), stop_after=MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise HTTPException(status_code=400, detail=f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        return await super().json()


async def check_request(request: Request) -> None:
    """Every route's first check: a path with a control character names no resource (404: a NUL byte
    reached the file system as a 500 before), then :func:`require_json_body`."""
    if _PATH_CONTROLS.search(request.url.path):
        raise NotFoundException("no resource has a control character in its path")
    await require_json_body(request)


async def require_json_body(request: Request) -> None:
    """Refuse (415) a request body that is not declared as JSON, before anything reads it."""
    if request.method not in BODY_METHODS:
        return
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return  # no body (e.g. POST /v1/models/rollback)
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(status_code=415, detail=f"send the body as application/json, not {media or 'untyped'}")


def cors_config(api: ApiSettings) -> CORSConfig | None:
    """Browsers on the configured origins may call the API; with none configured, no CORS headers at all."""
    if not api.cors_origins:
        return None
    return CORSConfig(allow_origins=list(api.cors_origins), allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
