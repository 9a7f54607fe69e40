"""The web dashboard: ``serve(client, port)`` on 127.0.0.1; templates and static files
ship inside this package."""

from .app import DashboardApp
from .server import platform_probe, serve

__all__ = ["DashboardApp", "platform_probe", "serve"]
