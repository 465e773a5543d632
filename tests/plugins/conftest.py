"""Plugins installed for a test only: a distribution's metadata (entry points) and its module
in a folder put on the import path, as an installed package would be found."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli

MODULE = """
import threading

from fsm.adapters.strategy import MomentumStrategy

# What the hanging plugins wait for: no run sets it (a test may, once its run has ended).
RELEASE = threading.Event()


def explodes(setup):
    class Exploding:
        def generate(self, ctx):
            raise ValueError("the model file is missing")
    return Exploding()


def exits(setup):
    class Exits:
        def generate(self, ctx):
            raise SystemExit(3)
    return Exits()


def interrupts(setup):
    class Interrupts:
        def generate(self, ctx):
            raise KeyboardInterrupt  # its own, not a person's Ctrl-C
    return Interrupts()


def from_the_future(setup):
    class FromTheFuture:
        def generate(self, ctx):
            from datetime import timedelta
            from decimal import Decimal

            from fsm.pluginrecords import SignalSet, TargetWeight

            spy = TargetWeight(symbol="SPY", weight=Decimal("0.5"))
            return SignalSet(as_of=ctx.as_of + timedelta(days=5), strategy="w", targets=(spy,))
    return FromTheFuture()


def malformed(setup):
    class Malformed:
        def generate(self, ctx):
            return {"targets": "all in"}
    return Malformed()


def cannot_start(setup):
    raise RuntimeError("no licence")


def no_generate(setup):
    return object()


def feed_down(setup):
    class FeedDown:
        def prices(self, symbols, as_of):
            raise ConnectionResetError("feed reset by peer")
    return FeedDown()


def hangs(setup):
    class Hanging:
        def generate(self, ctx):
            RELEASE.wait()
            raise RuntimeError("released")
    return Hanging()


def feed_hangs(setup):
    class FeedHangs:
        def prices(self, symbols, as_of):
            RELEASE.wait()
            raise RuntimeError("released")
    return FeedHangs()


def broker_hangs(setup):
    class BrokerHangs:
        def account(self):
            RELEASE.wait()
            raise RuntimeError("released")

        def submit(self, intent):
            raise RuntimeError("never asked")

        orders = cancel = submit
    return BrokerHangs()


def broker_garbage(setup):
    class BrokerGarbage:
        def account(self):
            return {"cash": "lots"}

        def submit(self, intent):
            raise RuntimeError("never asked")

        orders = cancel = submit
    return BrokerGarbage()


def _paper(setup, **odd):  # the paper broker, some of its methods replaced
    from types import SimpleNamespace

    from fsm.adapters.factories import paper_broker

    paper = paper_broker(setup)
    methods = {m: getattr(paper, m) for m in ("account", "submit", "orders", "cancel")}
    return SimpleNamespace(**{**methods, **odd})


def broker_bad_ack(setup):  # places each order, then answers what no broker should
    paper = _paper(setup)

    def submit(intent):
        paper.submit(intent)
        return "ok"
    return _paper(setup, submit=submit)


def broker_no_ack(setup):  # places nothing, answers nothing
    return _paper(setup, submit=lambda intent: None)


def broker_bad_statuses(setup):
    return _paper(setup, orders=lambda ids: [{"status": "lost"}])


def picky(setup):
    return MomentumStrategy(setup.market_data, picks=int(setup.options.get("picks", 1)))
"""

ENTRY_POINTS = """[tradefsm.strategies]
explodes = broken_plugins:explodes
exits = broken_plugins:exits
interrupts = broken_plugins:interrupts
from-the-future = broken_plugins:from_the_future
malformed = broken_plugins:malformed
cannot-start = broken_plugins:cannot_start
no-generate = broken_plugins:no_generate
not-importable = broken_plugins_gone:strategy
picky = broken_plugins:picky
hangs = broken_plugins:hangs

[tradefsm.market_data]
feed-down = broken_plugins:feed_down
feed-hangs = broken_plugins:feed_hangs

[tradefsm.brokers]
broker-hangs = broken_plugins:broker_hangs
broker-garbage = broken_plugins:broker_garbage
broker-bad-ack = broken_plugins:broker_bad_ack
broker-no-ack = broken_plugins:broker_no_ack
broker-bad-statuses = broken_plugins:broker_bad_statuses
"""


@pytest.fixture
def test_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Strategies that fail each way a plugin can (``hangs`` never returns), one that works
    (``picky``), market data that raises (``feed-down``) or never returns (``feed-hangs``), and
    a broker that never answers (``broker-hangs``), installed as the distribution
    broken-plugins 0.3; the folder is on PYTHONPATH for subprocesses."""
    folder = tmp_path / "site"
    info = folder / "broken_plugins-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-plugins\nVersion: 0.3\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    (folder / "broken_plugins.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def ready(tmp_path: Path) -> Cli:
    """A command line with a migrated run database in its own folder."""
    cli = Cli(tmp_path / "cli")
    cli.folder.mkdir()
    cli.upgrade()
    return cli
