"""The deliverer: claims due deliveries from the outbox (a lease, so a process that dies mid-send loses
nothing), sends them, and records each attempt; failures are retried with exponential back-off and jitter
up to a bounded number of attempts. Events with the same subject reach an endpoint in the order they were
written: a delivery waits while an earlier one of its subject is pending for that endpoint."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from models.base import utcnow
from models.channel_settings import WebhookSettings
from models.db import session_scope
from models.outbox import OutboxEvent, WebhookDelivery, WebhookSubscription, on_outbox_commit
from triage.channels.webhooks.sending import Attempt, Sender, event_body

__all__ = ("Deliverer", "Handler", "backoff_seconds")

# handles a delivery of an internal subscription (its kind's handler): (subscription id, event) -> attempt
Handler = Callable[[int, OutboxEvent], Attempt]

log = logging.getLogger(__name__)
LOG_ENTRIES = 20  # attempts kept in a delivery's log
IN_FLIGHT = 8  # sends a deliverer has going at once


def backoff_seconds(attempts: int, settings: WebhookSettings, rng: random.Random | None = None) -> float:
    """The wait before the next try after ``attempts`` failed ones: the base doubled per attempt, capped,
    then drawn between half and all of it (jitter: endpoints that failed together do not retry together)."""
    delay = min(settings.max_backoff_seconds, settings.backoff_seconds * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(delay / 2, delay)


def subscription_kind(session: Session, delivery: WebhookDelivery) -> str:
    """The kind of the subscription a delivery belongs to."""
    return session.get(WebhookSubscription, delivery.subscription_id).kind


def _due(now: datetime, limit: int, due_by: datetime | None = None, kinds: tuple[str, ...] = ("webhook",)):
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.subscription_id == WebhookDelivery.subscription_id,
        earlier.ordering_key == WebhookDelivery.ordering_key,
        earlier.id < WebhookDelivery.id,
        earlier.state.in_(("pending", "sending")),
    )
    claimable = or_(
        and_(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= min(now, due_by or now)),
        and_(WebhookDelivery.state == "sending", WebhookDelivery.lease_until < now),
    )
    return (
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookSubscription.active.is_(True), WebhookSubscription.kind.in_(kinds), claimable, ~blocked)
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )


class Deliverer:
    """Sends the outbox's deliveries; ``start()`` runs it on a thread that wakes when this process commits
    an event and polls for the rest (retries, other processes' events). Deliveries of an internal
    subscription (a connector's queue) go to the handler of its kind instead of being posted; without
    one they wait (for a process that has it)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: WebhookSettings,
        *,
        batch: int = 32,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.batch = batch
        self.handlers = dict(handlers or {})
        self.sender = Sender(settings)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="webhooks")
        self._counter = threading.Lock()
        self._in_flight = 0
        self._unsubscribe = on_outbox_commit(self._wake.set)

    def claim(
        self, now: datetime | None = None, *, due_by: datetime | None = None, limit: int | None = None
    ) -> list[int]:
        """Take due deliveries (at most one per endpoint and subject; only those due by ``due_by`` when
        given) for this process until their lease ends; another process claims none of them meanwhile."""
        now = now or utcnow()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        claimed = []
        with session_scope(self.sessions) as session:
            kinds = ("webhook", *self.handlers)
            for delivery_id in session.scalars(_due(now, limit or self.batch, due_by, kinds)).all():
                taken = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        or_(
                            WebhookDelivery.state == "pending",
                            and_(WebhookDelivery.state == "sending", WebhookDelivery.lease_until < now),
                        ),
                    )
                    .values(state="sending", lease_until=lease)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:
                    claimed.append(delivery_id)
        return claimed

    def _send(self, delivery_id: int) -> None:
        with session_scope(self.sessions) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:  # its subscription was removed since the claim
                return
            event = session.get(OutboxEvent, delivery.event_id)
            subscription = session.get(WebhookSubscription, delivery.subscription_id)
            url, secret, event_id, body = subscription.url, subscription.secret, event.event_id, event_body(event)
            handler, subscription_id = self.handlers.get(subscription.kind), subscription.id
            session.expunge(event)
        try:
            if handler is not None:
                attempt = handler(subscription_id, event)
            else:
                attempt = self.sender.send(url, secret, event_id, body)
        except Exception as error:  # a bug must not leave the delivery claimed until its lease ends
            log.exception("webhook delivery %d failed", delivery_id)
            attempt = Attempt(None, f"internal error: {type(error).__name__}", 0.0)
        self._record(delivery_id, attempt)

    def _record(self, delivery_id: int, attempt: Attempt) -> None:
        now = utcnow()
        with session_scope(self.sessions) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:  # its subscription was removed while it was sent
                return
            delivery.attempts += 1
            delivery.last_status, delivery.last_error, delivery.lease_until = attempt.status, attempt.error, None
            entry = {
                "at": now.isoformat(),
                "status": attempt.status,
                "error": attempt.error,
                "ms": round(attempt.seconds * 1000, 1),
                "response": attempt.response[:200],
            }
            delivery.log = [*(delivery.log or []), entry][-LOG_ENTRIES:]
            if attempt.delivered:
                delivery.state, delivery.delivered_at = "delivered", now
            elif attempt.final:
                delivery.state = "failed"
            elif attempt.status == 410 and subscription_kind(session, delivery) == "webhook":  # unsubscribe us
                delivery.state = "failed"
                subscription = session.get(WebhookSubscription, delivery.subscription_id)
                subscription.active = False
                subscription.disabled_reason = f"the endpoint answered 410 Gone at {now.isoformat()}"
                log.warning("webhook %d disabled: its endpoint answered 410 Gone", subscription.id)
            elif delivery.attempts >= self.settings.max_attempts:
                delivery.state = "failed"
                log.warning("webhook delivery %d given up after %d attempts", delivery_id, delivery.attempts)
            else:
                delivery.state = "pending"
                delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(delivery.attempts, self.settings))

    def deliver_due(self, *, due_by: datetime | None = None) -> int:
        """Claim and send what is due now (and by ``due_by``, when given: a retry scheduled later waits),
        concurrently across endpoints and subjects; returns how many were attempted."""
        claimed = self.claim(due_by=due_by)
        for future in [self._pool.submit(self._send, delivery_id) for delivery_id in claimed]:
            future.result()
        return len(claimed)

    def _send_and_wake(self, delivery_id: int) -> None:
        try:
            self._send(delivery_id)
        finally:
            with self._counter:
                self._in_flight -= 1
            self._wake.set()  # a slot is free, and the next event of this subject may be due now

    def _run(self) -> None:
        """Keep up to :data:`IN_FLIGHT` sends going: a slow endpoint holds one slot, never the others."""
        while not self._stop.is_set():
            self._wake.clear()
            with self._counter:
                free = IN_FLIGHT - self._in_flight
            claimed = []
            if free > 0:
                try:
                    claimed = self.claim(limit=free)
                except Exception:  # the database may be away for a moment; the next round retries
                    log.exception("webhook delivery round failed")
            for delivery_id in claimed:
                with self._counter:
                    self._in_flight += 1
                self._pool.submit(self._send_and_wake, delivery_id)
            if not claimed:
                self._wake.wait(self.settings.poll_seconds)

    def wake(self) -> None:
        """Look for due deliveries now (another process committed some), not at the next poll."""
        self._wake.set()

    def start(self) -> Deliverer:
        """Run on a daemon thread until :meth:`close`."""
        self._thread = threading.Thread(target=self._run, name="webhook-deliverer", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread (after the sends in flight) and release the HTTP client."""
        self._unsubscribe()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.timeout_seconds + 5)
        self._pool.shutdown(wait=True)
        self.sender.close()
        for handler in self.handlers.values():
            getattr(handler, "close", lambda: None)()  # a handler holding connections releases them
