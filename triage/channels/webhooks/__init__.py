"""Outbound webhooks: subscriptions, destinations checked against private networks, Standard Webhooks
signatures, and the deliverer that sends the outbox's events with retries."""

__all__ = ()
