"""Channel benchmarks: mail per second through the IMAP poller with suggestions (beside the encoder alone
on the same texts: the encoder is the limit), and webhook delivery latency from commit to receipt at a
real receiver that verifies every signature."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from models.channel_settings import WebhookSettings
from models.db import session_scope
from models.outbox import emit_event
from models.settings import Settings
from triage.channels.mail.poller import SUGGEST_BATCH, MailPoller
from triage.channels.webhooks.delivery import Deliverer
from triage.channels.webhooks.subscriptions import create_subscription, delete_subscription
from triage.evaluation.bench import free_port
from triage.ml.encoder import Encoder

__all__ = ("mail_messages", "mail_throughput", "webhook_latency")


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(values) * 1000
    return {"p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}


def mail_messages(texts: Sequence[tuple[str, str, str]], domain: str = "bench.example") -> list[bytes]:
    """A plain-text mail per ``(sender, subject, body)``."""
    messages = []
    for sender, subject, body in texts:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, f"helpdesk@{domain}", subject
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(body)
        messages.append(message.as_bytes())
    return messages


def mail_throughput(
    settings: Settings, poller: MailPoller, encoder: Encoder, messages: Sequence[bytes], texts: Sequence[str]
) -> dict[str, Any]:
    """Append ``messages`` to the configured mailbox, poll until every one is processed, and time it; then
    encode ``texts`` (each mail's subject and body) with the encoder alone, one at a time and in the
    poller's batches. Returns the rates and the poller's ratio to each."""
    with poller.connect() as box:
        for raw in messages:
            box.append(raw, settings.mail.folder)
    started, done = time.perf_counter(), 0
    outcomes: dict[str, int] = {}
    stages: dict[str, float] = {}
    while done < len(messages):
        report = poller.poll_once()
        if not report.handled:
            break
        done += report.total
        for key, value in report.outcomes.items():
            outcomes[key] = outcomes.get(key, 0) + value
        for key, value in report.seconds.items():
            stages[key] = stages.get(key, 0.0) + value
    poll_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        encoder.encode(text)
    single = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for start in range(0, len(texts), SUGGEST_BATCH):  # as the poller batches a poll's mails
        encoder.encode_batch(list(texts[start : start + SUGGEST_BATCH]))
    batched = len(texts) / (time.perf_counter() - started)
    poller_rate = done / poll_seconds
    return {
        "messages": done,
        "outcomes": outcomes,
        # ms per mail by stage; "desk" (the transaction) includes "suggest" (encode, search, classify)
        "ms_per_mail": {k: round(v * 1000 / max(done, 1), 1) for k, v in stages.items()},
        "poller_per_second": round(poller_rate, 1),
        "encoder_alone_per_second": round(single, 1),
        "encoder_alone_batched_per_second": round(batched, 1),
        "poller_to_encoder": round(poller_rate / single, 2),
        "poller_to_encoder_batched": round(poller_rate / batched, 2),
    }


def webhook_latency(
    sessions: sessionmaker[Session], n_events: int = 200, gap_seconds: float = 0.01, *, deliverer: bool = True
) -> dict:
    """Commit ``n_events`` events one at a time (``gap_seconds`` apart) with a deliverer running (here, or
    without ``deliverer`` in other processes: the queue's workers) and a real receiver subscribed on
    loopback; the latency of each is from its commit to its verified receipt."""
    settings = WebhookSettings(allow_networks=("loopback",), poll_seconds=1.0)
    arrived: dict[str, float] = {}
    rejected: list[str] = []
    secret_box: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                Webhook(secret_box["secret"]).verify(body, dict(self.headers.items()))
                arrived.setdefault(self.headers["webhook-id"], time.perf_counter())
            except Exception as error:  # noqa: BLE001 - counted
                rejected.append(str(error))
            self.send_response(204)
            self.end_headers()

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with session_scope(sessions) as session:
        subscription = create_subscription(
            session, url=f"http://127.0.0.1:{port}/hooks", events=["webhook.test"], allow_networks=("loopback",)
        )
        secret_box["secret"], subscription_id = subscription.secret, subscription.id
    sender = Deliverer(sessions, settings).start() if deliverer else None
    committed: dict[str, float] = {}
    try:
        for n in range(n_events):
            with session_scope(sessions) as session:
                event = emit_event(session, "webhook.test", {"n": n}, only_subscription=subscription_id)
                event_id = event.event_id
            committed[event_id] = time.perf_counter()
            time.sleep(gap_seconds)
        deadline = time.monotonic() + 60
        while len(arrived) < n_events and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        if sender is not None:
            sender.close()
        server.shutdown()
        server.server_close()
        with session_scope(sessions) as session:
            delete_subscription(session, subscription_id)
    latencies = [arrived[i] - committed[i] for i in committed if i in arrived]
    return {"events": n_events, "delivered": len(latencies), "rejected": len(rejected), **_quantiles(latencies)}
