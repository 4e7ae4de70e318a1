"""The API on a real port inside the test process (uvicorn on a thread): for peers that must reach it over
HTTP, such as a helpdesk posting its webhooks, while the test shares the session's encoder with it."""

from __future__ import annotations

import threading
import time

import uvicorn

from triage.evaluation.bench import free_port

__all__ = ("LiveApp",)


class LiveApp:
    """``app`` served on 127.0.0.1 at a free port until :meth:`stop` (its lifespan runs: bundle, deliverer)."""

    def __init__(self, app, *, timeout: float = 120.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-app", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Shut the server down (its lifespan's shutdown runs) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=60)
