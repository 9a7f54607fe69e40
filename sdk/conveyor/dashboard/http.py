"""Request and response for the dashboard's WSGI app, and the checks every request passes.

Security on loopback still matters: any web page the operator opens can make the browser
send requests to 127.0.0.1. So every request's ``Host`` must be a loopback name (no DNS
rebinding), and every POST must carry the per-process CSRF token (and, when the browser
sends an ``Origin``, a loopback one).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
MAX_FORM_BYTES = 64 * 1024


def _host_only(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_host(host: str | None) -> bool:
    return bool(host) and _host_only(host or "") in LOOPBACK_HOSTS


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]

    @property
    def htmx(self) -> bool:
        return self.headers.get("hx-request", "") == "true"

    @property
    def full_path(self) -> str:
        from urllib.parse import urlencode

        return self.path + ("?" + urlencode(self.query) if self.query else "")

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        form: dict[str, str] = {}
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "POST":
            try:
                length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM_BYTES)
            except ValueError:
                length = 0
            body = environ["wsgi.input"].read(length).decode("utf-8", "replace")
            form = {k: v[-1] for k, v in parse_qs(body).items()}
        return cls(method, environ.get("PATH_INFO", "/") or "/", query, form, headers)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    cache: str = "no-store"

    REASONS = {
        200: "OK",
        303: "See Other",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }

    @property
    def status_line(self) -> str:
        return f"{self.status} {self.REASONS.get(self.status, 'Status')}"

    def all_headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            ("Cache-Control", self.cache),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
            *self.headers,
        ]


def redirect(location: str) -> Response:
    return Response(303, b"", headers=[("Location", location)])


def safe_back(target: str | None, default: str = "/") -> str:
    """A same-site path to go back to after a POST (never another host)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def csrf_ok(request: Request, token: str) -> bool:
    sent = request.form.get("csrf") or request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(sent.encode(), token.encode()):
        return False
    origin = request.headers.get("origin")
    return origin is None or is_loopback_host(urlsplit(origin).netloc)
