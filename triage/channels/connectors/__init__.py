"""Helpdesk connectors: the helpdesks a team already runs (django-helpdesk, Zammad, Zendesk, Freshdesk) send
their ticket webhooks here, we triage the ticket and write the triage back into it (an internal note, and
the fields we are sure of), resolved tickets come back as training data, and their history is backfilled.

``base`` is the interface one helpdesk implements; ``kinds`` names the built-in ones."""

__all__ = ()
