"""Request checks that apply to every route: no control characters in the path (404) or the query (422),
JSON bodies only (415), nested at most ``MAX_JSON_DEPTH`` levels (400), without duplicate keys (400), of
the declared types with no coercion (422: ``"5"`` is not a number) and without control characters in
text (422: tab, line feed and carriage return are text), and the CORS allow-list."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from litestar import Request
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.types import Empty

from models.settings import ApiSettings

__all__ = (
    "MAX_JSON_DEPTH",
    "BoundedJSONRequest",
    "check_request",
    "control_character_at",
    "cors_config",
    "decode_json_strictly",
    "json_depth",
    "require_json_body",
)

BODY_METHODS = ("POST", "PUT", "PATCH")
MAX_JSON_DEPTH = 32  # far beyond any body of this API; the JSON decoder recurses once per level
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING = frozenset(b"[{")
_PATH_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but tab, line feed, carriage return
_JSON_PATH = re.compile(r"at `\$\.?([^`]*)`")


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


def control_character_at(value: Any, path: str = "") -> str | None:
    """The path (``items[0].subject``) of the first string in a decoded JSON ``value`` (keys included)
    that holds a control character other than tab, line feed or carriage return; ``None`` when none does."""
    if isinstance(value, str):
        return path or "body" if _TEXT_CONTROLS.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if _TEXT_CONTROLS.search(str(key)):
                return path or "body"
            found = control_character_at(item, inner)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = control_character_at(item, f"{path}[{i}]")
            if found:
                return found
    return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise HTTPException(status_code=400, detail=f"the JSON body names {twice!r} twice in one object")
    return obj


def _no_constant(name: str) -> Any:
    raise HTTPException(status_code=400, detail=f"{name} is not JSON")


def decode_json_strictly(body: bytes, target: Any = None) -> Any:
    """``body`` decoded as JSON, refused when it nests deeper than :data:`MAX_JSON_DEPTH` (400: before the
    decoder would recurse into it), names a key twice in one object (400: which one would win is the
    parser's guess), is not valid JSON (400), does not match ``target``'s types without coercion (422), or
    holds a control character in a string (422)."""
    if json_depth(body, stop_after=MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise HTTPException(status_code=400, detail=f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    try:  # the strict parser (no lone surrogates, no NaN), with JSON types as declared: no "5" for 5
        msgspec.json.decode(body, type=Any if target is None else target)
    except msgspec.ValidationError as error:
        found = _JSON_PATH.search(str(error))
        field = (found.group(1) if found else "") or "body"
        message = str(error).split(" - at ", 1)[0]
        raise ValidationException(
            detail=message, extra=[{"key": field, "message": message, "source": "body"}]
        ) from None
    except msgspec.DecodeError as error:
        raise HTTPException(status_code=400, detail=f"the body is not valid JSON: {error}") from None
    value = json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)  # the plain value
    field = control_character_at(value)
    if field:
        message = "control characters other than tab, line feed and carriage return are not text"
        raise ValidationException(detail=message, extra=[{"key": field, "message": message, "source": "body"}])
    return value


class BoundedJSONRequest(Request):
    """A request whose JSON body is decoded by :func:`decode_json_strictly`, against the type the route
    declares for its body (Litestar's own decoding coerces ``"5"`` to 5 and lets the last duplicate win)."""

    async def json(self) -> Any:
        if self._json is Empty and self._connection_state.json is Empty:
            body = await self.body()
            data = self.route_handler.parsed_data_field
            target = data.annotation if data is not None else None
            self._json = self._connection_state.json = decode_json_strictly(body or b"null", target)
        return await super().json()


async def check_request(request: Request) -> None:
    """Every route's first check: a path with a control character names no resource (404: a NUL byte
    reached the file system as a 500 before), a query parameter with one is refused (422), then
    :func:`require_json_body`."""
    if _PATH_CONTROLS.search(request.url.path):
        raise NotFoundException("no resource has a control character in its path")
    for name, value in request.query_params.multi_items():
        if _PATH_CONTROLS.search(name) or _TEXT_CONTROLS.search(value):
            message = "control characters are not text"
            raise ValidationException(detail=message, extra=[{"key": name, "message": message, "source": "query"}])
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
