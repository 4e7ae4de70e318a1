"""Freshdesk: its REST API v2 (https://developers.freshdesk.com/api/) with an API key, and the *Trigger
webhook* action of its automation rules
(https://support.freshdesk.com/support/solutions/articles/132589-using-webhooks-in-automation-rules).

That action signs nothing, so the connector's webhook secret travels with each request: as ``?token=`` in
the webhook's URL, or in a custom header ``X-Helpdesk-Triage-Token`` (see
:func:`~triage.channels.connectors.wire.check_token`; use HTTPS). Setup in Freshdesk: *Admin > Automations*,
a rule on *Ticket creation* and one on *Ticket updates*, each with the action *Trigger webhook*: POST to our
URL, encoding JSON, *Advanced* content::

    {"freshdesk_webhook": {"ticket_id": "{{ticket.id}}", "ticket_status": "{{ticket.status}}", "event": "created"}}
    {"freshdesk_webhook": {"ticket_id": "{{ticket.id}}", "ticket_status": "{{ticket.status}}", "event": "updated"}}

Freshdesk sends no delivery id, so the delivery id is a digest of the body: the same body again is the same
delivery (a retry). Keep ``ticket_status`` in the body so that a change of status is a new delivery; two
updates that leave the same body are one. A body may also carry
``"latest_private_comment": "{{ticket.latest_private_comment}}"``: the delivery is then ours when that
text carries the marker (else it never is); whether Freshdesk escapes quotes in a placeholder inside a JSON
body is not documented, so leave it out unless tested. The keys may also stand at the top level.

Statuses: 2 Open is open, 3 Pending pending, 4 Resolved resolved, 5 Closed closed, any other (a custom
status) pending. A ticket in the trash (``deleted: true``) is gone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from inscriptis import get_text

from models.errors import InvalidInput
from triage.channels.connectors.base import MARKER, Connector, InboundEvent, Page, RemoteError, RemoteGone, RemoteTicket
from triage.channels.connectors.wire import body_digest, check_token, field_value, json_payload, when

__all__ = ("FreshdeskConnector",)

STATUSES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PAGE_SIZE = 100
LAST_PAGE = 300  # Freshdesk lists no page past the 300th: the cursor then moves updated_since on
START = "2000-01-01T00:00:00Z"


def _text(item: Mapping[str, Any], plain: str, html: str) -> str:
    if item.get(plain):
        return str(item[plain]).strip()
    return get_text(str(item.get(html) or "")).strip()


class FreshdeskConnector(Connector):
    """Freshdesk by its REST API (basic auth ``<api_key>:X``) and automation webhooks."""

    kind: ClassVar[str] = "freshdesk"
    title: ClassVar[str] = "Freshdesk"
    credential_keys: ClassVar[tuple[str, ...]] = ("api_key",)
    option_keys: ClassVar[tuple[str, ...]] = ("category_field",)  # a custom_fields key, or "type"
    untriaged: ClassVar[dict[str, tuple[str, ...]]] = {}
    default_mapping: ClassVar[dict[str, dict[str, str]]] = {
        "priority": {"1": "low", "2": "normal", "3": "high", "4": "urgent"}
    }

    _groups: dict[int, str] | None = None

    def auth(self) -> dict[str, Any]:
        """The API key as the basic-auth user, ``X`` as the password."""
        return {"auth": (self.config.credentials["api_key"], "X")}

    def verify(self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, secret: str) -> None:
        """The shared secret as ``?token=`` or ``X-Helpdesk-Triage-Token`` (Freshdesk signs nothing)."""
        check_token(headers, query, secret)

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """The rule's JSON body (see the module's docstring); the delivery id is a digest of the body."""
        payload = json_payload(body)
        if isinstance(payload, dict) and isinstance(payload.get("freshdesk_webhook"), dict):
            payload, prefix = payload["freshdesk_webhook"], "freshdesk_webhook."
        elif isinstance(payload, dict):
            prefix = ""
        else:
            raise InvalidInput("the webhook body is not a JSON object", field="body")
        ticket_id = payload.get("ticket_id")
        if isinstance(ticket_id, bool) or not str(ticket_id or "").strip().isdigit():
            raise InvalidInput("the webhook body has no numeric ticket_id", field=prefix + "ticket_id")
        kind = payload.get("event")
        if kind not in ("created", "updated"):
            raise InvalidInput("the webhook body needs event: created or updated", field=prefix + "event")
        ours = MARKER in str(payload.get("latest_private_comment") or "")
        return InboundEvent(delivery_id=body_digest(body), kind=kind, ticket_id=str(ticket_id).strip(), ours=ours)

    def _get_all(self, path: str, params: dict[str, str], *, ticket_id: str | None = None) -> list[dict[str, Any]]:
        """Every item of a list, page by page while the ``Link`` header names a next page."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.request("GET", path, ticket_id=ticket_id, params={**params, "page": str(page)})
            found = self.json(response, path)
            items += [i for i in found or [] if isinstance(i, dict)] if isinstance(found, list) else []
            if "next" not in response.links or not found:
                return items
            page += 1

    def group_names(self, *, fresh: bool = False) -> dict[int, str]:
        """``GET /api/v2/groups``, kept after the first read."""
        if self._groups is None or fresh:
            groups = self._get_all("/api/v2/groups", {"per_page": str(PAGE_SIZE)})
            self._groups = {g["id"]: str(g.get("name")) for g in groups if "id" in g}
        return self._groups

    def read_custom(self, ticket: Mapping[str, Any], key: str) -> str | None:
        """The ticket's ``type``, or a ``custom_fields`` value by its key (``cf_...``)."""
        if key == "type":
            return field_value(ticket.get("type"))
        return field_value((ticket.get("custom_fields") or {}).get(key))

    def _ticket(self, ticket: Mapping[str, Any], conversations: list[dict[str, Any]]) -> RemoteTicket:
        status = STATUSES.get(ticket.get("status"), "pending")
        group = ticket.get("group_id")
        fields: dict[str, str | None] = {
            "assignee": self.group_names().get(group) if group is not None else None,
            "priority": field_value(ticket.get("priority")),
            **self.custom_fields(ticket),  # category and added fields: "type" or a custom_fields key
        }
        replies = [c for c in conversations if not c.get("private") and not c.get("incoming")]
        done = status in ("resolved", "closed")
        stats = ticket.get("stats") or {}
        requester = ticket.get("requester")
        return RemoteTicket(
            id=str(ticket.get("id")),
            subject=str(ticket.get("subject") or ""),
            body=_text(ticket, "description_text", "description"),
            status=status,
            fields=fields,
            requester=str(requester.get("email")) if isinstance(requester, dict) and requester.get("email") else None,
            resolution=_text(replies[-1], "body_text", "body") if done and replies else None,
            created_at=when(ticket.get("created_at")),
            resolved_at=(
                when(stats.get("resolved_at")) or when(stats.get("closed_at")) or when(ticket.get("updated_at"))
            )
            if done
            else None,
            notes=tuple(str(c.get("body_text") or c.get("body") or "") for c in conversations if c.get("private")),
            first_reply_at=when(replies[0].get("created_at")) if replies else None,
        )

    def fetch_ticket(self, ticket_id: str) -> RemoteTicket:
        """``GET /api/v2/tickets/{id}`` and its conversations (replies and notes)."""
        answer = self.request(
            "GET", f"/api/v2/tickets/{ticket_id}", ticket_id=ticket_id, params={"include": "requester"}
        )
        ticket = self.json(answer, "a ticket")
        if not isinstance(ticket, dict):
            raise RemoteError("Freshdesk answered a ticket with no object", retry=False)
        if ticket.get("deleted"):
            raise RemoteGone(f"Freshdesk ticket {ticket_id} is in the trash", status=None)
        conversations = self._get_all(
            f"/api/v2/tickets/{ticket_id}/conversations", {"per_page": str(PAGE_SIZE)}, ticket_id=ticket_id
        )
        return self._ticket(ticket, conversations)

    def resolved_tickets(self, cursor: str | None) -> Page:
        """Tickets by ``updated_at`` ascending, keeping Resolved and Closed ones. The cursor is
        ``<updated_since>|<page>``; past the 300th page it starts again from the last ticket's update time
        (a ticket updated in that very second may come twice)."""
        since, page = START, 1
        if cursor:
            since, _, number = cursor.rpartition("|")
            if not since or not number.isdigit() or not 0 < int(number) <= LAST_PAGE:
                raise InvalidInput(f"{cursor!r} is not a Freshdesk cursor", field="cursor")
            page = int(number)
        params = {
            "updated_since": since,
            "order_by": "updated_at",
            "order_type": "asc",
            "per_page": str(PAGE_SIZE),
            "page": str(page),
            "include": "description,requester",
        }
        response = self.request("GET", "/api/v2/tickets", params=params)
        rows = [t for t in self.json(response, "a ticket list") or [] if isinstance(t, dict)]
        tickets = [self._ticket(t, []) for t in rows if t.get("status") in (4, 5)]
        if "next" not in response.links or not rows:
            return Page(tickets=tickets, cursor=None)
        if page < LAST_PAGE:
            return Page(tickets=tickets, cursor=f"{since}|{page + 1}")
        return Page(tickets=tickets, cursor=f"{rows[-1].get('updated_at') or since}|1")

    def add_note(self, ticket_id: str, text: str, html: str) -> None:
        """``POST /api/v2/tickets/{id}/notes``, a private note in HTML."""
        self.request(
            "POST", f"/api/v2/tickets/{ticket_id}/notes", ticket_id=ticket_id, json={"body": html, "private": True}
        )

    def set_fields(self, ticket_id: str, values: Mapping[str, str]) -> None:
        """The group (by name, looked up), the priority (1 to 4), and added fields' type or custom fields."""
        self.check_settable(values)
        change: dict[str, Any] = {}
        if "assignee" in values:
            change["group_id"] = self.group_id(values["assignee"])
        if "priority" in values:
            priority = str(values["priority"]).strip()
            change["priority"] = int(priority) if priority.isdigit() else priority  # Freshdesk refuses others
        for name, key in self.added_fields().items():  # added fields: the ticket's type or a custom field
            if name in values and key == "type":
                change["type"] = values[name]
            elif name in values:
                change.setdefault("custom_fields", {})[key] = values[name]
        if change:
            self.request("PUT", f"/api/v2/tickets/{ticket_id}", ticket_id=ticket_id, json=change)

    def whoami(self) -> str:
        """``GET /api/v2/agents/me``."""
        me = self.json(self.request("GET", "/api/v2/agents/me"), "agents/me")
        if not isinstance(me, dict) or me.get("id") is None:
            raise RemoteError("Freshdesk answered agents/me with no agent", retry=False)
        contact = me.get("contact") or {}
        return f"{contact.get('name') or me['id']} ({contact.get('email') or 'no e-mail'})"
