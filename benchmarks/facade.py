"""The legacy facade: cost of a trading call and of the constructor, and memory over many calls.

A ``execute_strategy_signals_with_trading`` call with stub services writes a real run (six
ledger rows, six durable commits) to a SQLite file, as a legacy caller's would, on the
always-open calendar (``benchmarks.session``). Reported: the
median call (``facade_call_ms``, target ≤ 3 ms), the median constructor after the first
(``constructor_ms``, ≤ 5 ms), and RSS after all calls minus RSS after the first 100
(``rss_growth_mib``, ≤ 20 MiB over 10,000 calls).
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.session import EXCHANGE, always_in_session
from fsm.compat import TradingOrchestrator


class _Signals:
    def analyze_signals(self) -> dict[str, Any]:
        return {"success": True, "strategy_signals": ["SPY"],
                "consolidated_portfolio_dto": {"SPY": 1.0}}  # fmt: skip


class _Portfolio:
    def get_comprehensive_account_data(self) -> dict[str, Any]:
        return {"cash": 10_000}

    def analyze_allocation_comparison(self, account: Any) -> dict[str, Any]:
        return {"needs_rebalancing": True}

    def create_rebalance_plan(self, signals: Any, account: Any) -> dict[str, Any]:
        return {"items": [{"symbol": "SPY"}]}


class _Execution:
    def execute_rebalance_plan(self, plan: Any) -> dict[str, Any]:
        return {"success": True}


def _services() -> dict[str, Any]:
    """Stub services (a unittest Mock would keep every call it saw: its memory, not ours)."""
    return {"signal_orchestrator": _Signals(), "portfolio_orchestrator": _Portfolio(),
            "execution_orchestrator": _Execution(), "notification_service": None}  # fmt: skip


def _rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def run(quick: bool = False) -> dict[str, Any]:
    calls = 500 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TRADEFSM_DB"] = f"sqlite:///{Path(tmp) / 'runs.db'}"
        os.environ["TRADEFSM_EXCHANGE"] = EXCHANGE
        try:
            services = _services()
            TradingOrchestrator(**services)  # the first one migrates the database
            always_in_session(os.environ["TRADEFSM_DB"])
            constructor = []
            for _ in range(50):
                started = time.perf_counter()
                facade = TradingOrchestrator(**services)
                constructor.append((time.perf_counter() - started) * 1000)
            timings, rss_100 = [], 0.0
            for n in range(calls):
                started = time.perf_counter()
                assert facade.execute_strategy_signals_with_trading() is not None
                timings.append((time.perf_counter() - started) * 1000)
                if n == 99:
                    rss_100 = _rss_mib()
            rss_end = _rss_mib()
        finally:
            del os.environ["TRADEFSM_DB"], os.environ["TRADEFSM_EXCHANGE"]
    return {
        "benchmark": "facade",
        "calls": calls,
        "facade_call_ms": round(statistics.median(timings), 3),
        "constructor_ms": round(statistics.median(constructor), 3),
        "rss_after_100_mib": round(rss_100, 1),
        "rss_growth_mib": round(rss_end - rss_100, 1),
    }
