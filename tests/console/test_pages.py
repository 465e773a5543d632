"""Every console page over real runs: content, filters, escaping, CSV, read-only, the token."""

from __future__ import annotations

import re
import socket
from importlib import metadata
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fsm.adapters.paper_broker import PaperBroker
from fsm.cancels import request_cancel
from fsm.clock import FixedClock
from fsm.ids import SequentialIdFactory
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine, shown_url
from persistence.store import SqlRunStore
from tests.cli.conftest import Cli, one_line_error
from tests.conftest import TRADING_DAY, make_engine_for
from tests.console.conftest import MARKUP, Runs, console_for


@pytest.fixture(scope="module")
def client(runs: Runs) -> TestClient:
    return TestClient(console_for(runs.url).app())


def test_runs_page_lists_newest_first_with_counts(client: TestClient, runs: Runs) -> None:
    page = client.get("/")
    assert page.status_code == 200
    ids = [runs.tampered, runs.cancelled, runs.waiting, runs.refused, runs.done]
    positions = [page.text.index(r.run_id[:12]) for r in ids]
    assert positions == sorted(positions)
    assert "done 2" in page.text  # alpha and epsilon
    assert "GuardRejected" in page.text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [("account=beta", "refused", "done"), ("status=done", "done", "refused"),
     ("state=awaiting_approval", "waiting", "done"), ("mode=dry-run", None, "done"),
     ("since=2099-01-01", None, "done"), ("until=2000-01-01", None, "done")],
)  # fmt: skip
def test_runs_filters(
    client: TestClient, runs: Runs, query: str, shown: str | None, hidden: str
) -> None:
    text = client.get(f"/?{query}").text
    if shown:
        assert getattr(runs, shown).run_id[:12] in text
    assert getattr(runs, hidden).run_id[:12] not in text


