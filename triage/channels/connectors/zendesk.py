"""Zendesk Support: its REST API (https://developer.zendesk.com/api-reference/) with an API token, and its
webhooks (https://developer.zendesk.com/documentation/webhooks/), signed as documented in
https://developer.zendesk.com/documentation/webhooks/verifying/: ``X-Zendesk-Webhook-Signature`` is the
base64 HMAC-SHA256, under the webhook's signing secret (the connector's webhook secret), of
``X-Zendesk-Webhook-Signature-Timestamp`` followed by the body.

Two ways to send us tickets, both taken:

- **A trigger** (*Admin Center > Objects and rules > Triggers*, action *Notify by > Active webhook*, a JSON
  POST webhook). Two triggers, one with the condition *Ticket is Created*, one with *Ticket is Updated*,
  each with its JSON body (``event`` says which)::

      {"ticket_id": "{{ticket.id}}", "event": "created"}
      {"ticket_id": "{{ticket.id}}", "event": "updated"}

  The condition *Current user is not* the API user keeps our own write-back from coming back. A body may
  also carry ``"latest_comment": "{{ticket.latest_comment}}"``: the delivery is then ours when that text
  carries the marker (else it never is); whether Zendesk escapes a placeholder's quotes inside a JSON body
  is not documented, and a body that is no longer JSON is refused, so leave it out unless tested.
- **Event subscriptions** (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/):
  a webhook subscribed to ``zen:event-type:ticket.created`` (and, for updates, the other ticket events);
  the ticket is ``detail.id``; ``ticket.created`` is created, any other ticket event updated; a
  ``ticket.comment_added`` event is ours when its comment's body carries the marker.

The delivery id is ``X-Zendesk-Webhook-Invocation-Id`` (else the event's ``id``, else a digest of the
body). Statuses: ``new``/``open`` open, ``pending``/``hold`` pending, ``solved`` resolved, ``closed``
closed. The ticket JSON has no solved time, so ``resolved_at`` is its last update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from models.errors import InvalidInput
from triage.channels.connectors.base import MARKER, Connector, InboundEvent, Page, RemoteError, RemoteTicket
from triage.channels.connectors.wire import body_digest, check_hmac, field_value, header, json_payload, when

__all__ = ("ZendeskConnector",)

STATUSES = {
    "new": "open",
    "open": "open",
    "pending": "pending",
    "hold": "pending",
    "solved": "resolved",
    "closed": "closed",
}
EVENT = "zen:event-type:ticket."
PAGE_SIZE = 100


def _id(key: str) -> int | str:
    """A custom field's id as Zendesk writes it (a number)."""
    return int(key) if key.isdigit() else key


