"""What driving a run needs: the spec set's ports bundle and the engine-wide parts, once each.

There is one ports bundle, ``fsm.requests.Ports``: what a spec set's steps talk to (strategy,
market data, broker, the broker of each account, notifier, and what the plugins say of
themselves so a run can be rebuilt with them). The steps read it as ``StepEnv.ports``; a spec
set whose steps reach their own services (the legacy facade's) is given none, and a step that
asks for it then is refused (InvalidConfiguration). Everything else a run shares with the other
runs of its engine (store, clock, settings, specs, guards, policy cache, hooks) is this
``Runtime``, which holds the ports bundle instead of copying its fields. The engine builds it;
the driver only reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from fsm.attempts import TimeoutRunner
from fsm.clock import Clock
from fsm.definition import MachineDefinition
from fsm.guardcontext import Guard
from fsm.interrupts import StopRequest
from fsm.ledger import process_id
from fsm.limits import PolicyCache
from fsm.ports import RunStore
from fsm.records import LedgerEntry, RunRecord
from fsm.requests import Ports
from fsm.settings import Settings
from fsm.spec import SpecSet
from fsm.tracing import Tracing

Observer = Callable[[RunRecord, LedgerEntry], None]


@dataclass(frozen=True)
class Runtime:
    """The store, time, settings, specs, guards, ports and hooks every run of an engine shares."""

    store: RunStore
    clock: Clock
    settings: Settings
    specs: SpecSet
    guards: Mapping[str, Guard]
    ports: Ports | None  # what the spec set's steps talk to (None: steps with their own)
    observe: Observer  # after each committed transition
    sleep: Callable[[float], None]  # between retries
    failpoint: Callable[[str], None]  # crash tests stop the process at named points
    timeouts: TimeoutRunner  # how a step attempt is bounded in time
    policies: PolicyCache  # the risk policy's versions, read once each
    secrets: tuple[str, ...] = ()  # values redacted from every stored message
    stop: StopRequest = field(default_factory=StopRequest)  # obeyed at a driver's safe points
    process: str = field(default_factory=process_id)  # named on every ledger row it commits
    tracing: Tracing = field(default_factory=Tracing.of)  # spans of runs, steps, broker calls

    @property
    def definition(self) -> MachineDefinition:
        return self.specs.definition

    def ports_for(self, account_id: str) -> Ports | None:
        """The ports a run of ``account_id`` talks to (its own broker, when per account)."""
        ports = self.ports
        if ports is None:
            return None
        broker = ports.broker if ports.broker_for is None else ports.broker_for(account_id)
        return replace(ports, broker=self.tracing.broker(broker))
