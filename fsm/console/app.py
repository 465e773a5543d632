"""The read-only web console: Starlette pages over the library's read models.

Every route is a GET (but the token login form), every value goes through Jinja2's
autoescaping, and every response carries a Content-Security-Policy that allows no script,
no inline style and no foreign resource. The database is opened read-only by the caller
(``fsm.cli.open_reader``); this module only reads through the ``RunStore`` and
``AuditQueries`` ports, as the CLI and the export do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fsm import display
from fsm.audit import TIMING_COLUMNS, UNANCHORED, AuditFilter, AuditQueries
from fsm.clock import Clock, SystemClock
from fsm.console import downloads, drivers, inputs, liveness, params, queue
from fsm.console.signin import SESSION_COOKIE, SignIn
from fsm.diagram import Caption, DiagramFormat, render
from fsm.errors import RunNotFound, TradeFsmError
from fsm.halts import in_force
from fsm.keyregistry import ApproverKeys
from fsm.machines.names import TradingState as S
from fsm.metrics import MetricsSource, RunsCollector, metrics_registry
from fsm.ports import RunFilter, RunStore
from fsm.runids import resolve_run_id
from fsm.views import run_details, run_diagram

HERE = Path(__file__).parent
PAGE_SIZE = 50
# Verifying every run reads every ledger row (`audit verify` takes ~14 s at 1M rows): above
# this many runs (about 6 rows each) the page refuses and names the command instead.
VERIFY_RUNS_LIMIT = 1000
REFRESH_EVERY = 30  # seconds: the run page's auto-refresh link
DRAWINGS_KEPT = 256  # SVG diagrams kept drawn (a few kB each)
# Time in state reads every ledger row of its window: by default yesterday and today (UTC).
TIME_IN_STATE_DAYS = timedelta(days=1)
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
                 anchors: Any = None, approvers: ApproverKeys | None = None,
                 signin: SignIn | None = None, clock: Clock | None = None,
                 database: str = "", metrics: MetricsSource | None = None) -> None:  # fmt: skip
        self.store, self.audit, self.anchors = store, audit, anchors
        self.clock = clock or SystemClock()
        self.about = {"database": database, "version": metadata.version("tradefsm")}
        self.signin = signin or SignIn(token)
        self.approvers = approvers  # the key registry: approval signatures verified again
        self.drawings: dict[tuple[str, str, int], bytes] = {}  # drawn SVGs, the newest last
        self.metrics = (
            None if metrics is None else metrics_registry(RunsCollector(metrics, store, self.clock))
        )
        self.jinja = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"], default=True),
        )
        self.jinja.globals.update(display=display, urlencode=urlencode, ending=params.ending)
        self.jinja.filters.update(combine_page=lambda f, page: {**f, "page": page},
                                  with_csv=lambda f: {**f, "format": "csv"})  # fmt: skip

    def app(self) -> Starlette:
        get = [
            Route("/", self.runs), Route("/runs/{run_id}", self.run),
            Route("/runs/{run_id}/diagram.svg", self.diagram),
            Route("/runs/{run_id}/export.json", self.export),
            Route("/runs/{run_id}/evidence.zip", self.evidence),
            Route("/approvals", self.approvals), Route("/refused", self.refused),
            Route("/time-in-state", self.time_in_state), Route("/verify", self.verify),
            Route("/login", self.login_form), Route("/metrics", self.scrape),
        ]  # fmt: skip
        routes = [
            *get,
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
        session = Middleware(SessionMiddleware, secret_key=self.signin.secret,
                             session_cookie=SESSION_COOKIE, max_age=self.signin.max_age,
                             same_site="strict")  # fmt: skip
        return Starlette(routes=routes, exception_handlers={HTTPException: self._http_error},
                         middleware=[session, Middleware(BaseHTTPMiddleware,
                                                         dispatch=self._guard)])  # fmt: skip

    # ---- pages ----------------------------------------------------------------------------

    async def runs(self, request: Request) -> Response:
        q = request.query_params
        page = params.page(q)
        if params.choice(q, "format", params.FORMATS):  # every run the filters find
            query = params.run_filter(q, limit=downloads.RUNS_CSV_LIMIT)
            runs = (r.model_dump(mode="json") for r in self.store.list_runs(query))
            return downloads.runs_csv(runs, SECURITY_HEADERS)
        query = params.run_filter(q, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        records, now = self.store.list_runs(query), self.clock.now()
        found = [r.model_dump(mode="json") | {"stuck": liveness.stuck(r, now),
                                               "stranded": liveness.stranded(r)}
                 for r in records]  # fmt: skip
        counts = self.store.count_runs(query)
        if query.search and sum(counts.values()) == 1:  # one match: straight to the run
            return RedirectResponse(f"/runs/{found[0]['run_id']}", status_code=303)
        return self._page("runs.html", request, runs=found[:PAGE_SIZE], page=page,
                          more=len(found) > PAGE_SIZE, counts=counts, filters=dict(q),
                          failures=params.failure_values(),
                          csv_limit=downloads.RUNS_CSV_LIMIT)  # fmt: skip

    async def run(self, request: Request) -> Response:
        run_id = self._run_id(request)
        details = run_details(self.store, run_id, self.approvers)
        report = self.audit.verify(run_id, self.anchors)
        history: dict[str, list[Any]] = {}
        for event in self.store.intent_events(run_id):
            history.setdefault(event.client_order_id, []).append(event)
        record = self.store.get_run(run_id)
        stuck = liveness.why_stuck(record, self.clock.now())
        refresh = params.refresh(request.query_params)  # checked even when the run has ended
        return self._page("run.html", request, d=details, run=details["run"], history=history,
                          inputs=inputs.by_symbol(details),
                          verification=report, unanchored=UNANCHORED, stuck=stuck,
                          stranded=liveness.stranded(record), current=liveness.CURRENT,
                          lineage=liveness.lineage(self.store, record),
                          drivers=drivers.story(details, stuck), refresh_every=REFRESH_EVERY,
                          reload=refresh if record.status.value == "active" else None)  # fmt: skip

    async def diagram(self, request: Request) -> Response:
        run_id = self._run_id(request)
        canonical, definition_hash, trace = run_diagram(self.store, run_id)
        key = (definition_hash, run_id, trace.head)  # a run's drawing changes with its head only
        svg = self.drawings.get(key)
        if svg is None:  # Graphviz runs once per definition and run head, not per view
            caption = Caption(definition_hash, self.clock.now(), run_id)
            svg = render(DiagramFormat.SVG, canonical, definition_hash, trace, caption)
            while len(self.drawings) >= DRAWINGS_KEPT:
                del self.drawings[next(iter(self.drawings))]  # the oldest first
            self.drawings[key] = svg
        return Response(svg, media_type="image/svg+xml", headers=SECURITY_HEADERS)

    async def export(self, request: Request) -> Response:
        return downloads.export(self.audit, self.store, self._run_id(request), SECURITY_HEADERS)

    async def evidence(self, request: Request) -> Response:
        return downloads.evidence(self.audit, self._run_id(request), SECURITY_HEADERS)

    async def approvals(self, request: Request) -> Response:
        q = request.query_params
        query = params.run_filter(q, state=S.AWAITING_APPROVAL, limit=200)
        now = self.clock.now()
        shown = [queue.waiting_run(run_details(self.store, r.run_id), now)
                 for r in self.store.list_runs(query)]  # fmt: skip
        return self._page("approvals.html", request, waiting=queue.in_queue_order(shown),
                          filters=dict(q))  # fmt: skip

    async def refused(self, request: Request) -> Response:
        q = request.query_params
        rows = self.audit.rejected(
            AuditFilter(
                account_id=q.get("account") or None,
                since=params.day(q, "since"),
                until=params.day(q, "until", end=True),
                limit=1000,
            )
        )
        columns = ("occurred_at", "run_id", "seq", "event", "source", "guard", "reason", "actor")
        if params.choice(q, "format", params.FORMATS):
            return downloads.csv(rows, columns, "refused-transitions.csv", SECURITY_HEADERS)
        return self._page("refused.html", request, rows=rows, filters=dict(q))

    async def time_in_state(self, request: Request) -> Response:
        filters, now = dict(request.query_params), self.clock.now()
        if not (filters.get("since") or filters.get("until")):  # a window the page reads fast
            filters["since"] = (now - TIME_IN_STATE_DAYS).date().isoformat()
        window = params.day(filters, "since"), params.day(filters, "until", end=True)
        rows = [asdict(t) for t in self.audit.time_in_state(*window, now)]
        if params.choice(filters, "format", params.FORMATS):
            return downloads.csv(rows, TIMING_COLUMNS, "time-in-state.csv", SECURITY_HEADERS)
        return self._page("time.html", request, rows=rows, filters=filters)

    async def verify(self, request: Request) -> Response:
        """`audit verify` inside the request, for one run or a history small enough to read
        in well under a second; a bigger one is refused with the command that checks it."""
        prefix = request.query_params.get("run") or None
        run_id = resolve_run_id(self.store.run_ids_starting, prefix) if prefix else None
        runs = None if prefix else sum(self.store.count_runs(RunFilter(limit=1)).values())
        too_big = runs is not None and runs > VERIFY_RUNS_LIMIT
        go = "go" in request.query_params and not too_big
        report = self.audit.verify(run_id, self.anchors) if go else None
        return self._page("verify.html", request, report=report, run=prefix or "",
                          unanchored=UNANCHORED, runs=runs, too_big=too_big,
                          limit=VERIFY_RUNS_LIMIT, anchored=self.anchors is not None)  # fmt: skip

    async def scrape(self, request: Request) -> Response:
        """Prometheus metrics, read from the database now (behind the sign-in, as every page:
        a scraper sends the token as a Bearer credential)."""
        if self.metrics is None:
            raise HTTPException(404, "this console serves no metrics")
        return Response(generate_latest(self.metrics), media_type=CONTENT_TYPE_LATEST)

    # ---- signing in ---------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return self._page("login.html", request, failed=False)

    async def login(self, request: Request) -> Response:
        address = _address(request)
        wait = self.signin.failures.retry_after(address)
        if wait:
            return self._too_many(request, wait)
        form = parse_qs((await request.body()).decode(errors="replace"))
        if not self.signin.accepts((form.get("token") or [""])[0]):
            self.signin.failures.failed(address)
            return self._page("login.html", request, failed=True, status=401)
        self.signin.sign_in(request.session)
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        self.signin.sign_out(request.session)
        return RedirectResponse("/login", status_code=303)

    async def _guard(self, request: Request, call_next: Handler) -> Response:
        request.state.started = time.perf_counter()
        try:
            response = await self._answer(request, call_next)
        except RunNotFound as exc:
            response = self._error(request, exc.message, 404)
        except TradeFsmError as exc:
            response = self._error(request, exc.message, 400)
        except Exception:  # a page, with the headers, rather than a bare 500; logged
            logging.getLogger(__name__).exception("console page %s failed", request.url.path)
            response = self._error(request, "the console failed to answer this page", 500)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def _answer(self, request: Request, call_next: Handler) -> Response:
        path = request.url.path
        if path in ("/login", "/logout") or path.startswith("/static/"):
            return await call_next(request)
        address = _address(request)
        wait = self.signin.failures.retry_after(address)
        verdict = self.signin.check(request.headers.get("authorization"), request.session)
        if verdict == "refused":
            if wait:
                return self._too_many(request, wait)
            self.signin.failures.failed(address)
            return self._error(request, "the Authorization header is not `Bearer` and the "
                               "console's token", 401, {"WWW-Authenticate": 'Bearer '
                               'realm="tradefsm console", error="invalid_token"'})  # fmt: skip
        if verdict == "anonymous":
            return RedirectResponse("/login", status_code=303)
        return await call_next(request)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return self._error(request, exc.detail, exc.status_code, exc.headers)

    def _too_many(self, request: Request, wait: int) -> Response:
        return self._error(request, f"too many failed sign-ins from {_address(request)}: try "
                           f"again in {wait} s", 429, {"Retry-After": str(wait)})  # fmt: skip

    def _error(self, request: Request, message: str, status: int,
               headers: Mapping[str, str] | None = None) -> Response:  # fmt: skip
        response = self._page(
            "error.html", request, message=message, status=status, error_status=status
        )
        response.headers.update(headers or {})
        return response

    # ---- helpers --------------------------------------------------------------------------

    def _run_id(self, request: Request) -> str:
        return resolve_run_id(self.store.run_ids_starting, request.path_params["run_id"])

    def _page(self, name: str, request: Request, status: int = 200, **context: Any) -> Response:
        halted = [h.said() for h in in_force(self.store.halts())]  # on every page, on top
        started = getattr(request.state, "started", None)
        took = None if started is None else (time.perf_counter() - started) * 1000
        html = self.jinja.get_template(name).render(request=request, halted=halted,
                                                    now=self.clock.now(), about=self.about,
                                                    took=took, **context)  # fmt: skip
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
