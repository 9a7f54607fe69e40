"""The HTTP submit API on loopback, for the dev cloud: each request becomes the API
Gateway v2 event the deployed function receives, and goes through the same handler.

Like API Gateway in front of the deployed function, the server answers every request
with JSON (its own errors included), refuses a body over ``max_body`` bytes (10 MiB, API
Gateway's limit) from its Content-Length before reading it (413), drops clients that
stall for ``timeout`` seconds (408 once the headers are in), and queues up to
``BACKLOG`` connections waiting for a thread.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..runtime.http_api import error_response, handle

LOOPBACK = "127.0.0.1"
#: Bytes: API Gateway's request body limit.
MAX_BODY = 10 * 1024 * 1024
#: Connections the kernel queues while every thread is busy accepting.
BACKLOG = 128
#: Seconds a client may stall (headers or body) before it is dropped.
CLIENT_TIMEOUT = 10.0
#: After refusing a body, read and discard at most this much of it (bytes, seconds) so
#: the client can read the answer before the connection closes.
_DRAIN_BYTES = 64 * 1024 * 1024
_DRAIN_SECONDS = 2.0

log = logging.getLogger("conveyor.http")


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True


class _RequestError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error = status, error


class _Handler(BaseHTTPRequestHandler):
    """One connection. ``client``, ``max_body`` and ``timeout`` come from a subclass."""

    client: Any = None
    max_body: int = MAX_BODY
    timeout = CLIENT_TIMEOUT
    protocol_version = "HTTP/1.1"

    def __getattr__(self, name: str) -> Any:
        # Every method (PATCH, OPTIONS, ...) reaches the API, which answers 405 + Allow.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        rid = uuid.uuid4().hex
        try:
            event = self._event(rid)
        except _RequestError as exc:
            self.close_connection = True
            self._send(error_response(exc.status, exc.error, str(exc)))
            return
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            self._send(error_response(408, "RequestTimeout", "the request body stalled"))
            return
        try:
            response = handle(event, self.client)
        except Exception:  # handle() never raises; this guards the server itself
            log.exception("unexpected error answering request %s", rid)
            response = error_response(500, "InternalError", f"quote request id {rid}")
        self._send(response)

    def _event(self, rid: str) -> dict[str, Any]:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            raise _RequestError(411, "LengthRequired", "send a Content-Length, not chunks")
        text = self.headers.get("content-length")
        length = 0
        if text is not None:
            if not (text.strip().isascii() and text.strip().isdigit()):
                raise _RequestError(400, "BadRequest", f"Content-Length {text[:40]!r}")
            length = int(text)
        if length > self.max_body:
            self._linger(length)
            raise _RequestError(
                413,
                "PayloadTooLarge",
                f"the request body is {length:,} bytes; the maximum is {self.max_body:,}",
            )
        raw = self._read(length)
        try:
            body, encoded = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(raw).decode("ascii"), True
        return {
            "version": "2.0",
            "rawPath": self.path.split("?")[0],
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body if length else None,
            "isBase64Encoded": encoded,
            "requestContext": {"http": {"method": self.command}, "requestId": rid},
        }

    def _read(self, length: int) -> bytes:
        chunks, left = [], length
        while left:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                raise ConnectionError("client closed mid-body")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _linger(self, length: int) -> None:
        """Refusing a body: the answer goes first, then the connection closes after a
        bounded discard (a close with unread data resets it and loses the answer)."""
        self.close_connection = True
        self._drain = min(length, _DRAIN_BYTES)

    def _send(self, response: dict[str, Any]) -> None:
        body = response["body"].encode()
        try:
            self.send_response(response["statusCode"])
            for name, value in response["headers"].items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        drain = getattr(self, "_drain", 0)
        if drain:
            self._discard(drain)

    def _discard(self, limit: int) -> None:
        deadline = time.monotonic() + _DRAIN_SECONDS
        self.connection.settimeout(0.2)
        try:
            while limit > 0 and time.monotonic() < deadline:
                chunk = self.connection.recv(min(limit, 1 << 16))
                if not chunk:
                    return
                limit -= len(chunk)
        except OSError:  # a timeout included
            return

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, headers too long, ...) as JSON."""
        self.close_connection = True
        text = message or self.responses.get(code, ("error",))[0]
        self._send(error_response(code, "BadRequest" if code < 500 else "ServerError", text))

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(
    client: Any,
    port: int = 0,
    *,
    max_body: int = MAX_BODY,
    timeout: float = CLIENT_TIMEOUT,
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start serving on 127.0.0.1:port (0 picks one); returns the server and its thread."""
    handler = type(
        "Handler", (_Handler,), {"client": client, "max_body": max_body, "timeout": timeout}
    )
    server = _Server((LOOPBACK, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="http-api")
    thread.start()
    return server, thread


def post(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    """A tiny loopback client for tests and the CLI."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
