"""Runs finished days ago on each backend, sealed, with a legal hold on one account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from fsm.adapters.paper_broker import PaperBroker
from fsm.audit import VerifyReport
from fsm.clock import FixedClock
from fsm.digests import Anchors
from fsm.holds import change
from fsm.ids import SequentialIdFactory
from fsm.keyfiles import generate_keys, load_private_key, load_public_key
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import retention
from persistence.retention import Applied, SqlHolds
from tests.audit.conftest import (
    History,
    build_history,
    recipe,  # noqa: F401 (a fixture: the reference verifier of the docs)
    signing,  # noqa: F401 (a fixture: a key pair, digests)
)
from tests.conftest import TRADING_DAY, make_engine_for

CUT_OFF = TRADING_DAY + timedelta(days=1)  # every run of the history ended before it
LATER = TRADING_DAY + timedelta(days=2)


@dataclass
class Retained:
    """The history (alpha done, beta refused, gamma dry run; delta waiting for approval), the
    signing key, the digests and archive folders; beta's account is on legal hold."""

    history: History
    parked: str
    key: Ed25519PrivateKey
    public_key: Path
    anchors: Anchors
    archive: Path

    @property
    def engine(self) -> Engine:
        return self.history.audit.engine

    def seal(self) -> None:
        self.history.audit.seal(self.key, LATER, self.anchors.folder)

    def apply(self) -> Applied:
        chosen = retention.plan(self.engine, CUT_OFF)
        return retention.apply(self.engine, chosen, self.archive, self.anchors.public_keys,
                               ("ops-ann", "six years passed", "ops"), LATER,
                               lambda *_: None)  # fmt: skip

    def verify(self, archive: bool = True) -> VerifyReport:
        return self.history.audit.verify(anchors=self.anchors,
                                         archive=self.archive if archive else None)  # fmt: skip


@pytest.fixture
def retained(migrated_url: str, tmp_path: Path) -> Retained:
    history = build_history(migrated_url, tmp_path)
    broker = PaperBroker(tmp_path / "delta.db")
    parking = make_engine_for(history.store, broker, FixedClock(TRADING_DAY),
                              Settings(actor="trader-ann", approval_notional=1000),
                              ids=SequentialIdFactory("delta"))  # fmt: skip
    parked = parking.run(RunRequest(account_id="delta")).run_id
    private, public = generate_keys(tmp_path / "keys")
    anchors = Anchors(tmp_path / "digests", (load_public_key(public),))
    found = Retained(history, parked, load_private_key(private), public, anchors,
                     tmp_path / "archive")  # fmt: skip
    found.seal()
    change(SqlHolds(found.engine), "hold", None, "beta", "legal-lee", "subpoena 12", "ops",
           TRADING_DAY)  # fmt: skip
    return found
