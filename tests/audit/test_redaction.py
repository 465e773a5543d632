"""Secrets never reach the database, the logs or an export: plant them and search everywhere."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import structlog

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import MarketDataUnavailable
from fsm.log import configure_logging
from fsm.pluginrecords import SignalSet
from fsm.ports import RunContext
from fsm.requests import RunRequest
from fsm.settings import Settings
from fsm.views import export_bundle
from persistence import migrate
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for

API_KEY = "sk-live-PLANTED-9f8e7d6c"
TOKEN = "tok-PLANTED-5544"
ACCOUNT_NUMBER = "987654321"
SECRETS = (API_KEY, TOKEN, ACCOUNT_NUMBER)


class LeakyStrategy:
    """A port whose errors carry secrets, as careless client libraries' errors do."""

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, ctx: RunContext) -> SignalSet:
        self.calls += 1
        detail = f"api_key={API_KEY} token: {TOKEN} for account {ACCOUNT_NUMBER}"
        if self.calls == 1:
            raise MarketDataUnavailable(f"rate limited: {detail}")  # retried, attempt stored
        raise RuntimeError(f"auth failed with {API_KEY}: {detail}")


def _files_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in folder.iterdir() if p.is_file())


def test_planted_secrets_appear_nowhere(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    engine = make_engine(f"sqlite:///{folder / 'runs.db'}")
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    logs = io.StringIO()
    configure_logging("DEBUG", json=True)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=logs))
    settings = Settings(broker_api_key=API_KEY, retry_base_seconds=0, retry_max_seconds=0)
    fsm = make_engine_for(store, PaperBroker(folder / "paper.db"), FixedClock(TRADING_DAY),
                          settings, signals=LeakyStrategy())  # fmt: skip
    try:
        run = fsm.run(RunRequest(account_id="paper"))
    finally:
        structlog.reset_defaults()
    assert run.failure["error_type"] == "StepCrashed"
    assert "[REDACTED]" in run.failure["message"]
    attempts = store.attempts(run.run_id)
    assert [a.outcome for a in attempts if a.state == "generating_signals"] == ["error", "error"]
    verification = SqlAudit(engine).verify(run.run_id).as_json()
    export = json.dumps(export_bundle(store, run.run_id, verification))
    engine.dispose()
    outputs = {"database files": _files_text(folder), "logs": logs.getvalue(), "export": export}
    for where, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into the {where}"
    assert "[REDACTED]" in export


def test_the_command_line_never_prints_the_api_key(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")},
        "TRADEFSM_DB": f"sqlite:///{tmp_path / 'runs.db'}",
        "TRADEFSM_PAPER_DB": str(tmp_path / "paper.db"),
        "TRADEFSM_BROKER_API_KEY": API_KEY,
    }
    texts = []
    for args in (("db", "upgrade"), ("run", "--json"), ("runs", "list", "--format", "json")):
        done = subprocess.run([sys.executable, "-m", "fsm", *args], env=env, capture_output=True,
                              text=True, check=True)  # fmt: skip
        texts += [done.stdout, done.stderr]
    texts.append(_files_text(tmp_path))
    assert all(API_KEY not in text for text in texts)
