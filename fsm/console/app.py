"""The read-only web console: Starlette pages over the library's read models.

Every route is a GET (but the token login form), every value goes through Jinja2's
autoescaping, and every response carries a Content-Security-Policy that allows no script,
no inline style and no foreign resource. The database is opened read-only by the caller
(``fsm.cli.open_reader``); this module only reads through the ``RunStore`` and
``AuditQueries`` ports, as the CLI and the export do.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fsm import display
from fsm.audit import UNANCHORED, AuditFilter, AuditQueries
from fsm.csvcells import csv_text
from fsm.diagram import DiagramFormat, render
from fsm.errors import RunNotFound, TradeFsmError
from fsm.halts import in_force
from fsm.keyregistry import ApproverKeys
from fsm.ports import RunFilter, RunStore
from fsm.runids import resolve_run_id
from fsm.views import run_details, run_diagram

HERE = Path(__file__).parent
PAGE_SIZE = 50
COOKIE = "tradefsm_console"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[Request], Awaitable[Response]]


class Console:
    """The pages, over one store and its audit queries; ``token`` guards every page."""

    def __init__(self, store: RunStore, audit: AuditQueries, token: str | None = None,
                 anchors: Any = None, approvers: ApproverKeys | None = None) -> None:  # fmt: skip
        self.store, self.audit, self.token, self.anchors = store, audit, token, anchors
        self.approvers = approvers  # the key registry: approval signatures verified again
        self.jinja = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"], default=True),
        )
        self.jinja.globals.update(display=display, urlencode=urlencode)
        self.jinja.filters.update(combine_page=lambda f, page: {**f, "page": page},
                                  with_csv=lambda f: {**f, "format": "csv"})  # fmt: skip

    def app(self) -> Starlette:
        get = [
            Route("/", self.runs), Route("/runs/{run_id}", self.run),
            Route("/runs/{run_id}/diagram.svg", self.diagram),
            Route("/approvals", self.approvals), Route("/refused", self.refused),
            Route("/time-in-state", self.time_in_state), Route("/verify", self.verify),
            Route("/login", self.login_form),
        ]  # fmt: skip
        routes = [
            *get,
            Route("/login", self.login, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
        return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware,
                                                               dispatch=self._guard)])  # fmt: skip

    # ---- pages ----------------------------------------------------------------------------

    async def runs(self, request: Request) -> Response:
        q = request.query_params
        page = max(1, int(q.get("page", "1") or 1))
        query = RunFilter(
            account_id=q.get("account") or None, state=q.get("state") or None,
            status=q.get("status") or None, mode=q.get("mode") or None,
            since=_day(q.get("since")), until=_day(q.get("until")),
            limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE,
        )  # fmt: skip
        found = [r.model_dump(mode="json") for r in self.store.list_runs(query)]
        return self._page("runs.html", request, runs=found[:PAGE_SIZE], page=page,
                          more=len(found) > PAGE_SIZE, counts=self.store.count_runs(query),
                          filters=dict(q))  # fmt: skip

    async def run(self, request: Request) -> Response:
        run_id = self._run_id(request)
        details = run_details(self.store, run_id, self.approvers)
        report = self.audit.verify(run_id, self.anchors)
        history: dict[str, list[Any]] = {}
        for event in self.store.intent_events(run_id):
            history.setdefault(event.client_order_id, []).append(event)
        return self._page("run.html", request, d=details, run=details["run"], history=history,
                          verification=report, unanchored=UNANCHORED)  # fmt: skip

    async def diagram(self, request: Request) -> Response:
        canonical, definition_hash, path = run_diagram(self.store, self._run_id(request))
        svg = render(DiagramFormat.SVG, canonical, definition_hash, path)
        return Response(svg, media_type="image/svg+xml", headers=SECURITY_HEADERS)

    async def approvals(self, request: Request) -> Response:
        waiting = self.store.list_runs(RunFilter(state="awaiting_approval", limit=200))
        shown = [run_details(self.store, r.run_id) for r in waiting]
        return self._page("approvals.html", request, waiting=shown)

    async def refused(self, request: Request) -> Response:
        q = request.query_params
        rows = self.audit.rejected(
            AuditFilter(
                account_id=q.get("account") or None,
                since=_day(q.get("since")),
                until=_day(q.get("until")),
                limit=1000,
            )
        )
        columns = ("occurred_at", "run_id", "seq", "event", "source", "guard", "reason", "actor")
        if q.get("format") == "csv":
            return _csv(rows, columns, "refused-transitions.csv")
        return self._page("refused.html", request, rows=rows, filters=dict(q))

    async def time_in_state(self, request: Request) -> Response:
        q = request.query_params
        rows = [
            asdict(t) for t in self.audit.time_in_state(_day(q.get("since")), _day(q.get("until")))
        ]
        if q.get("format") == "csv":
            return _csv(rows, ("state", "count", "p50_ms", "p95_ms", "max_ms"),
                        "time-in-state.csv")  # fmt: skip
        return self._page("time.html", request, rows=rows, filters=dict(q))

    async def verify(self, request: Request) -> Response:
        prefix = request.query_params.get("run") or None
        run_id = resolve_run_id(self.store.run_ids_starting, prefix) if prefix else None
        report = self.audit.verify(run_id, self.anchors) if "go" in request.query_params else None
        return self._page("verify.html", request, report=report, run=prefix or "",
                          unanchored=UNANCHORED)  # fmt: skip

    # ---- the token ------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return self._page("login.html", request, failed=False)

    async def login(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode(errors="replace"))
        given = (form.get("token") or [""])[0]
        if self.token is None or not hmac.compare_digest(given, self.token):
            return self._page("login.html", request, failed=True, status=401)
        response = RedirectResponse("/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(COOKIE, self._signed(), httponly=True, samesite="strict")
        return response

    def _signed(self) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), b"tradefsm-console", "sha256").hexdigest()

    def _allowed(self, request: Request) -> bool:
        if self.token is None:
            return True
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(bearer, self.token) or hmac.compare_digest(
            cookie, self._signed()
        )

    async def _guard(self, request: Request, call_next: Handler) -> Response:
        public = request.url.path in ("/login",) or request.url.path.startswith("/static/")
        if not public and not self._allowed(request):
            return RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
        try:
            response = await call_next(request)
        except RunNotFound as exc:
            response = self._page("error.html", request, message=exc.message, status=404)
        except TradeFsmError as exc:
            response = self._page("error.html", request, message=exc.message, status=400)
        response.headers.update(SECURITY_HEADERS)
        return response

    # ---- helpers --------------------------------------------------------------------------

    def _run_id(self, request: Request) -> str:
        return resolve_run_id(self.store.run_ids_starting, request.path_params["run_id"])

    def _page(self, name: str, request: Request, status: int = 200, **context: Any) -> Response:
        halted = [h.said() for h in in_force(self.store.halts())]  # on every page, on top
        html = self.jinja.get_template(name).render(request=request, halted=halted, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _day(value: str | None) -> datetime | None:
    """A filter date (YYYY-MM-DD, UTC midnight); anything else is ignored, not an error."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...], filename: str) -> Response:
    return Response(csv_text(rows, columns), media_type="text/csv", headers=SECURITY_HEADERS | {
        "Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip
