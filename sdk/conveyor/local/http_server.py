"""The HTTP submit API on loopback, for the dev cloud: each request becomes the API
Gateway v2 event the deployed function receives, and goes through the same handler."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..runtime.http_api import handle

LOOPBACK = "127.0.0.1"


def serve(client: Any, port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start serving on 127.0.0.1:port (0 picks one); returns the server and its thread."""

    class Handler(BaseHTTPRequestHandler):
        def _dispatch(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else None
            event = {
                "version": "2.0",
                "rawPath": self.path.split("?")[0],
                "body": body,
                "requestContext": {"http": {"method": self.command}},
            }
            response = handle(event, client)
            self.send_response(response["statusCode"])
            for name, value in response["headers"].items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response["body"].encode())

        do_GET = do_POST = do_DELETE = do_PUT = _dispatch  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, port), Handler)
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
