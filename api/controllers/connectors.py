"""Helpdesk connectors: their webhooks come in at ``/v1/connectors/{name}/events`` (verified by the
helpdesk's own signature scheme, not an API key); everything else here is for admins: configure, test,
backfill, and read what was received and written back."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter, QueryParameter

from api.auth import PUBLIC, actor_of, roles
from api.errors import PROBLEM_RESPONSES
from api.schemas import LIMIT, OFFSET, ROW_ID
from models.audit import record_audit
from models.db import session_scope
from models.outbox import DELIVERY_STATES
from triage.channels.connectors.base import RemoteError
from triage.channels.connectors.inbound import receive
from triage.channels.connectors.registry import (
    build_connector,
    connector_out,
    create_connector,
    delete_connector,
    get_connector,
    list_connectors,
    update_connector,
)
from triage.channels.connectors.sync import inbound_log
from triage.channels.webhooks.subscriptions import delivery_out, list_deliveries, redeliver
from triage.work.jobs import start_backfill

__all__ = ("ConnectorController",)

# the events route is public, so the problems every guarded route documents are named here
EVENT_PROBLEMS = {status: PROBLEM_RESPONSES[status] for status in (400, 401, 404, 413, 415, 422, 429)}
NAME = Parameter(max_length=40, pattern="^[a-z0-9][a-z0-9-]*$", description="The connector's name.")
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Labels = dict[Annotated[str, msgspec.Meta(max_length=20)], dict[Annotated[str, msgspec.Meta(max_length=200)], str]]


class ConnectorIn(msgspec.Struct, forbid_unknown_fields=True):
    """A helpdesk to connect: its kind, API base URL and credentials (per kind), and optionally the webhook
    secret (made for you when left out), options, label mapping (their value -> ours, per field), the
    fields we may set when confident, their values that mean "not triaged yet", and whether to write the
    internal note."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    kind: Annotated[str, msgspec.Meta(max_length=40)]
    base_url: Text
    credentials: dict[Annotated[str, msgspec.Meta(max_length=40)], Annotated[str, msgspec.Meta(max_length=500)]]
    webhook_secret: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    options: dict[Annotated[str, msgspec.Meta(max_length=40)], Annotated[str, msgspec.Meta(max_length=200)]] = {}
    mapping: Labels = {}
    write_fields: list[Annotated[str, msgspec.Meta(max_length=20)]] | None = None
    untriaged: dict[Annotated[str, msgspec.Meta(max_length=20)], list[str]] = {}
    note: bool = True


class ConnectorPatch(msgspec.Struct, forbid_unknown_fields=True):
    """What to change (credentials are replaced whole); ``active: false`` pauses intake and write-back."""

    base_url: Text | None = None
    credentials: (
        dict[Annotated[str, msgspec.Meta(max_length=40)], Annotated[str, msgspec.Meta(max_length=500)]] | None
    ) = None
    webhook_secret: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    options: dict[Annotated[str, msgspec.Meta(max_length=40)], Annotated[str, msgspec.Meta(max_length=200)]] | None = (
        None
    )
    mapping: Labels | None = None
    write_fields: list[Annotated[str, msgspec.Meta(max_length=20)]] | None = None
    untriaged: dict[Annotated[str, msgspec.Meta(max_length=20)], list[str]] | None = None
    note: bool | None = None
    active: bool | None = None


