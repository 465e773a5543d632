"""The composition root builds the plugins for the risk policy's exchange."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fsm.adapters.memory_store import MemoryRunStore
from fsm.compose.engines import build_engine
from fsm.policyhistory import Proposal, approve, propose
from fsm.settings import Settings
from tests.conftest import TRADING_DAY

UK_BANK_HOLIDAY = date(2026, 8, 31)  # a Monday: New York trades, London does not


def test_the_market_data_trades_on_the_policys_exchange(tmp_path: Path) -> None:
    store = MemoryRunStore()
    asked = Proposal(None, {"exchange": "XLON"}, "risk-ann", "London desk")
    change = propose(store, asked, TRADING_DAY)  # another exchange: a second person approves
    approve(store, change.seq, "risk-bob", "mandate", TRADING_DAY)
    settings = Settings(paper_db=tmp_path / "paper.db")  # the settings name no exchange
    engine = build_engine(settings, store, as_of=UK_BANK_HOLIDAY)
    assert engine.runtime.ports is not None
    snapshot = engine.runtime.ports.market_data.prices(["AAPL"], UK_BANK_HOLIDAY)
    assert snapshot.dates == {"AAPL": date(2026, 8, 28)}  # the London session before
