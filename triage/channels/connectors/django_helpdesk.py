"""django-helpdesk (2.6+): its REST API under ``<base_url>/api/`` with HTTP Basic as a staff user (the ticket
and follow-up endpoints need ``is_staff``), and its webhooks, which sign nothing: the shared secret comes as
``?token=`` in the webhook URL.

Setup in django-helpdesk: an admin (staff) user for us; the environment of its server processes gets
``HELPDESK_NEW_TICKET_WEBHOOK_URLS`` and ``HELPDESK_FOLLOWUP_WEBHOOK_URLS``, each our webhook URL with
``?token=<secret>`` (several follow-up URLs must be separated by `` , ``: it splits on a comma between white
space). It posts ``{"ticket": {...}, "queue_slug": ...}`` for a new ticket and adds ``"followup_id"`` for each
follow-up (a comment or a status change; a PATCH of the ticket's fields sends nothing). It posts inside the
request that saved the ticket and catches only timeouts (3 s): while our URL refuses connections, every ticket
saved there answers HTTP 500 (the ticket is saved all the same). ``HELPDESK_PRIVATE_FOLLOWUP_MEANS_NO_EMAILS =
True`` keeps our internal notes out of the e-mails it sends to a queue's CC address and, where a queue has
``enable_notifications_on_email_events``, to a ticket's CCs.

Values: the assignee is the ticket's queue id, the priority 1 (critical) to 5 (very low), the category the
custom field named by the ``category_field`` option (``custom_<name>`` in the API). Statuses 1 (open) and 2
(reopened) are open, 3 (resolved) resolved, 4 (closed) and 5 (duplicate) closed; a ticket merged into
another is gone. Every follow-up's comment is among the notes; the follow-up that set status 3 or 4 last
gives the resolution (when the ticket has none) and the time it was resolved. The API gives no creation time:
the first follow-up's (the one ticket creation writes) stands in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from models.errors import InvalidInput
from triage.channels.connectors.base import MARKER, Connector, InboundEvent, Page, RemoteError, RemoteGone, RemoteTicket
from triage.channels.connectors.wire import check_token, field_value, json_payload, when

__all__ = ("DjangoHelpdeskConnector",)

STATUSES = {1: "open", 2: "open", 3: "resolved", 4: "closed", 5: "closed"}
DONE = (3, 4)  # the statuses of resolved_tickets
PAGE_SIZE = 100
# django-helpdesk renders a follow-up's comment as a Django template before it stores it: "{{ x }}" and
# "{# x #}" would be replaced and an unpaired "{%" or "%}" makes it answer HTTP 500. A zero-width space
# after the brace (or before it, in "%}") leaves the text as it reads and gives the template nothing to render.
_TEMPLATE = re.compile(r"\{(?=[{%#])|%(?=\})")
_ZWSP = "\u200b"


def _stamp(value: Any) -> float:
    moment = when(value)
    return moment.timestamp() if moment and moment.tzinfo else 0.0


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def literal(text: str) -> str:
    """``text`` as a comment that django-helpdesk's template rendering keeps as it is."""
    return _TEMPLATE.sub(lambda m: m.group(0) + _ZWSP, text)


