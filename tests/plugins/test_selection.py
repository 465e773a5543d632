"""Selecting strategies, market data and brokers by name, and plugins that fail: a typed error
naming the plugin, ledgered as the run's failure when it happens inside one."""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm import plugins
from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import InvalidConfiguration, PluginFailed, PluginNotFound
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.pluginports import plugged_ports
from fsm.requests import RunRequest
from fsm.settings import Settings
from tests.cli.conftest import one_line_error
from tests.conftest import TRADING_DAY
from tests.plugins.conftest import Cli


def _engine(settings: Settings) -> Engine:
    ports = plugged_ports(settings, TRADING_DAY.date())
    return Engine(MemoryRunStore(), ports, settings, FixedClock(TRADING_DAY), SequentialIdFactory())


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(actor="quant-qi", paper_db=tmp_path / "paper.db", **kw)  # type: ignore[arg-type]


def _failed_naming(tmp_path: Path, said: str, mode: Mode = Mode.PAPER, **chosen: str) -> Engine:
    """A run with the ``chosen`` plugins fails as a PluginFailed whose message says ``said``."""
    engine = _engine(_settings(tmp_path, **chosen))
    run = engine.run(RunRequest(account_id="paper", mode=mode))
    assert run.state == "failed"
    assert run.failure is not None
    assert run.failure["error_type"] == "PluginFailed"
    assert said in run.failure["message"]
    assert engine.store.ledger(run.run_id)[-1].target == "failed"
    return engine


def test_the_bundled_adapters_are_listed_with_their_distribution(ready: Cli) -> None:
    rows = ready.json("plugins", "--json")
    found = {(r["group"], r["name"]): r for r in rows}
    assert set(found) >= {
        ("tradefsm.strategies", "demo-momentum"),
        ("tradefsm.market_data", "bundled"),
        ("tradefsm.market_data", "csv"),
        ("tradefsm.brokers", "paper"),
        ("tradefsm.brokers", "alpaca"),
    }
    assert {found[k]["distribution"] for k in found if k[1] != "sixty-forty"} == {"tradefsm"}
    assert [r["name"] for r in rows if r["selected"]] == ["demo-momentum", "bundled", "paper"]
    assert "demo-momentum" in ready("plugins").stdout


def test_an_unknown_plugin_is_a_one_line_error_before_any_run(ready: Cli) -> None:
    line = one_line_error(ready("run", "--strategy", "nope", code=2))
    assert "no strategy plugin named 'nope' is installed (installed: demo-momentum" in line
    line = one_line_error(ready("run", "--market-data", "nope", code=2))
    assert "no market data plugin named 'nope'" in line
    line = one_line_error(ready("run", code=2, env_extra={"TRADEFSM_BROKER": "nope"}))
    assert "no broker plugin named 'nope'" in line
    assert ready.json("runs", "list", "--format", "json") == []


def test_options_come_from_a_table_named_after_the_plugin(ready: Cli, test_plugins: Path) -> None:
    ready.env["PYTHONPATH"] = os.pathsep.join([str(test_plugins), ready.env.get("PYTHONPATH", "")])
    (ready.folder / "tradefsm.toml").write_text(
        'strategy = "picky"\n\n[picky]\npicks = 3\n', encoding="utf-8"
    )
    run = ready.json("run", "--mode", "signals-only", "--json")
    assert run["state"] == "done"
    assert run["params"]["strategy"]["name"] == "picky"
    assert run["params"]["strategy"]["distribution"] == "broken-plugins"
    assert run["params"]["strategy"]["version"] == "0.3"
    (ready.folder / "tradefsm.toml").write_text("[pikcy]\npicks = 3\n", encoding="utf-8")
    line = one_line_error(ready("run", code=2))
    assert "options for 'pikcy' name no installed plugin" in line


@pytest.mark.parametrize(
    ("table", "said"),
    [
        (
            "[demo-momentum]\npick = 3\n",
            "strategy plugin 'demo-momentum': unknown option 'pick' (did you mean 'picks'?); "
            "it takes picks",
        ),
        (
            "[demo-momentum]\npicks = 2.5\n",
            "strategy plugin 'demo-momentum': picks must be a whole number of at least 1, not 2.5",
        ),
        ("[bundled]\nseed = -1\n", "seed must be a whole number of at least 0, not -1"),
        (
            "[paper]\nlatency_ms = 5\n",
            "broker plugin 'paper': unknown option 'latency_ms'; it takes no options",
        ),
    ],
)
def test_a_misspelt_or_malformed_option_is_refused_before_any_run(
    ready: Cli, table: str, said: str
) -> None:
    (ready.folder / "tradefsm.toml").write_text(table, encoding="utf-8")
    assert said in one_line_error(ready("run", code=2))
    assert ready.json("runs", "list", "--format", "json") == []


@pytest.mark.usefixtures("test_plugins")
@pytest.mark.parametrize(
    ("strategy", "said"),
    [
        ("explodes", "raised ValueError: the model file is missing"),
        ("exits", "raised SystemExit: 3"),  # not the end of the process, silently
        ("from-the-future", "returned signals as of 2026-12-02, after the run's as_of 2026-11-27"),
        ("malformed", "returned malformed output: step output of generating_signals"),
    ],
)
def test_a_plugin_failing_inside_a_run_is_its_ledgered_failure(
    tmp_path: Path, strategy: str, said: str
) -> None:
    _failed_naming(tmp_path, f"strategy plugin {strategy!r} (broken-plugins 0.3) {said}",
                   strategy=strategy)  # fmt: skip