class ZendeskConnector(Connector):
    """Zendesk by its REST API (basic auth ``{email}/token:{token}``) and signed webhooks."""

    kind: ClassVar[str] = "zendesk"
    title: ClassVar[str] = "Zendesk"
    credential_keys: ClassVar[tuple[str, ...]] = ("email", "token")
    option_keys: ClassVar[tuple[str, ...]] = ("category_field",)  # a custom ticket field's id
    untriaged: ClassVar[dict[str, tuple[str, ...]]] = {}  # an unset priority is None
    default_mapping: ClassVar[dict[str, dict[str, str]]] = {}  # low/normal/high/urgent are ours already

    _groups: dict[int, str] | None = None

    def json_object(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """The JSON object of an answer (every Zendesk answer is one); :class:`RemoteError` otherwise."""
        found = self.json(response, what)
        if not isinstance(found, dict):
            raise RemoteError(f"Zendesk answered {what} with no object", status=response.status_code, retry=False)
        return found

    def auth(self) -> dict[str, Any]:
        """An API token: basic auth as ``{email}/token``."""
        credentials = self.config.credentials
        return {"auth": (f"{credentials['email']}/token", credentials["token"])}

    def verify(self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, secret: str) -> None:
        """base64(HMAC-SHA256(secret, timestamp + body))."""
        timestamp = header(headers, "x-zendesk-webhook-signature-timestamp") or ""
        signature = header(headers, "x-zendesk-webhook-signature")
        check_hmac(signature, secret, timestamp.encode("utf-8") + body, "sha256", encoding="base64")

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """A trigger's JSON body or a ticket event (see the module's docstring)."""
        payload = json_payload(body)
        if not isinstance(payload, dict):
            raise InvalidInput("the webhook body is not a JSON object", field="body")
        delivery = header(headers, "x-zendesk-webhook-invocation-id")
        if "type" in payload:
            kind, ticket_id, ours = self._event(payload)
            delivery = delivery or (str(payload["id"]) if payload.get("id") else None)
        else:
            kind, ticket_id, ours = self._trigger(payload)
        return InboundEvent(delivery_id=delivery or body_digest(body), kind=kind, ticket_id=ticket_id, ours=ours)

    @staticmethod
    def _event(payload: Mapping[str, Any]) -> tuple[str, str, bool]:
        kind = str(payload.get("type") or "")
        if not kind.startswith(EVENT):
            raise InvalidInput(f"{kind!r} is not a Zendesk ticket event", field="type")
        detail = payload.get("detail")
        ticket_id = str(detail.get("id") or "") if isinstance(detail, dict) else ""
        if not ticket_id.isdigit():
            raise InvalidInput("the ticket event has no numeric detail.id", field="detail.id")
        event = payload.get("event")
        comment = event.get("comment") if isinstance(event, dict) else None
        ours = isinstance(comment, dict) and MARKER in str(comment.get("body") or "")
        return ("created" if kind == EVENT + "created" else "updated"), ticket_id, ours

    @staticmethod
    def _trigger(payload: Mapping[str, Any]) -> tuple[str, str, bool]:
        ticket_id = payload.get("ticket_id")
        if isinstance(ticket_id, bool) or not str(ticket_id or "").strip().isdigit():
            raise InvalidInput("the trigger's body has no numeric ticket_id", field="ticket_id")
        kind = payload.get("event")
        if kind not in ("created", "updated"):
            raise InvalidInput("the trigger's body needs event: created or updated", field="event")
        ours = MARKER in str(payload.get("latest_comment") or "")
        return kind, str(ticket_id).strip(), ours

    def _get_all(self, path: str, key: str, *, ticket_id: str | None = None) -> list[dict[str, Any]]:
        """Every item of an offset-paginated list, following ``next_page``."""
        items: list[dict[str, Any]] = []
        base = self.config.base_url.rstrip("/")
        while path:
            page = self.json_object(self.request("GET", path, ticket_id=ticket_id), key)
            items += [i for i in page.get(key) or [] if isinstance(i, dict)]
            following = page.get("next_page")
            if not isinstance(following, str) or not following:
                break
            if following.startswith(base):
                path = following[len(base) :]
            else:
                url = httpx.URL(following)
                path = url.raw_path.decode("ascii")
        return items

    def group_names(self, *, fresh: bool = False) -> dict[int, str]:
        """``GET /api/v2/groups.json``, kept after the first read."""
        if self._groups is None or fresh:
            self._groups = {g["id"]: str(g.get("name")) for g in self._get_all("/api/v2/groups.json", "groups")}
        return self._groups

    def read_custom(self, ticket: Mapping[str, Any], key: str) -> str | None:
        """A custom ticket field's value, by the field's id."""
        found = [f for f in ticket.get("custom_fields") or [] if str(f.get("id")) == key]
        return field_value(found[0].get("value")) if found else None

    def _ticket(self, ticket: Mapping[str, Any], comments: list[dict[str, Any]], requester: str | None) -> RemoteTicket:
        status = STATUSES.get(str(ticket.get("status") or ""), "open")
        group = ticket.get("group_id")
        fields: dict[str, str | None] = {
            "assignee": self.group_names().get(group) if group is not None else None,
            "priority": field_value(ticket.get("priority")),
            **self.custom_fields(ticket),  # category and added fields: custom ticket fields by id
        }
        public = [c for c in comments if c.get("public")]
        replies = [c for c in public if c.get("author_id") != ticket.get("requester_id")]
        first = public[0] if public else None
        done = status in ("resolved", "closed")
        return RemoteTicket(
            id=str(ticket.get("id")),
            subject=str(ticket.get("subject") or ticket.get("raw_subject") or ""),
            body=str((first or {}).get("plain_body") or (first or {}).get("body") or ticket.get("description") or ""),
            status=status,
            fields=fields,
            requester=requester,
            resolution=str(replies[-1].get("plain_body") or replies[-1].get("body") or "")
            if done and replies
            else None,
            created_at=when(ticket.get("created_at")),
            resolved_at=when(ticket.get("updated_at")) if done else None,
            notes=tuple(str(c.get("body") or c.get("html_body") or "") for c in comments if not c.get("public")),
            first_reply_at=when(replies[0].get("created_at")) if replies else None,
        )

    def fetch_ticket(self, ticket_id: str) -> RemoteTicket:
        """``GET /api/v2/tickets/{id}.json`` (its users side-loaded, for the requester) and its comments."""
        found = self.json_object(
            self.request("GET", f"/api/v2/tickets/{ticket_id}.json?include=users", ticket_id=ticket_id), "a ticket"
        )
        ticket = found.get("ticket")
        if not isinstance(ticket, dict):
            raise RemoteError("Zendesk answered a ticket with no ticket object", retry=False)
        users = {u.get("id"): u for u in found.get("users") or [] if isinstance(u, dict)}
        requester = users.get(ticket.get("requester_id"), {}).get("email")
        comments = self._get_all(f"/api/v2/tickets/{ticket_id}/comments.json", "comments", ticket_id=ticket_id)
        return self._ticket(ticket, comments, requester)

    def resolved_tickets(self, cursor: str | None) -> Page:
        """The cursor-based incremental ticket export from the start, keeping solved and closed tickets;
        ``end_of_stream`` ends it. The cursor is Zendesk's ``after_cursor``."""
        params = {"cursor": cursor} if cursor else {"start_time": "0"}
        params["per_page"] = str(PAGE_SIZE)
        page = self.json_object(
            self.request("GET", "/api/v2/incremental/tickets/cursor.json", params=params), "an export"
        )
        rows = [t for t in page.get("tickets") or [] if isinstance(t, dict)]
        tickets = [self._ticket(t, [], None) for t in rows if t.get("status") in ("solved", "closed")]
        after = page.get("after_cursor")
        done = bool(page.get("end_of_stream")) or not after
        return Page(tickets=tickets, cursor=None if done else str(after))

    def add_note(self, ticket_id: str, text: str, html: str) -> None:
        """A private comment (an internal note) in HTML."""
        change = {"ticket": {"comment": {"html_body": html, "public": False}}}
        self.request("PUT", f"/api/v2/tickets/{ticket_id}.json", ticket_id=ticket_id, json=change)

    def set_fields(self, ticket_id: str, values: Mapping[str, str]) -> None:
        """The group (by name, looked up), the priority, and added fields' custom ticket fields."""
        self.check_settable(values)
        change: dict[str, Any] = {}
        if "assignee" in values:
            change["group_id"] = self.group_id(values["assignee"])
        if "priority" in values:
            change["priority"] = values["priority"] or None
        added = self.added_fields()
        custom = [{"id": _id(added[k]), "value": v} for k, v in values.items() if k in added]
        if custom:  # added fields: custom ticket fields by id
            change["custom_fields"] = custom
        if change:
            self.request("PUT", f"/api/v2/tickets/{ticket_id}.json", ticket_id=ticket_id, json={"ticket": change})

    def whoami(self) -> str:
        """``GET /api/v2/users/me.json``; the anonymous user (no id) means the credentials were not taken."""
        user = self.json_object(self.request("GET", "/api/v2/users/me.json"), "users/me").get("user")
        if not isinstance(user, dict) or user.get("id") is None:
            raise RemoteError("Zendesk took the credentials for no user (anonymous)", status=401, retry=False)
        return f"{user.get('name') or user.get('id')} ({user.get('email') or user.get('role') or 'no e-mail'})"