class DjangoHelpdeskConnector(Connector):
    """django-helpdesk by its REST API (HTTP Basic, a staff user) and its ``?token=`` webhooks."""

    kind: ClassVar[str] = "django-helpdesk"
    title: ClassVar[str] = "django-helpdesk"
    credential_keys: ClassVar[tuple[str, ...]] = ("user", "password")
    option_keys: ClassVar[tuple[str, ...]] = ("category_field",)  # a custom field's name
    untriaged: ClassVar[dict[str, tuple[str, ...]]] = {"priority": ("3",)}
    default_mapping: ClassVar[dict[str, dict[str, str]]] = {
        "priority": {"1": "urgent", "2": "high", "3": "normal", "4": "low", "5": "low"}
    }
    page_size: int = PAGE_SIZE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category_field = str(self.config.options.get("category_field") or "") or None
        if self.category_field:
            self.writable = (*type(self).writable, "category")

    def read_custom(self, ticket: Mapping[str, Any], key: str) -> str | None:
        """A custom field's value (``custom_<name>`` in the API)."""
        return field_value(ticket.get(f"custom_{key}"))

    def auth(self) -> dict[str, Any]:
        """HTTP Basic as the configured user."""
        return {"auth": (self.config.credentials["user"], self.config.credentials["password"])}

    def verify(self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, secret: str) -> None:
        """The shared secret as ``?token=`` (django-helpdesk signs nothing)."""
        check_token(headers, query, secret)

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """``created`` for the new-ticket webhook, ``updated`` for a follow-up's (it carries ``followup_id``);
        ours when that follow-up's comment carries our marker."""
        payload = json_payload(body)
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, dict):
            raise InvalidInput("the webhook body has no ticket object", field="ticket")
        ticket_id = _number(ticket.get("id"))
        if ticket_id is None:
            raise InvalidInput("the webhook's ticket has no numeric id", field="ticket.id")
        followup_id = payload.get("followup_id")
        if followup_id is None:
            return InboundEvent(delivery_id=f"ticket:{ticket_id}", kind="created", ticket_id=str(ticket_id))
        if _number(followup_id) is None:
            raise InvalidInput("the webhook's followup_id is not a number", field="followup_id")
        followups = ticket.get("followup_set") if isinstance(ticket.get("followup_set"), list) else []
        followup = next((f for f in followups if isinstance(f, dict) and f.get("id") == followup_id), {})
        ours = MARKER in str(followup.get("comment") or "")
        return InboundEvent(delivery_id=f"followup:{followup_id}", kind="updated", ticket_id=str(ticket_id), ours=ours)

    def fetch_ticket(self, ticket_id: str) -> RemoteTicket:
        """``GET /api/tickets/{id}/``, with its follow-ups."""
        if not ticket_id.isdigit():
            raise RemoteGone(f"django-helpdesk has no ticket {ticket_id!r} (its ids are numbers)", status=None)
        ticket = self.json(self.request("GET", f"api/tickets/{ticket_id}/", ticket_id=ticket_id), "a ticket")
        if not isinstance(ticket, dict) or _number(ticket.get("id")) is None:
            raise RemoteError("django-helpdesk answered a ticket with no ticket", retry=False)
        if ticket.get("merged_to") is not None:
            raise RemoteGone(f"django-helpdesk ticket {ticket_id} was merged into {ticket['merged_to']}", status=None)
        return self._ticket(ticket)

    def _ticket(self, ticket: Mapping[str, Any]) -> RemoteTicket:
        followups = [f for f in ticket.get("followup_set") or [] if isinstance(f, dict)]
        followups.sort(key=lambda f: (_stamp(f.get("date")), _number(f.get("id")) or 0))
        closing = [f for f in followups if f.get("new_status") in DONE]
        # a staff member's public comment answers the requester (ours are private notes)
        replies = [f for f in followups if f.get("public") and f.get("comment") and f.get("user") is not None]
        status = STATUSES.get(_number(ticket.get("status")) or 1, "open")
        fields: dict[str, str | None] = {
            "assignee": field_value(ticket.get("queue")),
            "priority": field_value(ticket.get("priority")),
            **self.custom_fields(ticket),  # category and added fields: custom fields (custom_<name>)
        }
        done = status in ("resolved", "closed")
        resolution = field_value(ticket.get("resolution")) or (
            field_value(closing[-1].get("comment")) if closing else None
        )
        return RemoteTicket(
            id=str(ticket["id"]),
            subject=str(ticket.get("title") or ""),
            body=str(ticket.get("description") or ""),
            status=status,
            fields=fields,
            requester=field_value(ticket.get("submitter_email")),
            resolution=resolution if done else None,
            created_at=when(followups[0].get("date")) if followups else None,
            resolved_at=when(closing[-1].get("date")) if done and closing else None,
            notes=tuple(str(f["comment"]) for f in followups if f.get("comment")),
            first_reply_at=when(replies[0].get("date")) if replies else None,
        )

    def resolved_tickets(self, cursor: str | None) -> Page:
        """``GET /api/tickets/?status=3,4``, a page at a time in id order; the cursor is the next page number
        (a page that vanished because tickets were deleted meanwhile ends it)."""
        page = int(cursor) if cursor and cursor.isdigit() and int(cursor) > 0 else 1
        params = {"status": ",".join(map(str, DONE)), "page": str(page), "page_size": str(self.page_size)}
        try:
            found = self.json(self.request("GET", "api/tickets/", params=params), "a ticket list")
        except RemoteError as error:
            if error.status == 404 and page > 1:  # "Invalid page."
                return Page(tickets=[], cursor=None)
            raise
        if not isinstance(found, dict) or not isinstance(found.get("results"), list):
            raise RemoteError("django-helpdesk answered a ticket list with no results", retry=False)
        rows = [t for t in found["results"] if isinstance(t, dict) and _number(t.get("id")) is not None]
        tickets = [self._ticket(t) for t in rows if t.get("merged_to") is None]
        return Page(tickets=tickets, cursor=str(page + 1) if found.get("next") else None)

    def add_note(self, ticket_id: str, text: str, html: str) -> None:
        """A private follow-up (``public: false``: never e-mailed to the submitter) with ``text`` as its comment,
        which django-helpdesk shows as Markdown (it escapes HTML, so ``html`` is not used). No ``title``: the
        API would rename the ticket to it."""
        if not ticket_id.isdigit():
            raise RemoteGone(f"django-helpdesk has no ticket {ticket_id!r} (its ids are numbers)", status=None)
        note = {"ticket": int(ticket_id), "comment": literal(text), "public": False}
        try:
            self.request("POST", "api/followups/", ticket_id=ticket_id, json=note)
        except RemoteError as error:  # an unknown ticket is a 400 here: {"ticket": ["Invalid pk ... does not exist."]}
            if error.status == 400 and '"ticket"' in str(error) and "does not exist" in str(error):
                raise RemoteGone(f"django-helpdesk has no ticket {ticket_id} (HTTP 400)", status=400) from None
            raise

    def set_fields(self, ticket_id: str, values: Mapping[str, str]) -> None:
        """``PATCH /api/tickets/{id}/`` with the queue and priority (numbers) and the category's and added
        fields' custom fields."""
        change: dict[str, Any] = {}
        custom = {**self.added_fields(), "category": self.category_field}
        for name, value in values.items():
            if name not in self.settable():
                raise InvalidInput(f"django-helpdesk cannot set {name!r} here", field=f"fields.{name}")
            if name in custom:  # the category's and added fields' custom fields
                change[f"custom_{custom[name]}"] = value
                continue
            if not str(value).strip().isdigit():
                raise InvalidInput(f"django-helpdesk's {name} is a number, not {value!r}", field=f"fields.{name}")
            change["queue" if name == "assignee" else name] = int(value)
        if change:
            self.request("PATCH", f"api/tickets/{ticket_id}/", ticket_id=ticket_id, json=change)

    def whoami(self) -> str:
        """``GET /api/followups/?page_size=1``: staff only, and cheaper than the ticket list (which reads every
        ticket's custom fields before it takes a page)."""
        found = self.json(self.request("GET", "api/followups/", params={"page_size": "1"}), "the follow-up list")
        if not isinstance(found, dict) or "results" not in found:
            raise RemoteError("django-helpdesk answered the follow-up list with no results", retry=False)
        return f"{self.config.credentials['user']} on django-helpdesk at {self.config.base_url}"