@pytest.mark.usefixtures("test_plugins")
def test_market_data_failing_inside_a_run_is_its_ledgered_failure(tmp_path: Path) -> None:
    said = "market data plugin 'feed-down' (broken-plugins 0.3) raised ConnectionResetError"
    _failed_naming(tmp_path, said, strategy="sixty-forty", market_data="feed-down")


@pytest.mark.usefixtures("test_plugins")
def test_a_broker_reporting_a_malformed_account_is_named_in_the_run_s_failure(
    tmp_path: Path,
) -> None:
    said = "broker plugin 'broker-garbage' (broken-plugins 0.3) returned malformed output"
    _failed_naming(tmp_path, said, Mode.DRY_RUN, broker="broker-garbage")


@pytest.mark.usefixtures("test_plugins")
@pytest.mark.parametrize(
    ("broker", "said"),
    [
        (
            "broker-no-ack",
            "returned malformed output: step output of executing is not a valid OrderAck",
        ),
        (
            "broker-bad-statuses",
            "returned malformed output: step output of executing is not a valid OrderStatus",
        ),
    ],
)
def test_a_broker_s_malformed_answer_about_orders_is_named_in_the_run_s_failure(
    tmp_path: Path, broker: str, said: str
) -> None:
    _failed_naming(tmp_path, f"broker plugin {broker!r} (broken-plugins 0.3) {said}", broker=broker)


@pytest.mark.usefixtures("test_plugins")
def test_a_malformed_acknowledgement_of_a_placed_order_is_resolved_by_its_status(
    tmp_path: Path,
) -> None:
    engine = _engine(_settings(tmp_path, broker="broker-bad-ack"))
    run = engine.run(RunRequest(account_id="paper"))
    assert run.state == "done", run.failure
    stored = engine.store.intents(run.run_id)
    assert stored
    assert {s.status for s in stored} == {"filled"}
    held = PaperBroker(tmp_path / "paper.db").orders([s.intent.client_order_id for s in stored])
    assert len(held) == len(stored)  # each placed once


@pytest.mark.usefixtures("test_plugins")
@pytest.mark.parametrize(
    ("strategy", "said"),
    [
        ("cannot-start", "raised RuntimeError: no licence"),
        ("no-generate", "made a object without generate()"),
        ("not-importable", "cannot be loaded (ModuleNotFoundError"),
    ],
)
def test_a_plugin_that_cannot_be_built_is_refused_naming_it(
    tmp_path: Path, strategy: str, said: str
) -> None:
    with pytest.raises(PluginFailed, match=f"strategy plugin '{strategy}'") as caught:
        _engine(_settings(tmp_path, strategy=strategy))
    assert said in caught.value.message
    assert caught.value.plugin == strategy


def test_csv_market_data_needs_a_file(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidConfiguration, match="market data plugin 'csv': market data csv needs a file"
    ):
        _engine(_settings(tmp_path, market_data="csv"))
    with pytest.raises(PluginNotFound):
        _engine(_settings(tmp_path, market_data="yahoo"))


def test_installed_plugins_are_read_once_per_import_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A run looks plugins up several times; the installed distributions are scanned once,
    and again only when the import path changes (a plugin put on it is then found)."""
    scanned: list[str] = []

    def counting() -> object:
        scanned.append("scan")
        return entry_points()

    monkeypatch.setattr(plugins, "entry_points", counting)
    plugins._every_entry.cache_clear()
    plugins._installed.cache_clear()
    for _ in range(3):
        for group in plugins.GROUPS:
            plugins.find(group, plugins.installed(group)[0].name)
    assert scanned == ["scan"]
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.installed(plugins.STRATEGIES)
    assert scanned == ["scan"] * 2


@given(
    st.sets(st.sampled_from("abcdef"), max_size=4),
    st.dictionaries(st.sampled_from("abcdefgh"), st.integers(), max_size=4),
)
def test_accept_passes_the_options_a_plugin_names_and_refuses_any_other(
    names: set[str], options: dict[str, int]
) -> None:
    setup = plugins.PluginSetup(Settings(), options)
    if set(options) <= names:
        assert setup.accept(*sorted(names)) == options
    else:
        with pytest.raises(InvalidConfiguration, match="unknown option"):
            setup.accept(*sorted(names))


def test_a_plugin_raising_keyboardinterrupt_itself_fails_its_run_naming_it(
    ready: Cli, test_plugins: Path
) -> None:
    ready.env["PYTHONPATH"] = os.pathsep.join([str(test_plugins), ready.env.get("PYTHONPATH", "")])
    started = ready.json("run", "--strategy", "interrupts", "--mode", "signals-only", "--json",
                         code=1)  # fmt: skip
    run = ready.json("runs", "show", started["run_id"], "--format", "json")["run"]
    assert (run["state"], run["failure"]["error_type"]) == ("failed", "PluginFailed")
    said = "strategy plugin 'interrupts' (broken-plugins 0.3) raised KeyboardInterrupt"
    assert said in run["failure"]["message"]


@pytest.mark.usefixtures("test_plugins")
def test_outside_the_command_line_a_keyboardinterrupt_is_a_person_s_and_stops_the_run(
    tmp_path: Path,
) -> None:
    engine = _engine(_settings(tmp_path, strategy="interrupts"))
    with pytest.raises(KeyboardInterrupt):  # a library run cannot tell; it stops, resumable
        engine.run(RunRequest(account_id="paper", mode=Mode.SIGNALS_ONLY))
