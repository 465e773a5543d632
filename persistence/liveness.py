"""A pooled PostgreSQL connection is pinged at checkout only after it sat idle in the pool.

``pool_pre_ping`` costs a round trip at every checkout, and a worker's thread checks a
connection out several times per order: almost every ping tested a connection that was in use
a few milliseconds before. Here a connection is pinged only when it comes back after more than
``IDLE_PING_S`` in the pool (the idle connections a restarted server, a proxy or a firewall may
have dropped); a connection dropped within that window fails at its next statement, like any
statement when the server goes away, and the store's ride-through tries again on a fresh one.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

IDLE_PING_S = 1.0
_CHECKED_IN = "tradefsm_checked_in"  # monotonic time the connection went back to the pool


def ping_when_idle(engine: Engine) -> None:
    """Ping the engine's connections at checkout when idle longer than ``IDLE_PING_S``; a
    failed ping replaces the connection (the pool tries a new one), as ``pool_pre_ping`` does."""
    dialect = engine.dialect

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)  # none for a connection opened just now
        if since is None or time.monotonic() - since <= IDLE_PING_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"the server dropped an idle connection: {exc}") from exc

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)
