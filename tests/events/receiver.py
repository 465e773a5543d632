"""A real local webhook receiver (http.server in a thread) that verifies each request's
signature with the standardwebhooks package, and can answer 500 or hang on request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from fsm.clock import SystemClock

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """``status`` is what it answers; while ``hold`` is clear it does not answer at all."""

    def __init__(self) -> None:
        self.status = 204
        self.hold = threading.Event()
        self.hold.set()
        self.taken: list[dict[str, Any]] = []  # the verified payloads it answered 2xx to
        self.received_at: list[datetime] = []  # when each was taken, by the product's clock
        self.tries = 0
        self.forged = 0
        self.url = ""

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        self.tries += 1
        self.hold.wait(timeout=60)
        try:
            payload = Webhook(SECRET).verify(body, headers)
        except WebhookVerificationError:
            self.forged += 1
            return 400
        if 200 <= self.status < 300:
            self.taken.append(payload)
            self.received_at.append(SystemClock().now())
        return self.status

    def ids(self) -> list[str]:
        return [p["data"]["id"] for p in self.taken]


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            status = receiver.take(body, dict(self.headers.items()))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *_: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/tradefsm"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.hold.set()
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A local URL nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"
