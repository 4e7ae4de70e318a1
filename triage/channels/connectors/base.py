"""The connector interface: what every helpdesk connector does (verify and read the helpdesk's webhooks, read
a ticket, page through resolved tickets, add an internal note, set fields), in the helpdesk's own values.
Label mapping, policies and the queue of work live above it (``triage.channels.connectors.sync``), so a
new helpdesk is one small class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

from models.errors import InvalidInput
from models.tickets import LABEL_FIELDS as BUILT_IN
from triage.channels.connectors.wire import field_value

__all__ = (
    "MARKER",
    "Connector",
    "ConnectorConfig",
    "InboundEvent",
    "Page",
    "RemoteError",
    "RemoteGone",
    "RemoteTicket",
)

MARKER = "helpdesk-triage:suggestion:"  # + our suggestion id: in every note we write, so a retry finds it


class RemoteError(Exception):
    """A call to the helpdesk failed. ``retry``: worth trying again later (no answer, 429, 5xx); otherwise
    the helpdesk refused the call (a 4xx) and retrying the same call will not help."""

    def __init__(self, message: str, *, status: int | None = None, retry: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retry = retry


class RemoteGone(RemoteError):
    """The ticket no longer exists in the helpdesk (deleted or merged away): recorded, never retried."""

    def __init__(self, message: str, *, status: int | None = 404) -> None:
        super().__init__(message, status=status, retry=False)


@dataclass(frozen=True)
class RemoteTicket:
    """A ticket as the helpdesk has it. ``fields`` holds the helpdesk's own values (as strings) for our
    label fields it has (``assignee``: its group or queue; ``priority``; ``category`` when the connector is
    told which of its fields holds one); ``None`` when unset. ``status`` is in our words: ``open``,
    ``pending``, ``resolved`` or ``closed``. ``notes`` are the texts of its internal notes (to find ours).
    ``first_reply_at``: when an agent first answered the requester in public."""

    id: str
    subject: str
    body: str
    status: str
    fields: dict[str, str | None] = field(default_factory=dict)
    requester: str | None = None
    resolution: str | None = None
    created_at: datetime | None = None
    resolved_at: datetime | None = None
    notes: tuple[str, ...] = ()
    first_reply_at: datetime | None = None  # an agent's first public answer to the requester (the SLA's)


@dataclass(frozen=True)
class InboundEvent:
    """One webhook delivery from the helpdesk: its delivery id (theirs, or a digest of the body when it
    sends none), what happened (``created`` or ``updated``) and to which of its tickets. ``ours``: the
    change is our own write-back echoed back (ignored)."""

    delivery_id: str
    kind: str
    ticket_id: str
    ours: bool = False


@dataclass(frozen=True)
class Page:
    """A page of resolved tickets and the cursor of the next page (``None``: this was the last)."""

    tickets: list[RemoteTicket]
    cursor: str | None


@dataclass(frozen=True)
class ConnectorConfig:
    """How to reach one helpdesk: its base URL, the credentials its API takes (keys per connector, see
    :attr:`Connector.credential_keys`) and options (per connector, see :attr:`Connector.option_keys`)."""

    name: str
    base_url: str
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)


class Connector(ABC):
    """One helpdesk's API and webhooks. Subclasses set the class attributes and implement the abstract
    methods; every call goes through :meth:`request`, which maps failures to :class:`RemoteError`."""

    kind: ClassVar[str]  # "zammad", "zendesk", ...
    title: ClassVar[str]  # "Zammad"
    credential_keys: ClassVar[tuple[str, ...]]  # e.g. ("token",) or ("user", "password")
    option_keys: ClassVar[tuple[str, ...]] = ()  # e.g. ("category_field",)
    writable: ClassVar[tuple[str, ...]] = ("assignee", "priority")  # our fields it can set
    # their values that mean "nobody chose yet" per field, unless the deployment says otherwise
    untriaged: ClassVar[dict[str, tuple[str, ...]]] = {}
    # their value -> ours, per field, unless the deployment maps its own
    default_mapping: ClassVar[dict[str, dict[str, str]]] = {}

    def __init__(self, config: ConnectorConfig, client: httpx.Client | None = None, *, timeout: float = 10.0) -> None:
        missing = [k for k in self.credential_keys if not config.credentials.get(k)]
        if missing:
            needed = ", ".join(missing)
            raise InvalidInput(f"{self.title} needs credentials {needed}", field=f"credentials.{missing[0]}")
        self.config = config
        self.timeout = timeout
        self._client = client

    @property
    def client(self) -> httpx.Client:
        """The HTTP client, made at the first call (verifying a webhook needs none)."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False)
        return self._client

    def close(self) -> None:
        """Release the HTTP client."""
        if self._client is not None:
            self._client.close()

    # --- what each connector implements -------------------------------------------------------------

    @abstractmethod
    def auth(self) -> dict[str, Any]:
        """Keyword arguments for every API call that authenticate it (``headers=`` or ``auth=``)."""

    @abstractmethod
    def verify(self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, secret: str) -> None:
        """Raise :class:`InvalidSignature` unless the webhook is signed as the helpdesk does it, or, for a
        helpdesk that signs nothing, carries the shared secret (``query["token"]`` or a header; see
        :func:`check_token`)."""

    @abstractmethod
    def parse_event(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """The delivery a verified webhook reports; raise :class:`InvalidInput` naming the field at fault."""

    @abstractmethod
    def fetch_ticket(self, ticket_id: str) -> RemoteTicket:
        """The ticket now, with its internal notes; :class:`RemoteGone` when it no longer exists."""

    @abstractmethod
    def resolved_tickets(self, cursor: str | None) -> Page:
        """A page of resolved or closed tickets, oldest first, from ``cursor`` (``None``: the start)."""

    @abstractmethod
    def add_note(self, ticket_id: str, text: str, html: str) -> None:
        """Add an internal note (never shown to the customer) to the ticket."""

    @abstractmethod
    def set_fields(self, ticket_id: str, values: Mapping[str, str]) -> None:
        """Set the ticket's fields (our field names, their values, e.g. ``{"priority": "3 high"}``)."""

    @abstractmethod
    def whoami(self) -> str:
        """Check the credentials with a cheap read; a line saying who we are in the helpdesk."""

    # --- shared plumbing ------------------------------------------------------------------------------

    def group_names(self, *, fresh: bool = False) -> dict[int, str]:
        """The groups by id, where the API names a ticket's group by id (kept; ``fresh`` reads them again)."""
        raise NotImplementedError(f"{self.title} names groups by name")

    def group_id(self, name: str) -> int:
        """The id of the group called ``name``: from the groups read before, else from a fresh read (a group
        made since); :class:`RemoteError` (not retried) when the helpdesk has none by that name."""
        for fresh in (False, True):
            for group_id, group in self.group_names(fresh=fresh).items():
                if group == name:
                    return group_id
        raise RemoteError(f"{self.title} has no group named {name!r}", retry=False)

    def field_keys(self) -> dict[str, str]:
        """Our field -> the helpdesk's field holding it, from the options ``<field>_field`` (``category_field``,
        and one per triage field a deployment added, such as ``request_type_field``)."""
        return {
            name.removesuffix("_field"): str(key)
            for name, key in self.config.options.items()
            if name.endswith("_field") and key
        }

    def read_custom(self, ticket: Mapping[str, Any], key: str) -> str | None:
        """The helpdesk's value of its field ``key`` on ``ticket`` (a top-level attribute by default)."""
        return field_value(ticket.get(key))

    def custom_fields(self, ticket: Mapping[str, Any]) -> dict[str, str | None]:
        """Our fields the options name a helpdesk field for, with the ticket's values."""
        return {name: self.read_custom(ticket, key) for name, key in self.field_keys().items()}

    def added_fields(self) -> dict[str, str]:
        """The triage fields a deployment added (not category, priority or assignee), each with the helpdesk
        field its option names."""
        return {name: key for name, key in self.field_keys().items() if name not in BUILT_IN}

    def settable(self) -> tuple[str, ...]:
        """Our fields it can set: its own, and every added field whose helpdesk field it was told."""
        return (*getattr(self, "writable", type(self).writable), *self.added_fields())

    def check_settable(self, values: Mapping[str, str], settable: tuple[str, ...] | None = None) -> None:
        """:class:`InvalidInput` naming the first field of ``values`` this helpdesk cannot set."""
        allowed = settable if settable is not None else self.settable()
        wrong = [k for k in values if k not in allowed]
        if wrong:
            raise InvalidInput(f"{self.title} cannot set {wrong[0]!r}", field=f"fields.{wrong[0]}")

    def json(self, response: httpx.Response, what: str) -> Any:
        """The JSON of a helpdesk's answer; :class:`RemoteError` (not retried) when it is none."""
        try:
            return response.json()
        except ValueError:
            message = f"{self.title} answered {what} with no JSON"
            raise RemoteError(message, status=response.status_code, retry=False) from None

    def url(self, path: str) -> str:
        """``path`` under the helpdesk's base URL."""
        return self.config.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request(self, method: str, path: str, *, ticket_id: str | None = None, **kwargs: Any) -> httpx.Response:
        """Call the helpdesk's API; a 2xx answer is returned, anything else raises :class:`RemoteError`
        (:class:`RemoteGone` for a 404 on a call about ``ticket_id``)."""
        try:
            response = self.client.request(method, self.url(path), **self.auth(), **kwargs)
        except httpx.HTTPError as error:
            raise RemoteError(f"{self.title} did not answer: {type(error).__name__}: {error}"[:300]) from None
        if response.is_success:
            return response
        text = response.text[:200]
        if response.status_code in (404, 410) and ticket_id is not None:
            raise RemoteGone(f"{self.title} has no ticket {ticket_id} (HTTP {response.status_code})")
        retry = response.status_code in (408, 409, 423, 429) or response.status_code >= 500
        raise RemoteError(
            f"{self.title} answered HTTP {response.status_code} to {method} {path}: {text}",
            status=response.status_code,
            retry=retry,
        )
