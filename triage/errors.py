"""Errors the triage package raises; the api maps them to problem details."""

from __future__ import annotations

from models.errors import Conflict, InvalidInput, NotFound, Unavailable

__all__ = (
    "BundleUnavailable",
    "ConnectorExists",
    "ConnectorNotFound",
    "GateFailed",
    "InvalidImport",
    "InvalidQuery",
    "InvalidTransition",
    "JobConflict",
    "JobNotFound",
    "SuggestionNotFound",
    "TicketExists",
    "TicketNotFound",
    "VersionNotFound",
    "WebhookNotFound",
    "WorkerTimeout",
)


class TicketNotFound(NotFound):
    """No ticket has that id."""


class SuggestionNotFound(NotFound):
    """No portal suggestion has that id."""


class TicketExists(Conflict):
    """A ticket with that external id is already stored."""


class InvalidTransition(Conflict):
    """A ticket status change (or change to a closed ticket) that the lifecycle does not allow."""


class InvalidImport(InvalidInput):
    """A ticket import file that cannot be read or mapped; nothing was imported."""


class InvalidQuery(InvalidInput):
    """A suggest or ticket request that cannot be answered as given."""


class BundleUnavailable(Unavailable):
    """No active bundle is loaded yet."""


class VersionNotFound(NotFound):
    """No bundle of that kind has that version."""


class GateFailed(Conflict):
    """The promotion gate refused a candidate; ``reasons`` lists why and ``report`` holds the findings."""

    def __init__(self, detail: str, *, field: str | None = None, report: object = None) -> None:
        super().__init__(detail, field=field, details=getattr(report, "reasons", None))
        self.report = report

    @property
    def reasons(self) -> list[str]:
        return self.details


class JobNotFound(NotFound):
    """No job has that id."""


class JobConflict(Conflict):
    """A job of that kind is already queued or running."""


class WebhookNotFound(NotFound):
    """No webhook subscription (or delivery of it) has that id."""


class WorkerTimeout(Unavailable):
    """A shared worker (the encoder's, the classifiers') did not answer in time: overloaded or stuck."""


class ConnectorNotFound(NotFound):
    """No helpdesk connector has that name."""


class ConnectorExists(Conflict):
    """A connector with that name is already configured."""
