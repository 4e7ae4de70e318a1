"""A real webhook receiver for tests: an HTTP server on a free port that verifies every request with the
Standard Webhooks reference library, records what it got, and can be told to fail, hang or go away."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from triage.evaluation.bench import free_port


@dataclass
class Received:
    """One verified request: its ``webhook-id``, the event type and data, and when it arrived."""

    webhook_id: str
    type: str
    data: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """Start with :meth:`start`; ``status`` is what it answers, ``delay`` how long it waits first."""

    secret: str = ""
    port: int = field(default_factory=free_port)
    status: int = 200
    delay: float = 0.0
    body: bytes = b"ok"
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # requests that failed verification
    requests: int = 0
    raw: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)  # every request's body and headers
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.requests += 1
                    receiver.raw.append((body, dict(self.headers.items())))
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status
                if 200 <= status < 300:
                    try:
                        payload = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                    except Exception as error:  # noqa: BLE001 - recorded, answered 400
                        with receiver._lock:
                            receiver.rejected.append(f"{type(error).__name__}: {error}")
                        status = 400
                    else:
                        item = Received(self.headers["webhook-id"], payload["type"], payload["data"], time.time())
                        with receiver._lock:
                            receiver.received.append(item)
                self.send_response(status)
                self.send_header("content-length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Go away: the port refuses connections until :meth:`start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 30.0, event_type: str | None = None) -> list[Received]:
        """Wait until ``count`` verified events (of ``event_type``, when given) have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.received if event_type is None or r.type == event_type]
            if len(got) >= count:
                return got
            time.sleep(0.02)
        got = [(r.type, r.webhook_id) for r in self.received]
        raise AssertionError(f"expected {count} {event_type or 'events'}, got {got}; rejected {self.rejected}")

    def dump(self) -> str:
        return json.dumps([r.__dict__ for r in self.received], default=str)