def test_paging(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fsm.console.app.PAGE_SIZE", 2)
    client = TestClient(console_for(runs.url).app())
    first, second = client.get("/").text, client.get("/?page=2").text
    assert runs.tampered.run_id[:12] in first
    assert "older →" in first
    assert runs.waiting.run_id[:12] in second
    assert runs.tampered.run_id[:12] not in second


def test_run_page_shows_the_ledger_with_guards_inputs_and_orders(
    client: TestClient, runs: Runs
) -> None:
    page = client.get(f"/runs/{runs.done.run_id[:10]}").text
    assert "✓ <b>prices_sane</b>" in page
    assert "max_orders" in page
    assert "limit=" in page
    assert f"/runs/{runs.done.run_id}/diagram.svg" in page
    assert "✓ intact" in page
    assert re.search(r"<li><span class=\"when\">[^<]+</span> pending</li>", page)  # its history
    assert "<th>max_drift</th>" in page  # a checkpoint, rendered as a table


def test_a_refused_transition_is_marked(client: TestClient, runs: Runs) -> None:
    page = client.get(f"/runs/{runs.refused.run_id}").text
    assert 'class="refused"' in page
    assert "✗ <b>max_orders</b>" in page


def test_a_tampered_run_says_so(client: TestClient, runs: Runs) -> None:
    page = client.get(f"/runs/{runs.tampered.run_id}").text
    assert "TAMPERED" in page
    assert "edited" in page
    verdict = client.get("/verify?go=1").text
    assert "TAMPERED: 1 finding(s)" in verdict
    assert f'href="/runs/{runs.tampered.run_id}"' in verdict


def test_the_diagram_is_an_svg_with_the_path_highlighted(client: TestClient, runs: Runs) -> None:
    svg = client.get(f"/runs/{runs.done.run_id}/diagram.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.count('stroke="#b8860b"') >= 5


def test_markup_in_stored_text_is_shown_as_text(client: TestClient, runs: Runs) -> None:
    for path in (f"/runs/{runs.cancelled.run_id}", "/", "/refused"):
        page = client.get(path).text
        assert MARKUP not in page
    assert "&lt;script&gt;" in client.get(f"/runs/{runs.cancelled.run_id}").text


def test_waiting_for_approval_shows_the_plan(client: TestClient, runs: Runs) -> None:
    page = client.get("/approvals").text
    assert runs.waiting.run_id[:12] in page
    assert "tradefsm approve" in page
    assert "BUY" in page  # the plan's items


def test_refused_and_time_in_state_download_as_csv(client: TestClient, runs: Runs) -> None:
    refused = client.get("/refused?format=csv")
    assert refused.headers["content-type"].startswith("text/csv")
    assert refused.text.splitlines()[0] == "occurred_at,run_id,seq,event,source,guard,reason,actor"
    assert runs.refused.run_id in refused.text
    day = runs.done.created_at.date().isoformat()
    timing = client.get(f"/time-in-state?since={day}&format=csv").text.splitlines()
    assert timing[0] == "state,count,still,p50_ms,p95_ms,max_ms,longest_run_id"
    assert any(line.startswith("executing,") for line in timing)


def test_every_response_carries_the_security_headers(client: TestClient, runs: Runs) -> None:
    for path in ("/", f"/runs/{runs.done.run_id}", "/runs/nope", "/static/console.css"):
        response = client.get(path)
        assert "script-src" not in response.headers["content-security-policy"]
        assert "default-src 'none'" in response.headers["content-security-policy"]
    assert client.get("/runs/nope").status_code == 404


def test_no_route_writes(client: TestClient) -> None:
    app = client.app
    methods = {m for route in app.routes for m in getattr(route, "methods", None) or ()}  # type: ignore[attr-defined]
    assert methods <= {"GET", "HEAD", "POST"}
    posts = [r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())]  # type: ignore[attr-defined]
    assert posts == ["/login", "/logout"]  # set and clear the session cookie; write nothing
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/").status_code == 405


def test_a_token_guards_every_page(runs: Runs) -> None:
    client = TestClient(console_for(runs.url, token="s3cret").app(), follow_redirects=False)
    assert client.get("/").status_code == 303
    assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/login", content="token=wrong").status_code == 401
    signed_in = client.post("/login", content="token=s3cret")
    assert signed_in.status_code == 303
    assert client.get("/").status_code == 200  # the signed cookie


def test_off_loopback_the_console_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.upgrade()
    line = one_line_error(cli("console", "--host", "0.0.0.0", code=2))
    assert "TRADEFSM_CONSOLE_TOKEN" in line


def test_a_port_in_use_is_a_one_line_error_naming_the_address(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.upgrade()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(cli("console", "--port", str(port), code=2))
    assert f"cannot listen on http://127.0.0.1:{port}/" in line
    assert "--port" in line


def test_a_pending_cancel_request_and_who_moved_each_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    driving = make_engine_for(store, PaperBroker(tmp_path / "paper.db"), FixedClock(TRADING_DAY),
                              Settings(), ids=SequentialIdFactory("zeta"))  # fmt: skip
    run = driving.create(RunRequest(account_id="zeta"))  # held by this live process
    request_cancel(store, run, "ops-carol", "halt <b>now</b>", "process:ops-box/42", TRADING_DAY)
    engine.dispose()
    page = TestClient(console_for(url).app()).get(f"/runs/{run.run_id}").text
    assert 'id="pending-cancel"' in page
    assert "requested by ops-carol" in page
    assert "halt &lt;b&gt;now&lt;/b&gt;" in page  # stored text shown as text
    assert f'<td class="process">{driving.owner}</td>' in page  # who committed the first row


def test_the_footer_names_the_database_without_its_password(runs: Runs) -> None:
    url = "postgresql+psycopg://reader:hunter2@db.example:5432/runs?password=hunter3"
    assert shown_url(url) == "postgresql+psycopg://reader:***@db.example:5432/runs"
    page = TestClient(console_for(runs.url, database=shown_url(url)).app()).get("/").text
    footer = page[page.index('id="provenance"') :]
    assert "reader:***@db.example:5432/runs" in footer
    assert "hunter" not in page
    assert f"tradefsm {metadata.version('tradefsm')}" in footer
    assert " UTC in " in footer  # when it was rendered, and how long it took
    assert 'name="viewport"' in page
    assert '<a href="/" aria-current="page">Runs</a>' in page


def test_a_drawn_diagram_is_kept_per_definition_and_run_head(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = console_for(runs.url)
    client = TestClient(console.app())
    first = client.get(f"/runs/{runs.done.run_id}/diagram.svg")
    assert f"run {runs.done.run_id} · definition {runs.done.definition_hash}" in first.text
    assert client.get(f"/runs/{runs.done.run_id}/diagram.svg").content == first.content
    assert len(console.drawings) == 1  # Graphviz ran once
    client.get(f"/runs/{runs.refused.run_id}/diagram.svg")
    assert len(console.drawings) == 2  # another run, another drawing
    monkeypatch.setattr("fsm.console.app.DRAWINGS_KEPT", 2)
    client.get(f"/runs/{runs.cancelled.run_id}/diagram.svg")
    assert len(console.drawings) == 2  # the oldest made room


def test_a_refused_run_s_diagram_numbers_its_path_and_draws_the_refusal(
    client: TestClient, runs: Runs
) -> None:
    svg = client.get(f"/runs/{runs.refused.run_id}/diagram.svg").text
    assert "2. start" in svg
    assert "plan_approved refused" in svg
    assert 'stroke="#b3261e" stroke-dasharray' in svg  # the dashed red loop
