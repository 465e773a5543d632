"""Run reports mailed to a real local SMTP server (aiosmtpd): success with order counts and the
positions after the run, failure with its state, guard and reason, recovered, waiting for
approval with the approve command; a quiet period for identical failures; a server that is
down or refuses the login is retried and nothing is lost."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.delivery import Subscriber, deliver
from fsm.ids import SequentialIdFactory
from fsm.requests import RunRequest
from fsm.settings import Settings
from fsm.smtpsender import SUBSCRIBER, email_of
from persistence.engine import make_engine
from persistence.events import SqlEventLog
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for
from tests.events.histories import resumed_run
from tests.events.mailserver import LOGIN, mail_server
from tests.ports import free_port

FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)
REFUSING = FAST.model_copy(update={"max_order_notional": Decimal(5000)})


class ManualClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def store(migrated_url: str) -> SqlRunStore:
    return SqlRunStore(make_engine(migrated_url))


def _email(store: SqlRunStore, port: int, **settings: object) -> Subscriber:
    given = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False,
             "smtp_from": "tradefsm@example.com", "smtp_to": "ops@example.com, desk@example.com",
             "smtp_attempts": 3, **settings}  # fmt: skip
    subscriber = email_of(Settings(**given), store)  # type: ignore[arg-type]
    assert subscriber is not None
    return subscriber


def _run(store: SqlRunStore, tmp_path: Path, settings: Settings = FAST, name: str = "a",
         at: datetime = TRADING_DAY, account: str = "acct") -> tuple[str, PaperBroker]:  # fmt: skip
    broker = PaperBroker(tmp_path / f"paper-{name}.db")
    engine = make_engine_for(store, broker, FixedClock(at), settings=settings,
                             ids=SequentialIdFactory(name))  # fmt: skip
    return engine.run(RunRequest(account_id=account)).run_id, broker


def test_success_reports_the_order_counts_and_the_positions_after_the_run(
    store: SqlRunStore, tmp_path: Path
) -> None:
    run_id, broker = _run(store, tmp_path)
    orders = store.intents(run_id)
    assert orders  # the demo plan trades
    with mail_server() as (mailbox, port):
        deliver(SqlEventLog(store.engine), _email(store, port), FixedClock(TRADING_DAY))
    assert mailbox.subjects() == [f"tradefsm SUCCESS: run {run_id} (acct, paper)"]
    assert mailbox.recipients == [["ops@example.com", "desk@example.com"]]
    body = mailbox.body()
    assert f"Orders: {len(orders)} placed, {len(orders)} succeeded, 0 did not." in body
    held = {p.symbol: p.qty for p in broker.account().positions if p.qty}
    shown = body.split("Positions after the run:\n")[1].split("\n\n")[0].splitlines()
    assert {line.split()[0]: Decimal(line.split()[1]) for line in shown} == held
    ledger = store.ledger(run_id)
    assert mailbox.messages[0]["Message-ID"] == f"<{run_id}.{ledger[-1].seq}@tradefsm>"


def test_failure_names_the_state_the_guard_and_the_reason(
    store: SqlRunStore, tmp_path: Path
) -> None:
    run_id, _ = _run(store, tmp_path, REFUSING)
    failure = store.get_run(run_id).failure
    assert failure is not None
    with mail_server() as (mailbox, port):
        deliver(SqlEventLog(store.engine), _email(store, port), FixedClock(TRADING_DAY))
    assert mailbox.subjects() == [f"tradefsm FAILURE: run {run_id} (acct, paper)"]
    body = mailbox.body()
    assert "Failed in state: planning\n" in body
    assert "Error: GuardRejected\n" in body
    assert "Guard: order_notional_limit\n" in body
    assert f"Reason: {failure['message']}\n" in body
    assert f"tradefsm retry {run_id}" in body


def test_a_resumed_run_that_ends_done_is_recovered(store: SqlRunStore, tmp_path: Path) -> None:
    run_id, later = resumed_run(store, tmp_path, "acct")
    with mail_server() as (mailbox, port):
        deliver(SqlEventLog(store.engine), _email(store, port), later)
    assert mailbox.subjects() == [f"tradefsm RECOVERED: run {run_id} (acct, paper)"]
    assert "resumed by another process" in mailbox.body()


def test_waiting_for_approval_gives_the_approve_command(store: SqlRunStore, tmp_path: Path) -> None:
    waiting = FAST.model_copy(update={"approval_notional": Decimal(1)})
    run_id, _ = _run(store, tmp_path, waiting)
    assert store.get_run(run_id).state == "awaiting_approval"
    with mail_server() as (mailbox, port):
        deliver(SqlEventLog(store.engine), _email(store, port), FixedClock(TRADING_DAY))
    assert mailbox.subjects() == [f"tradefsm WAITING FOR APPROVAL: run {run_id} (acct, paper)"]
    assert f"tradefsm approve {run_id} --actor NAME --reason TEXT" in mailbox.body()


def test_identical_failures_within_the_quiet_period_are_mailed_once(
    store: SqlRunStore, tmp_path: Path
) -> None:
    later = TRADING_DAY + timedelta(minutes=61)
    first, _ = _run(store, tmp_path, REFUSING, "a")
    second, _ = _run(store, tmp_path, REFUSING, "b", TRADING_DAY + timedelta(minutes=5))
    third, _ = _run(store, tmp_path, REFUSING, "c", later + timedelta(minutes=5))
    elsewhere, _ = _run(store, tmp_path, REFUSING, "d", account="other")
    log = SqlEventLog(store.engine)
    with mail_server() as (mailbox, port):
        deliver(log, _email(store, port, smtp_quiet_minutes=60), FixedClock(later))
        mailed = [s.split()[3] for s in mailbox.subjects()]
        assert mailed == [first, third, elsewhere]  # in commit order; the second kept quiet
        log.rewind(SUBSCRIBER, None, later)
        deliver(log, _email(store, port, smtp_quiet_minutes=0), FixedClock(later))
        assert [s.split()[3] for s in mailbox.subjects()[3:]] == [first, second, third, elsewhere]


def test_a_server_that_is_down_is_retried_and_nothing_is_lost(
    store: SqlRunStore, tmp_path: Path
) -> None:
    run_id, _ = _run(store, tmp_path, REFUSING)
    log, clock, port = SqlEventLog(store.engine), ManualClock(TRADING_DAY), free_port()
    last = len(store.ledger(run_id))
    down = deliver(log, _email(store, port), clock)
    assert (down.attempts, down.dead) == (1, False)
    assert down.position == log.position_of(run_id, last - 1)  # rows with no report: passed
    assert f"email via 127.0.0.1:{port} was not sent" in (down.last_error or "")
    clock.at += timedelta(seconds=1)
    with mail_server(port) as (mailbox, _):
        up = deliver(log, _email(store, port), clock)
    assert mailbox.subjects() == [f"tradefsm FAILURE: run {run_id} (acct, paper)"]
    assert (up.attempts, up.position) == (0, log.position_of(run_id, last))


# aiosmtpd warns of a login without TLS, which the test's loopback server asks for
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_is_retried_and_the_right_one_sends(
    store: SqlRunStore, tmp_path: Path
) -> None:
    run_id, _ = _run(store, tmp_path, REFUSING)
    log, clock = SqlEventLog(store.engine), ManualClock(TRADING_DAY)
    with mail_server(login=True) as (mailbox, port):
        wrong = deliver(log, _email(store, port, smtp_username=LOGIN[0],
                                    smtp_password="wrong"), clock)  # fmt: skip
        assert wrong.attempts == 1
        assert "wrong" not in (wrong.last_error or "")
        clock.at += timedelta(seconds=1)
        deliver(log, _email(store, port, smtp_username=LOGIN[0], smtp_password=LOGIN[1]), clock)
    assert mailbox.logins == [LOGIN[0]]
    assert mailbox.subjects() == [f"tradefsm FAILURE: run {run_id} (acct, paper)"]


def test_settings_refuse_an_incomplete_server() -> None:
    with pytest.raises(ValueError, match="TRADEFSM_SMTP_FROM and TRADEFSM_SMTP_TO"):
        Settings(smtp_host="mail.example.com")
    with pytest.raises(ValueError, match="TRADEFSM_SMTP_PASSWORD"):
        Settings(smtp_username="mailer")
    with pytest.raises(ValueError, match="not an email address"):
        Settings(smtp_to="ops")