class ConnectorController(Controller):
    path = "/v1/connectors"
    tags = ["connectors"]
    opt = roles()

    @post("/{name:str}/events", status_code=202, opt=PUBLIC, responses=EVENT_PROBLEMS)
    async def events(self, request: Request, state: State, name: str = NAME) -> dict[str, Any]:
        """A helpdesk's "ticket created / updated" webhook, verified by its own scheme (Zammad
        ``X-Hub-Signature``, Zendesk ``X-Zendesk-Webhook-Signature``, ``?token=`` for helpdesks that sign
        nothing): 401 and nothing stored when it does not verify. Answered at once (202); a delivery id seen
        before is a duplicate and stores nothing."""
        body = await request.body()
        headers, query = dict(request.headers), {k: v for k, v in request.query_params.items()}

        def work() -> dict[str, Any]:
            with session_scope(state.serving.sessions) as session:
                received = receive(session, name, headers, query, body)
            return {"status": received.outcome, "delivery_id": received.delivery_id, "remote_id": received.remote_id}

        return await anyio.to_thread.run_sync(work)

    @post("/", sync_to_thread=True)
    def create(self, data: JSONBody[ConnectorIn], request: Request, state: State) -> dict[str, Any]:
        """Connect a helpdesk (201). The webhook secret is in this response only."""
        allow = state.serving.settings.webhooks.allow_networks
        with session_scope(state.serving.sessions) as session:
            row = create_connector(session, **msgspec.structs.asdict(data), allow_networks=allow)
            record_audit(session, actor_of(request), "connector.created", f"connector:{row.name}", kind=row.kind)
            return connector_out(row, secret=True)

    @get("/", sync_to_thread=True)
    def index(self, state: State) -> list[dict[str, Any]]:
        """Every connector, without credentials or secrets."""
        with session_scope(state.serving.sessions) as session:
            return [connector_out(row) for row in list_connectors(session)]

    @get("/{name:str}", sync_to_thread=True)
    def read(self, state: State, name: str = NAME) -> dict[str, Any]:
        """One connector, without credentials or secret."""
        with session_scope(state.serving.sessions) as session:
            return connector_out(get_connector(session, name))

    @patch("/{name:str}", sync_to_thread=True)
    def update(
        self, data: JSONBody[ConnectorPatch], request: Request, state: State, name: str = NAME
    ) -> dict[str, Any]:
        """Change a connector."""
        allow = state.serving.settings.webhooks.allow_networks
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        with session_scope(state.serving.sessions) as session:
            row = update_connector(session, name, allow_networks=allow, **changes)
            record_audit(session, actor_of(request), "connector.updated", f"connector:{name}", changed=sorted(changes))
            return connector_out(row)

    @delete("/{name:str}", status_code=204, sync_to_thread=True)
    def remove(self, request: Request, state: State, name: str = NAME) -> None:
        """Disconnect a helpdesk: its queue and logs go; the tickets it brought stay."""
        with session_scope(state.serving.sessions) as session:
            delete_connector(session, name)
            record_audit(session, actor_of(request), "connector.deleted", f"connector:{name}")

    @post("/{name:str}/test", status_code=200, sync_to_thread=True)
    def test(self, state: State, name: str = NAME) -> dict[str, Any]:
        """Call the helpdesk with the stored credentials: ``ok`` and who we are there, or the error."""
        with session_scope(state.serving.sessions) as session:
            connector = build_connector(
                get_connector(session, name), timeout=state.serving.settings.webhooks.timeout_seconds
            )
        try:
            return {"ok": True, "whoami": connector.whoami()}
        except RemoteError as error:
            return {"ok": False, "error": str(error), "status": error.status}
        finally:
            connector.close()

    @post("/{name:str}/backfill", status_code=202, sync_to_thread=True)
    def backfill(self, request: Request, state: State, name: str = NAME) -> dict[str, Any]:
        """Import the helpdesk's resolved tickets from where the last backfill stopped, in the background
        (202 with the job; ``GET /v1/jobs/{id}`` shows it). 409 while a backfill runs."""
        job_id = start_backfill(state.serving, name, actor_of(request))
        return {"id": job_id, "state": "queued", "url": f"/v1/jobs/{job_id}"}

    @get("/{name:str}/deliveries", sync_to_thread=True)
    def deliveries(
        self,
        state: State,
        name: str = NAME,
        delivery_state: Annotated[
            str | None, QueryParameter(name="state", pattern="^(" + "|".join(DELIVERY_STATES) + ")$")
        ] = None,
        limit: int = LIMIT,
        offset: int = OFFSET,
    ) -> dict[str, Any]:
        """The connector's queue, newest first: each webhook taken in (``connector.received``) and each
        write-back (``connector.write_back``), its state, attempts and what was done or went wrong."""
        with session_scope(state.serving.sessions) as session:
            row = get_connector(session, name)
            rows, total = list_deliveries(
                session, row.subscription_id, state=delivery_state, limit=limit, offset=offset, kind="connector"
            )
            items = [delivery_out(row, event) for row, event in rows]
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @post("/{name:str}/deliveries/{delivery_id:int}/redeliver", status_code=202, sync_to_thread=True)
    def redeliver(self, request: Request, state: State, name: str = NAME, delivery_id: int = ROW_ID) -> dict[str, Any]:
        """Do a queued piece of work again (a write-back that gave up, say)."""
        with session_scope(state.serving.sessions) as session:
            row = get_connector(session, name)
            delivery, event = redeliver(session, row.subscription_id, delivery_id, kind="connector")
            record_audit(session, actor_of(request), "connector.redelivered", f"connector:{name}", delivery=delivery.id)
            return delivery_out(delivery, event)

    @get("/{name:str}/inbound", sync_to_thread=True)
    def inbound(self, state: State, name: str = NAME) -> list[dict[str, Any]]:
        """The latest webhook deliveries received from the helpdesk and what became of each."""
        with session_scope(state.serving.sessions) as session:
            rows = inbound_log(session, get_connector(session, name))
            return [
                {
                    "id": r.id,
                    "delivery_id": r.delivery_id,
                    "kind": r.kind,
                    "remote_id": r.remote_id,
                    "outcome": r.outcome,
                    "ticket_id": r.ticket_id,
                    "received_at": r.received_at,
                    "processed_at": r.processed_at,
                }
                for r in rows
            ]
