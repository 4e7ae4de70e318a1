"""Local stand-ins for the Zammad, Zendesk and Freshdesk REST APIs: a real HTTP server on a free port that
answers just the calls the connectors make, over an in-memory store of tickets, as the helpdesks document
them (see tests/data/connectors/README.md). It records every call, refuses what the real service refuses
(wrong or missing auth 401, an unknown route 404, a malformed call 400/415/422 with that service's error
body) and can play the API down (:meth:`StandIn.fail_next`) or a ticket deleted (:meth:`StandIn.delete_ticket`).
It also makes the webhook the helpdesk would send about a ticket, signed as it signs it (:meth:`StandIn.webhook`).

    with standin("zendesk") as api:
        ticket_id = api.add_ticket("Printer jammed", "It beeps.", group="Support")
        connector = ZendeskConnector(api.config())
        ...
        assert api.calls[-1].json == {...}

The store and its plumbing are in :mod:`tests.standins.base`, each helpdesk's routes and answers in its own
module (:mod:`~tests.standins.zammad`, :mod:`~tests.standins.zendesk`, :mod:`~tests.standins.freshdesk`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.standins.base import Call, Hook, Reply, StandIn, StoredTicket
from tests.standins.freshdesk import FreshdeskStandIn
from tests.standins.zammad import ZammadStandIn
from tests.standins.zendesk import ZendeskStandIn

__all__ = (
    "APIS",
    "Call",
    "FreshdeskStandIn",
    "Hook",
    "Reply",
    "StandIn",
    "StoredTicket",
    "ZammadStandIn",
    "ZendeskStandIn",
    "standin",
)

APIS: dict[str, type[StandIn]] = {"zammad": ZammadStandIn, "zendesk": ZendeskStandIn, "freshdesk": FreshdeskStandIn}


def _server(api: StandIn) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, body = api.handle(self.command, self.path, headers, raw)
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"content-type": "application/json; charset=utf-8", **extra}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # http.server's names

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


@contextmanager
def standin(kind: str) -> Iterator[StandIn]:
    """A running stand-in for the helpdesk ``kind`` (``zammad``, ``zendesk``, ``freshdesk``)."""
    api = APIS[kind]()
    server = _server(api)
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"standin-{kind}", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
