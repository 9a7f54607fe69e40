"""Serve the dashboard on 127.0.0.1 (stdlib ``wsgiref`` with a thread per request).

One process, loopback only: the dashboard is an operator's tool run next to a
deployment (``conveyor dashboard``) or inside ``conveyor dev``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..views.source import DashboardSource
from .app import DashboardApp

LOOPBACK = "127.0.0.1"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def platform_probe(platform: Any) -> Callable[[], Mapping[str, Any]]:
    """Figures only an in-process ``LocalPlatform`` knows: running workers per Fargate type
    and, when the dispatcher keeps them, its AIMD windows (``dispatcher.windows()``)."""

    def probe() -> Mapping[str, Any]:
        out: dict[str, Any] = {
            "workers": {name: len(pool.alive()) for name, pool in platform.pools.items()}
        }
        windows = getattr(platform.dispatcher, "windows", None)
        if callable(windows):
            out["aimd"] = dict(windows())
        return out

    return probe


def serve(
    client: Any,
    port: int = 0,
    *,
    read_only: bool = False,
    probe: Callable[[], Mapping[str, Any]] | None = None,
) -> tuple[WSGIServer, threading.Thread]:
    """Start serving ``client``'s deployment on 127.0.0.1:``port`` (0 picks a free one) in a
    daemon thread; returns the server (``server.server_port``; ``shutdown()`` stops it)."""
    app = DashboardApp(DashboardSource(client, probe=probe), read_only=read_only)
    server = make_server(
        LOOPBACK, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="dashboard")
    thread.start()
    return server, thread
