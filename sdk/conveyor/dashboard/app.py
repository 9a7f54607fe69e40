"""The dashboard as a WSGI application: routing, templates, CSRF and read-only mode, and
errors rendered as pages (an AWS failure shows what AWS said, in the layout, never a blank
500).

Pages are server-rendered (Jinja2); htmx (vendored under ``static/``) re-fetches each
page's live part every few seconds and swaps it in, so nothing reloads. A request with
``HX-Request: true`` gets only that part.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import ConveyorError, TaskNotFound
from ..views import format as fmt
from ..views.source import DashboardSource, describe_error
from . import pages
from .http import Request, Response, csrf_ok, is_loopback_host, redirect, safe_back

#: Seconds between refreshes of each page's live part (None: the page does not refresh);
#: a handler may override it with a ``live`` entry in its context.
LIVE: dict[str, float | None] = {
    "overview.html": 3,
    "tenants.html": 5,
    "tasks.html": 5,
    "task.html": 3,
    "dlq.html": 30,  # each listing receives (and releases) every entry: not too often
    "schedules.html": 30,
    "cost.html": 60,  # the ledger is read at most once a minute
}

STATIC_FILES = frozenset({"htmx.min.js", "dashboard.css", "htmx.LICENSE.txt"})

_ROUTES: list[tuple[re.Pattern[str], Callable[..., pages.Page], str]] = [
    (re.compile(r"^/$"), pages.overview, "overview"),
    (re.compile(r"^/tenants$"), pages.tenants, "tenants"),
    (re.compile(r"^/tasks$"), pages.tasks, "tasks"),
    (re.compile(r"^/tasks/(?P<task_id>[^/]+)$"), pages.task, "tasks"),
    (re.compile(r"^/dlq$"), pages.dlq, "dlq"),
    (re.compile(r"^/dlq/(?P<task_id>[^/]+)$"), pages.dlq_entry, "dlq"),
    (re.compile(r"^/schedules$"), pages.schedules, "schedules"),
    (re.compile(r"^/cost$"), pages.cost, "cost"),
]

_ACTIONS: dict[str, Callable[[DashboardSource, dict[str, str]], str]] = {
    "/actions/pause": lambda s, f: pages.pause(s, f, on=True),
    "/actions/resume": lambda s, f: pages.pause(s, f, on=False),
    "/actions/cancel": pages.cancel,
    "/actions/redrive": pages.redrive,
    "/actions/schedule": pages.schedule_state,
}


def _environment() -> Any:
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConveyorError(
            "the dashboard needs Jinja2: pip install 'conveyor-tasks[dashboard]'"
        ) from exc
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conveyor.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        time=fmt.local_time,
        dur=fmt.duration,
        size=fmt.size,
        pct=fmt.percent,
        rate=fmt.rate,
        urlq=lambda v: quote(str(v), safe=""),
    )
    env.globals.update(age=fmt.age, urlencode=urlencode, DASH=fmt.DASH)
    return env


class DashboardApp:
    """``DashboardApp(source)`` is a WSGI callable. ``read_only`` hides every control and
    refuses every POST."""

    def __init__(self, source: DashboardSource, *, read_only: bool = False) -> None:
        self.source = source
        self.read_only = read_only
        self.csrf = secrets.token_urlsafe(32)
        self.env = _environment()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        response = self.handle(request)
        start_response(response.status_line, response.all_headers())
        return [response.body] if request.method != "HEAD" else [b""]

    # -- dispatch -----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if not is_loopback_host(request.headers.get("host")):
            return Response(403, b"the dashboard answers on loopback names only")
        if request.path.startswith("/static/"):
            return self._static(request.path.removeprefix("/static/"))
        if request.path == "/healthz":
            return Response(200, b"ok", "text/plain")
        if request.method == "POST":
            return self._action(request)
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed", "text/plain")
        if request.path == "/tasks" and request.query.get("id"):
            return redirect("/tasks/" + quote(request.query["id"].strip(), safe=""))
        for pattern, handler, section in _ROUTES:
            match = pattern.match(request.path)
            if match:
                return self._page(request, handler, section, match.groupdict())
        return self._error(request, 404, "Not found", f"no page at {request.path}", "")

    def _page(
        self, request: Request, handler: Callable[..., pages.Page], section: str, args: Any
    ) -> Response:
        try:
            template, context = handler(self.source, request, **args)
        except TaskNotFound as exc:
            return self._error(request, 404, "Task not found", str(exc), section)
        except LookupError as exc:
            return self._error(request, 404, "Not found", str(exc).strip("'\""), section)
        except ConveyorError as exc:
            return self._error(request, 400, type(exc).__name__, str(exc), section)
        except Exception as exc:
            return self._failure(request, exc, section)
        if not request.htmx:
            context = {"body": template, "live": LIVE.get(template), **context}
            template = "page.html"
        context.setdefault("live", None)
        context.setdefault("head", None)
        return self._render(request, template, section, context)

    def _action(self, request: Request) -> Response:
        back = safe_back(request.form.get("back"))
        if self.read_only:
            return self._error(request, 403, "Read-only", "this dashboard is read-only", "")
        if not csrf_ok(request, self.csrf):
            return self._error(
                request, 403, "Refused", "missing or wrong CSRF token: reload the page", ""
            )
        action = _ACTIONS.get(request.path)
        if action is None:
            return self._error(request, 404, "Not found", f"no action {request.path}", "")
        try:
            message, ok = action(self.source, request.form), "1"
        except ConveyorError as exc:
            message, ok = f"{type(exc).__name__}: {exc}", "0"
        except Exception as exc:
            message, ok = f"failed: {describe_error(exc)}", "0"
        self.source.forget()
        sep = "&" if "?" in back else "?"
        return redirect(f"{back}{sep}{urlencode({'flash': message, 'ok': ok})}")

    # -- rendering ----------------------------------------------------------------------

    def _render(
        self,
        request: Request,
        template: str,
        section: str,
        context: dict[str, Any],
        status: int = 200,
    ) -> Response:
        body = self.env.get_template(template).render(
            section=section,
            csrf=self.csrf,
            read_only=self.read_only,
            here=request.full_path,
            here_path=request.path,
            flash=request.query.get("flash"),
            flash_ok=request.query.get("ok", "1") == "1",
            **context,
        )
        return Response(status, body.encode())

    def _error(
        self, request: Request, status: int, title: str, message: str, section: str
    ) -> Response:
        context = {
            "title": title,
            "message": message,
            "body": "error.html",
            "live": None,
            "head": None,
        }
        try:
            template = "error.html" if request.htmx else "page.html"
            return self._render(request, template, section, context, status)
        except Exception:  # the layout itself failed: still say what happened
            from html import escape

            text = f"<h1>{escape(title)}</h1><p>{escape(message)}</p>"
            return Response(status, text.encode())

    def _failure(self, request: Request, exc: Exception, section: str) -> Response:
        aws = hasattr(exc, "response") or type(exc).__module__.startswith("botocore")
        title = "AWS request failed" if aws else "Something went wrong"
        return self._error(request, 502 if aws else 500, title, describe_error(exc), section)

    def _static(self, name: str) -> Response:
        if name not in STATIC_FILES:
            return Response(404, b"not found", "text/plain")
        data = resources.files("conveyor.dashboard").joinpath("static", name).read_bytes()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(200, data, kind, cache="max-age=3600")
