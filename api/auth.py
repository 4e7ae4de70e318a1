"""Who may call what: API-key authentication, one guard that checks each route's roles, per-key rate
limits with RateLimit headers (counted where :mod:`api.rate_limits` says). A route is public only when it
says so; any other route without roles is open to admin keys alone (fail closed)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, TooManyRequestsException
from litestar.handlers import BaseRouteHandler
from litestar.types import Message, Scope
from sqlalchemy.orm import Session, sessionmaker

from api.rate_limits import WINDOW_SECONDS, ProcessWindows, Windows
from models.access import find_key, hash_key
from models.audit import Actor
from models.db import session_scope

__all__ = ("PUBLIC", "Access", "actor_of", "authorize", "client_address", "rate_limit_headers", "roles")

PUBLIC: dict[str, Any] = {"public": True}
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="helpdesk-triage"'}


def roles(*names: str) -> dict[str, Any]:
    """Route options naming the roles (besides admin, which may call everything) that may call a route."""
    return {"roles": names}


@dataclass(frozen=True)
class Caller:
    """An authenticated key: who it is and its requests-per-minute limit."""

    actor: Actor
    rate_limit: int


@dataclass
class Access:
    """One app's key cache and rate-limit windows (per key and, for unknown keys, per client address), in
    this process or shared by all (``windows``)."""

    sessions: sessionmaker[Session]
    role_limits: Mapping[str, int]
    cache_seconds: float = 5.0
    _cache: dict[str, tuple[float, Caller]] = field(default_factory=dict)
    unknown_key_limit: int = 30
    windows: Windows = field(default_factory=ProcessWindows)

    def _lookup(self, secret: str) -> Caller | None:
        with session_scope(self.sessions) as session:
            key = find_key(session, secret)
            if key is None:
                return None
            limit = key.rate_limit or self.role_limits.get(key.role, 600)
            return Caller(Actor(key.name, key.role, key.id), limit)

    async def authenticate(self, secret: str, address: str) -> Caller | None:
        """The caller holding ``secret``, or ``None``; a found key is remembered for ``cache_seconds``,
        so a revocation on another process takes effect within that time. A key that is not remembered
        costs a database lookup, so unknown keys are throttled by client ``address``: past
        ``unknown_key_limit`` of them a minute, the address gets 429 before any lookup."""
        digest = hash_key(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        reset = await self.windows.over(("address", address), self.unknown_key_limit)
        if reset:
            raise TooManyRequestsException(
                detail=f"too many unknown API keys from this address; retry in {reset} s",
                headers={"Retry-After": str(reset)},
            )
        caller = await anyio.to_thread.run_sync(self._lookup, secret)
        if caller is None:
            self._cache.pop(digest, None)
            await self.windows.hit(("address", address), self.unknown_key_limit)
            return None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self.cache_seconds, caller)
        return caller

    def forget(self, key_id: int) -> None:
        """Drop a revoked key from this process's cache at once."""
        self._cache = {d: entry for d, entry in self._cache.items() if entry[1].actor.key_id != key_id}

    async def count(self, caller: Caller) -> tuple[int, int, int]:
        """Count one request of ``caller``'s key: (limit, remaining, seconds to reset); ``remaining``
        below zero means over the limit."""
        return await self.windows.hit(("key", caller.actor.key_id or 0), caller.rate_limit)


def _rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(remaining, 0)),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{limit};w={WINDOW_SECONDS}",
    }


def _bearer(connection: ASGIConnection) -> str:
    header = connection.headers.get("authorization")
    if not header:
        raise NotAuthorizedException(detail="send an API key: Authorization: Bearer <key>", headers=_CHALLENGE)
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise NotAuthorizedException(detail="use the Bearer scheme: Authorization: Bearer <key>", headers=_CHALLENGE)
    return secret.strip()


async def authorize(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """The guard on every route: public routes pass; others need a live key whose role the route allows
    (401 without one, 403 for the wrong role, 429 over the key's rate limit)."""
    opt = handler.opt
    if opt.get("public") or connection.scope.get("method") == "OPTIONS":
        return  # OPTIONS answers only which methods exist (and CORS preflights never carry a key)
    access: Access = connection.app.state.access
    caller = await access.authenticate(_bearer(connection), client_address(connection))
    if caller is None:
        raise NotAuthorizedException(detail="the API key is unknown or revoked", headers=_CHALLENGE)
    limit, remaining, reset = await access.count(caller)  # every answer to a known key counts, 403s included
    headers = _rate_headers(limit, remaining, reset)
    connection.state.rate_limit_headers = headers
    if remaining < 0:
        raise TooManyRequestsException(
            detail=f"over this key's limit of {limit} requests a minute; retry in {reset} s",
            headers={**headers, "Retry-After": str(reset)},
        )
    allowed = opt.get("roles", ())
    role = caller.actor.role
    if role != "admin" and role not in allowed:
        needs = " or ".join((*allowed, "admin"))
        raise PermissionDeniedException(detail=f"a {role} key may not call this endpoint; it needs {needs}")
    connection.state.actor = caller.actor


def client_address(connection: ASGIConnection) -> str:
    """The client's address as the server saw it (behind a proxy, run uvicorn with --forwarded-allow-ips)."""
    return connection.client.host if connection.client else "unknown"


async def rate_limit_headers(message: Message, scope: Scope) -> None:
    """Put the key's RateLimit headers on every response to it (a before-send hook)."""
    if message["type"] != "http.response.start":
        return
    headers = scope.get("state", {}).get("rate_limit_headers")
    if headers:
        mutable = MutableScopeHeaders.from_message(message)
        for name, value in headers.items():
            if name not in mutable:
                mutable[name] = value


def actor_of(request: Request) -> Actor:
    """The caller of an authorised request."""
    return request.state.actor
