"""Who may see the console: the token, as a bearer credential or a signed, expiring session.

A script sends ``Authorization: Bearer TOKEN`` (RFC 6750, section 2.1: the scheme is
case-insensitive; a header without it is refused). A person signs in with the form; the
console then keeps a session cookie that Starlette's ``SessionMiddleware`` signs with
itsdangerous and that expires after ``SESSION_MAX_AGE`` seconds; signing out clears it and
revokes its id. Failed sign-ins (form or header) are counted per client address: after
``FAILED_LIMIT`` failures within ``FAILED_WINDOW`` seconds the address is refused (429) until
the oldest of them leaves the window. Everything is kept in memory: restarting the console
signs everyone out and forgets the counts.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

SESSION_COOKIE = "tradefsm_console"
SESSION_MAX_AGE = 8 * 3600  # a working day, in seconds
FAILED_LIMIT = 5  # failed sign-ins per client address ...
FAILED_WINDOW = 300  # ... within this many seconds
# RFC 6750, section 2.1: credentials = "Bearer" 1*SP b64token
_BEARER = re.compile(r"([^ ]+) +([A-Za-z0-9\-._~+/]+=*)")

Verdict = Literal["signed-in", "anonymous", "refused"]


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization`` header of the Bearer scheme (any case), or None when
    the header has another scheme, no scheme, or a credential that is not a b64token."""
    match = _BEARER.fullmatch(header.strip())
    if match is None or match.group(1).lower() != "bearer":
        return None
    return match.group(2)


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of any text (``hmac.compare_digest`` refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


@dataclass
class FailedSignIns:
    """Failed sign-ins per client address within a sliding window (``clock`` in seconds)."""

    limit: int = FAILED_LIMIT
    window: float = FAILED_WINDOW
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        now = self.clock()
        failures = self._failures.get(address)
        if failures is None:
            return 0
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0
        return 0 if len(failures) < self.limit else int(failures[0] + self.window - now) + 1

    def failed(self, address: str) -> None:
        self._failures.setdefault(address, deque()).append(self.clock())


@dataclass
class SignIn:
    """The console's token (None: no sign-in) and the sessions it has signed out."""

    token: str | None
    failures: FailedSignIns = field(default_factory=FailedSignIns)
    max_age: int = SESSION_MAX_AGE
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _revoked: dict[str, float] = field(default_factory=dict)  # session id -> when

    def check(self, authorization: str | None, session: dict[str, object]) -> Verdict:
        """Whether a request is signed in: by its header if it has one, else its session."""
        if self.token is None:
            return "signed-in"
        if authorization is not None:
            given = bearer_token(authorization)
            return "signed-in" if given and same_secret(given, self.token) else "refused"
        sid = session.get("sid")
        return "signed-in" if isinstance(sid, str) and sid not in self._revoked else "anonymous"

    def accepts(self, given: str) -> bool:
        return self.token is not None and same_secret(given, self.token)

    def sign_in(self, session: dict[str, object]) -> None:
        session.clear()
        session["sid"] = secrets.token_urlsafe(16)

    def sign_out(self, session: dict[str, object]) -> None:
        sid = session.get("sid")
        now = self.failures.clock()
        self._revoked = {s: t for s, t in self._revoked.items() if t > now - self.max_age}
        if isinstance(sid, str):
            self._revoked[sid] = now  # a copy of the cookie stops working too
        session.clear()
