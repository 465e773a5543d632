"""Which database faults are transient, and how a write rides through them."""

from __future__ import annotations

import sqlite3
import string

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import exc as sa_exc

from fsm.errors import (
    ConcurrentModification,
    DatabaseUnavailable,
    StorageError,
)
from persistence.errors import TRANSIENT_SQLSTATES, is_transient, translate
from persistence.ridethrough import RideThrough


def _pg(sqlstate: str, message: str = "boom") -> sa_exc.DBAPIError:
    orig = psycopg.errors.lookup(sqlstate)(message)
    return sa_exc.DBAPIError.instance("SELECT 1", None, orig, psycopg.Error)


def _sqlite(message: str, kind: type[Exception] = sqlite3.OperationalError) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError.instance("SELECT 1", None, kind(message), sqlite3.Error)


@pytest.mark.parametrize(
    ("sqlstate", "why"),
    [("57P01", "admin shutdown / pg_terminate_backend"), ("57014", "statement timeout"),
     ("40001", "serialization failure"), ("40P01", "deadlock"), ("08006", "connection failure"),
     ("57P03", "server starting up"), ("55P03", "lock not available")],
)  # fmt: skip
def test_postgres_faults_a_retry_may_outlive(sqlstate: str, why: str) -> None:
    error = translate(_pg(sqlstate), "run_1")
    assert isinstance(error, DatabaseUnavailable), why
    assert error.run_id == "run_1"


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [("23505", ConcurrentModification), ("42P01", StorageError), ("22P02", StorageError),
     ("28P01", StorageError)],
)  # fmt: skip
def test_postgres_faults_no_retry_fixes(sqlstate: str, expected: type[Exception]) -> None:
    error = translate(_pg(sqlstate))
    assert type(error) is expected


@given(st.text(alphabet=string.digits + "ABCDEFP", min_size=5, max_size=5))
def test_every_sqlstate_is_classified_by_the_policy(sqlstate: str) -> None:
    orig = psycopg.OperationalError("x")
    orig.sqlstate = sqlstate  # type: ignore[misc]
    wrapped = sa_exc.OperationalError("SELECT 1", None, orig)
    expected = sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith("08")
    assert is_transient(wrapped) is expected


def test_a_connection_that_never_opens_is_transient_unless_refused_for_good() -> None:
    refused = psycopg.OperationalError("connection failed: Connection refused")
    login = psycopg.OperationalError('password authentication failed for user "x"')
    assert is_transient(sa_exc.OperationalError(None, None, refused))
    assert not is_transient(sa_exc.OperationalError(None, None, login))


def test_sqlite_busy_is_transient_and_a_missing_table_is_not() -> None:
    assert isinstance(translate(_sqlite("database is locked")), DatabaseUnavailable)
    missing = translate(_sqlite("no such table: runs"))
    assert type(missing) is StorageError
    assert "no such table" in missing.message
    read_only = translate(_sqlite("attempt to write a readonly database"))
    assert type(read_only) is StorageError


class Flaky:
    """Fails ``failures`` times with a transient fault, then succeeds; counts its calls."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures, self.calls = failures, 0
        self.error = error or DatabaseUnavailable("connection refused")

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def _ride(budget: float = 5) -> RideThrough:
    return RideThrough(budget_seconds=budget, sleep=lambda _s: None)


def test_a_transient_fault_is_retried_until_it_clears() -> None:
    flaky = Flaky(3)
    assert _ride().call("transition commit", flaky) == "ok"
    assert flaky.calls == 4


def test_a_permanent_fault_is_not_retried() -> None:
    flaky = Flaky(1, StorageError("no such table: runs"))
    with pytest.raises(StorageError, match="no such table"):
        _ride().call("transition commit", flaky)
    assert flaky.calls == 1


def test_past_the_budget_the_fault_is_raised_naming_the_setting() -> None:
    flaky = Flaky(10**9)
    with pytest.raises(DatabaseUnavailable, match="TRADEFSM_DB_RETRY_SECONDS"):
        RideThrough(budget_seconds=0.05).call("attempt record", flaky)
    assert flaky.calls > 1


def test_a_write_that_committed_before_its_answer_was_lost_is_not_written_again() -> None:
    written: list[str] = []

    def write() -> None:
        written.append("row")
        if len(written) == 1:
            raise DatabaseUnavailable("server closed the connection unexpectedly")

    _ride().write("order intents", write, settled=lambda: bool(written))
    assert written == ["row"]


def test_a_write_that_did_not_commit_is_tried_again() -> None:
    stored: list[str] = []
    flaky = Flaky(2)
    _ride().write("order intents", lambda: stored.append(flaky()), settled=lambda: bool(stored))
    assert stored == ["ok"]
    assert flaky.calls == 3
