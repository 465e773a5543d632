"""A run database with a few real runs — done, refused by a guard, dry-run — on each backend."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.cli.conftest import Cli
from tests.conftest import TRADING_DAY, make_engine_for

PAGE = Path(__file__).parents[2] / "docs" / "audit-integrity.md"
REFERENCE = PAGE.with_name("reference_verifier.py")


@pytest.fixture
def signing(tmp_path: Path) -> Cli:
    """A command line whose runs are sealed: a key pair in keys/, digests in digests/."""
    cli = Cli(tmp_path)
    cli("audit", "keygen", "--out", "keys")
    cli.env |= {"TRADEFSM_AUDIT_SIGNING_KEY": str(tmp_path / "keys" / "tradefsm-audit.key"),
                "TRADEFSM_AUDIT_DIGEST_DIR": str(tmp_path / "digests")}  # fmt: skip
    cli.upgrade()
    return cli


@dataclass
class History:
    url: str
    store: SqlRunStore
    audit: SqlAudit
    done: RunRecord
    refused: RunRecord
    dry: RunRecord


@pytest.fixture
def history(migrated_url: str, tmp_path: Path) -> History:
    return build_history(migrated_url, tmp_path)


@pytest.fixture
def sqlite_history(sqlite_url: str, tmp_path: Path) -> History:
    migrate.upgrade(make_engine(sqlite_url))
    return build_history(sqlite_url, tmp_path)


def build_history(url: str, tmp_path: Path) -> History:
    engine = make_engine(url)
    store = SqlRunStore(engine)
    clock = FixedClock(TRADING_DAY)

    def run(account: str, settings: Settings, **kw: object) -> RunRecord:
        broker = PaperBroker(tmp_path / f"{account}.db")
        fsm = make_engine_for(store, broker, clock, settings, ids=SequentialIdFactory(account))
        return fsm.run(RunRequest(account_id=account, **kw))  # type: ignore[arg-type]

    done = run("alpha", Settings(actor="trader-ann"))
    refused = run("beta", Settings(actor="trader-ann", max_orders=2))
    dry = run("gamma", Settings(actor="trader-ann"), mode=Mode.DRY_RUN)
    return History(url, store, SqlAudit(engine), done, refused, dry)


@pytest.fixture(scope="session")
def recipe() -> dict[str, Any]:
    """The reference verifier docs/reference_verifier.py, which the page prints in full."""
    (block,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    code = REFERENCE.read_text(encoding="utf-8")
    assert block == code, "docs/audit-integrity.md must print docs/reference_verifier.py as is"
    namespace: dict[str, Any] = {"__name__": "reference_verifier"}
    exec(compile(code, str(REFERENCE), "exec"), namespace)  # the file as written
    return namespace


def sqlite_path(history: History) -> str:
    return history.url.removeprefix("sqlite:///")
