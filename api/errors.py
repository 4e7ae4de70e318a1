"""The one place that maps errors to HTTP: RFC 9457 problem details naming the field at fault."""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from api.logs import escape_controls
from models.errors import Conflict, DomainError, InvalidInput, NotFound, TooLarge, Unauthenticated, Unavailable

__all__ = ("EXCEPTION_HANDLERS", "PROBLEM_RESPONSES", "Problem", "document_problems", "problem")

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class ProblemItem(msgspec.Struct):
    """One finding: the field at fault and what is wrong with it."""

    field: str
    detail: str


class Problem(msgspec.Struct):
    """RFC 9457 problem details (the OpenAPI schema of every error response)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = None
    errors: list[ProblemItem] | None = None


_DOMAIN_STATUS: tuple[tuple[type[DomainError], int, str], ...] = (
    (NotFound, 404, "not-found"),
    (InvalidInput, 422, "invalid-input"),
    (Conflict, 409, "conflict"),
    (TooLarge, 413, "too-large"),
    (Unavailable, 503, "unavailable"),
    (Unauthenticated, 401, "unauthenticated"),
)
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


PROBLEM_RESPONSES = {
    status: ResponseSpec(data_container=Problem, description=title, media_type=PROBLEM_JSON, generate_examples=False)
    for status, title in _TITLES.items()
    if status < 500 and status != 405
}
PROBLEM_RESPONSES[503] = ResponseSpec(
    data_container=Problem, description="Service Unavailable", media_type=PROBLEM_JSON, generate_examples=False
)


def document_problems(app: Litestar) -> None:
    """List the problem-details error responses in the OpenAPI schema of every guarded route."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not handler.opt.get("public"):
                handler.responses = {**PROBLEM_RESPONSES, **(handler.responses or {})}


def problem(
    request: Request,
    status: int,
    kind: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    """A problem-details response; ``errors`` lists ``{"field", "detail"}`` items."""
    body: dict[str, Any] = {
        "type": f"urn:helpdesk-triage:problem:{kind}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
        body["field"] = errors[0]["field"]
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain(request: Request, exc: DomainError) -> Response:
    status, kind = next(((s, k) for cls, s, k in _DOMAIN_STATUS if isinstance(exc, cls)), (400, "bad-request"))
    errors = [{"field": exc.field, "detail": d} for d in exc.details] if exc.field else None
    return problem(request, status, kind, exc.detail, errors)


_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`")


def _field_of(key: str | None, source: str | None, message: str) -> str:
    key = (key or "").removeprefix("$.").removeprefix("$")
    if source in {"query", "path", "header", "cookie"}:
        return key or source
    unknown = _NAMED_FIELD.search(message)
    if unknown:
        return unknown.group(1)
    return "body" if key in {"", "data"} else key


_MISSING_PARAMETER = re.compile(r"Missing required (?:query|path|header|cookie) parameter '([^']+)'")


def _validation(request: Request, exc: ValidationException) -> Response:
    missing = _MISSING_PARAMETER.match(str(exc.detail))
    if missing:  # name the parameter, not the body (and leave the request's query out of the detail)
        detail = f"the required parameter {missing.group(1)!r} is missing"
        return problem(request, 400, "missing-parameter", detail, [{"field": missing.group(1), "detail": detail}])
    items = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {
            "field": _field_of(item.get("key"), item.get("source"), str(item.get("message", ""))),
            "detail": str(item.get("message", exc.detail)),
        }
        for item in items
        if isinstance(item, dict)
    ]
    if not errors:
        return problem(request, 400, "malformed-body", str(exc.detail), [{"field": "body", "detail": str(exc.detail)}])
    return problem(request, 422, "validation", "the request has invalid fields", errors)


_HTTP_KINDS = {  # status -> (problem kind, the field at fault)
    401: ("unauthenticated", "authorization"),
    403: ("forbidden", "authorization"),
    413: ("too-large", "body"),
    429: ("rate-limited", None),
}


def _http(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 400:  # the body could not be decoded (malformed JSON, wrong encoding)
        return problem(request, 400, "malformed-body", str(exc.detail), [{"field": "body", "detail": str(exc.detail)}])
    if exc.status_code == 415:
        detail = str(exc.detail)
        return problem(request, 415, "unsupported-media-type", detail, [{"field": "content-type", "detail": detail}])
    kind, field = _HTTP_KINDS.get(exc.status_code, ("http", None))
    detail = str(exc.detail)
    errors = [{"field": field, "detail": detail}] if field else None
    return problem(request, exc.status_code, kind, detail, errors, headers=exc.headers)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, escape_controls(request.url.path), exc_info=exc)
    return problem(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal", "an unexpected error occurred")


EXCEPTION_HANDLERS = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
