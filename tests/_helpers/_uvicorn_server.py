"""A real uvicorn server in a background thread on a free 127.0.0.1 port (service tests), and a
keep-alive client that notices when the server closes or resets its connection."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_health(port: int, proc: Any, timeout: float = 60) -> httpx.Response:
    """Poll ``GET /health`` of a server started as subprocess ``proc`` until it answers;
    fails the test if the process exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)


class Server:
    """Start ``app`` with uvicorn now; ``url`` is its base URL; ``stop()`` shuts it down.
    ``options`` go to ``uvicorn.Config`` (e.g. ``http=`` a protocol class)."""

    def __init__(self, app: Any, **options: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", **options
        )
        config.install_signal_handlers = False
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class KeepAlive:
    """One keep-alive connection (http.client). A request on a connection the server reset or
    closed raises AssertionError, and so does an answer that closes it (``connection: close``,
    or a silent reconnection); the next request then starts on a fresh connection."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.sent = 0
        self._connect()

    def _connect(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.conn.connect()
        self.sock = self.conn.sock

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        """(status, parsed JSON answer)."""
        self.sent += 1
        try:
            self.conn.request(method, path, body=body, headers=self.headers)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as exc:  # reset, closed, broken pipe
            self.conn.close()
            self._connect()
            raise AssertionError(
                f"{method} {path}: the connection failed ({exc!r}); body {(body or b'')[:300]!r}"
            ) from exc
        closed = r.getheader("connection", "").lower() == "close" or self.conn.sock is not self.sock
        if closed:
            self.conn.close()
            self._connect()
        assert not closed, f"{path}: the server closed the connection ({r.status} {data[:300]!r})"
        return r.status, json.loads(data)

    def post(self, path: str, body: bytes) -> tuple[int, Any]:
        return self.request("POST", path, body)

    def close(self) -> None:
        self.conn.close()
