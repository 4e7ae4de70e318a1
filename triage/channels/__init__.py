"""Channels: inbound e-mail and outbound webhooks.

May import: ``triage.desk``, ``triage.assist`` and below, ``kb``, ``models``."""

__all__ = ()
