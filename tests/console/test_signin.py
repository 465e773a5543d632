"""Signing in: an expiring session cookie, signing out, a limit on failed sign-ins, and the
``Authorization`` header read as RFC 6750 says; no token or cookie gives a 500."""

from __future__ import annotations

import itsdangerous.timed
import pytest
from starlette.testclient import TestClient

from fsm.console.signin import FAILED_LIMIT, FAILED_WINDOW, FailedSignIns, SignIn, bearer_token
from tests.console.conftest import Runs, console_for

TOKEN = "s3cret-Token_1.0~"


class Clock:
    """Seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def signed_in_client(runs: Runs, clock: Clock) -> TestClient:
    signin = SignIn(TOKEN, failures=FailedSignIns(clock=clock))
    console = console_for(runs.url, signin=signin)
    return TestClient(console.app(), follow_redirects=False)


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc==", "abc=="),
     ("abc", None), ("Basic abc", None), ("Bearer", None), ("Bearer a b", None),
     ("Bearer é", None), ("", None)],
)  # fmt: skip
def test_the_authorization_header_is_read_as_rfc_6750_says(header: str, token: str | None) -> None:
    assert bearer_token(header) == token


def test_the_bearer_scheme_in_any_case_signs_in_and_a_bare_token_does_not(
    runs: Runs, clock: Clock
) -> None:
    client = signed_in_client(runs, clock)
    assert client.get("/", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    refused = client.get("/", headers={"Authorization": TOKEN})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer ")
    assert "default-src 'none'" in refused.headers["content-security-policy"]


def test_a_session_expires_after_its_max_age(
    runs: Runs, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in_client(runs, clock)
    signed = client.post("/login", content=f"token={TOKEN}")
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "Max-Age=28800" in cookie
    assert client.get("/").status_code == 200
    now = itsdangerous.timed.time.time()
    later = type("Later", (), {"time": staticmethod(lambda: now + 8 * 3600 + 5)})
    monkeypatch.setattr(itsdangerous.timed, "time", later)  # the signer's clock, 8 h on
    expired = client.get("/")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login"


def test_signing_out_clears_the_session_and_revokes_a_copy_of_it(runs: Runs, clock: Clock) -> None:
    client = signed_in_client(runs, clock)
    client.post("/login", content=f"token={TOKEN}")
    copy = dict(client.cookies)
    page = client.get("/")
    assert 'action="/logout"' in page.text
    out = client.post("/logout")
    assert out.status_code == 303
    assert "tradefsm_console=null" in out.headers["set-cookie"]
    assert client.get("/").status_code == 303
    client.cookies.update(copy)  # someone who kept the cookie
    assert client.get("/").status_code == 303


def test_failed_sign_ins_are_limited_per_address(runs: Runs, clock: Clock) -> None:
    client = signed_in_client(runs, clock)
    for _ in range(FAILED_LIMIT):
        assert client.post("/login", content="token=guess").status_code == 401
    blocked = client.post("/login", content=f"token={TOKEN}")  # even the right one, for now
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) == FAILED_WINDOW + 1
    assert "too many failed sign-ins" in blocked.text
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 429
    clock.now += FAILED_WINDOW
    assert client.post("/login", content=f"token={TOKEN}").status_code == 303


def test_failed_bearer_tokens_count_too(runs: Runs, clock: Clock) -> None:
    client = signed_in_client(runs, clock)
    for _ in range(FAILED_LIMIT):
        assert client.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/login", content=f"token={TOKEN}").status_code == 429


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer jé"}, {"Authorization": "é"},
     {"Cookie": "tradefsm_console=é"}, {"Cookie": "tradefsm_console=a.b.c"}],
)  # fmt: skip
def test_non_ascii_or_forged_credentials_are_refused_not_a_500(
    runs: Runs, clock: Clock, headers: dict[str, str]
) -> None:
    client = signed_in_client(runs, clock)
    response = client.get("/", headers={k: v.encode("utf-8") for k, v in headers.items()})
    assert response.status_code in (303, 401)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    for body in (b"token=%C3%A9", b"token=\xc3\xa9", b"token=\xff"):
        assert client.post("/login", content=body).status_code == 401
