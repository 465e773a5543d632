"""Engines assembled from settings: the CLI's and the workers' (plugins), and the facade's.

The risk policy is read once, by the one ``PolicyCache`` the engine then keeps: its exchange
is what the plugins are built for (``PluginSetup.exchange``), and the engine checks each run
against the same cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsm.attempts import alarm_or_thread
from fsm.calendar import exchange_of
from fsm.clock import Clock, SystemClock
from fsm.engine import Engine
from fsm.failpoints import failpoint
from fsm.ids import IdFactory, UuidFactory
from fsm.kinds import Mode
from fsm.limits import PolicyCache, overrides_of
from fsm.pluginports import identity_of, plugged_ports, plugged_signals

if TYPE_CHECKING:
    from fsm.guardcontext import Guard
    from fsm.interrupts import StopRequest
    from fsm.keyregistry import ApproverKeys
    from fsm.ports import RunStore, SignalSource
    from fsm.runtime import Observer
    from fsm.settings import Settings
    from fsm.spec import SpecSet


def build_engine(
    settings: Settings,
    store: RunStore,
    prices: Path | None = None,
    observer: Observer | None = None,
    as_of: date | None = None,
    stop: StopRequest | None = None,
    approvers: ApproverKeys | None = None,
) -> Engine:
    """The CLI's and the workers' engine: the strategy, market data (``prices``: the csv file)
    and broker plugins the settings name (``fsm.pluginports``), built for the run's ``as_of``
    on the policy's exchange; the CLI owns its process (SIGALRM step timeouts, failpoints).

    With ``stop`` (from ``stop_on_signals``), SIGINT and SIGTERM stand its runs down.
    """
    policies = PolicyCache(store, overrides_of(settings))
    ports = plugged_ports(settings, as_of or SystemClock().now().date(), prices,
                          exchange=_exchange(policies, settings))  # fmt: skip
    return Engine(
        store, ports, settings, SystemClock(), UuidFactory(), observer=observer,
        failpoint=failpoint, timeouts=alarm_or_thread, stop=stop, approvers=approvers,
        policies=policies,
    )  # fmt: skip


def facade_engine(
    store: RunStore,
    settings: Settings,
    clock: Clock,
    ids: IdFactory,
    specs: SpecSet,
    guards: Mapping[str, Guard],
) -> Engine:
    """The legacy facade's engine: its spec set's steps call the services it was given, so it
    has no ports; as a library it installs no timer (step timeouts in a helper thread)."""
    return Engine(store, None, settings, clock, ids, specs=specs, guards=guards)


def facade_signals(engine: Engine, as_of: date) -> tuple[SignalSource, dict[str, Any]]:
    """The strategy the settings of a facade's ``engine`` name (TRADEFSM_STRATEGY), over the
    market data they name, built for ``as_of`` on the policy's exchange; and what its runs
    commit of the two (``Ports.identity``)."""
    settings = engine.settings
    strategy, market = plugged_signals(
        settings, as_of, exchange=_exchange(engine.runtime.policies, settings)
    )
    return strategy, identity_of(strategy, market)


def _exchange(policies: PolicyCache, settings: Settings) -> str:
    """The policy's exchange (a setting may only repeat it: refused here otherwise)."""
    return exchange_of(policies.limits(settings.account_id, None, Mode.PAPER).values)
