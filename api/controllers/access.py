"""Admin endpoints: API keys, the audit trail, and requesters' data (GDPR export and erasure)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody, Parameter

from api.auth import actor_of, roles
from api.schemas import OFFSET, ROW_ID
from models import ApiKey
from models.access import create_key, list_keys, revoke_key
from models.audit import list_audit
from models.db import session_scope
from triage.desk.privacy import erase_requester, export_requester
from triage.ml.embedding_cache import EmbeddingCache

__all__ = ("AuditController", "KeyController", "RequesterController", "whoami")

ADMIN_ONLY = roles()


@get("/v1/whoami", tags=["admin"], opt=roles("portal", "agent", "analyst"))
async def whoami(request: Request) -> dict[str, Any]:
    """The calling key's name and role (the pages' sign-in checks a key with it)."""
    actor = actor_of(request)
    return {"name": actor.name, "role": actor.role}


class KeyIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new key: its role, a name saying who or what holds it, and optionally its own rate limit."""

    role: Annotated[str, msgspec.Meta(max_length=20)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    rate_limit: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


def _key_out(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "prefix": key.prefix,
        "rate_limit": key.rate_limit,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


class KeyController(Controller):
    path = "/v1/keys"
    tags = ["admin"]
    opt = ADMIN_ONLY

    @post("/", sync_to_thread=True)
    def create(self, data: JSONBody[KeyIn], request: Request, state: State) -> dict[str, Any]:
        """Create a key (201). The secret is in this response only; the server keeps its hash."""
        with session_scope(state.serving.sessions) as session:
            key, secret = create_key(session, data.role, data.name, rate_limit=data.rate_limit, actor=actor_of(request))
            return {**_key_out(key), "key": secret}

    @get("/", sync_to_thread=True)
    def index(self, state: State, include_revoked: FromQuery[bool] = False) -> list[dict[str, Any]]:
        """Every live key (with ``include_revoked``, revoked ones too); never their secrets."""
        with session_scope(state.serving.sessions) as session:
            return [_key_out(key) for key in list_keys(session, include_revoked=include_revoked)]

    @delete("/{key_id:int}", status_code=200)
    async def revoke(self, request: Request, state: State, key_id: int = ROW_ID) -> dict[str, Any]:
        """Revoke a key: at once on this process, within ``HELPDESK_KEY_CACHE_SECONDS`` on the others."""

        def run() -> dict[str, Any]:
            with session_scope(state.serving.sessions) as session:
                return _key_out(revoke_key(session, key_id, actor=actor_of(request)))

        out = await anyio.to_thread.run_sync(run)
        request.app.state.access.forget(key_id)
        return out


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["admin"]
    opt = ADMIN_ONLY

    @get("/", sync_to_thread=True)
    def index(
        self,
        state: State,
        actor: str | None = Parameter(default=None, required=False, max_length=200),
        action: str | None = Parameter(
            default=None, required=False, max_length=60, description="An action, or a prefix ending in '.'."
        ),
        target: str | None = Parameter(default=None, required=False, max_length=200),
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: int = Parameter(default=100, ge=1, le=500),
        offset: int = OFFSET,
    ) -> dict[str, Any]:
        """Who did what and when, newest first: predictions served, overrides, resolutions, promotions,
        rollbacks, article edits, key changes, erasures."""
        with session_scope(state.serving.sessions) as session:
            rows, total = list_audit(
                session, actor=actor, action=action, target=target, since=since, until=until, limit=limit, offset=offset
            )
            items = [
                {
                    "id": e.id,
                    "at": e.at,
                    "actor": e.actor,
                    "role": e.role,
                    "key_id": e.key_id,
                    "action": e.action,
                    "target": e.target,
                    "detail": e.detail,
                }
                for e in rows
            ]
        return {"items": items, "total": total, "limit": limit, "offset": offset}


class RequesterIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who an export or erasure is about: the requester as tickets name them (an e-mail address), sent in
    the body so that it never appears in a URL, and so in no access log."""

    requester: Annotated[str, msgspec.Meta(min_length=1, max_length=320)]


class RequesterController(Controller):
    path = "/v1/requesters"
    tags = ["admin"]
    opt = ADMIN_ONLY

    @post("/export", status_code=200, sync_to_thread=True)
    def export(self, data: JSONBody[RequesterIn], request: Request, state: State) -> dict[str, Any]:
        """Everything held about a requester (GDPR access request), original text included."""
        with session_scope(state.serving.sessions) as session:
            return export_requester(session, data.requester, actor=actor_of(request))

    @post("/erase", status_code=200)
    async def erase(self, data: JSONBody[RequesterIn], request: Request, state: State) -> dict[str, Any]:
        """Erase a requester's personal data (GDPR erasure) and drop their tickets from this process's
        indexes at once (other processes at their next poll)."""
        serving = state.serving

        def run() -> dict[str, Any]:
            artifacts = serving.settings.models.artifacts_dir
            encoders = {e.name: e for e in (serving.encoder, serving.base_encoder) if e is not None}
            caches = [EmbeddingCache.in_artifacts(artifacts, e) for e in encoders.values()]  # a fine-tuned one too
            with session_scope(serving.sessions) as session:
                return erase_requester(
                    session, data.requester, caches=caches, redactor=serving.redactor, actor=actor_of(request)
                )

        result = await anyio.to_thread.run_sync(run)
        await serving.refresh()
        return result
