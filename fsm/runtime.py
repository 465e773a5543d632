"""What driving a run needs, as one bundle: the engine builds it, the driver only reads it."""

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
from fsm.ports import Broker, RunStore
from fsm.records import LedgerEntry, RunRecord
from fsm.settings import Settings
from fsm.spec import SpecSet
from fsm.steps.runner import StepPorts
from fsm.tracing import Tracing

Observer = Callable[[RunRecord, LedgerEntry], None]


@dataclass(frozen=True)
class Runtime:
    """The store, time, settings, specs, guards and hooks every run of an engine shares."""

    store: RunStore
    clock: Clock
    settings: Settings
    specs: SpecSet
    guards: Mapping[str, Guard]
    step_ports: StepPorts
    observe: Observer  # after each committed transition
    sleep: Callable[[float], None]  # between retries
    failpoint: Callable[[str], None]  # crash tests stop the process at named points
    timeouts: TimeoutRunner  # how a step attempt is bounded in time
    policies: PolicyCache  # the risk policy's versions, read once each
    secrets: tuple[str, ...] = ()  # values redacted from every stored message
    broker_for: Callable[[str], Broker] | None = None  # the broker of an account, if per account
    stop: StopRequest = field(default_factory=StopRequest)  # obeyed at a driver's safe points
    process: str = field(default_factory=process_id)  # named on every ledger row it commits
    tracing: Tracing = field(default_factory=Tracing.of)  # spans of runs, steps, broker calls

    @property
    def definition(self) -> MachineDefinition:
        return self.specs.definition

    def ports_for(self, account_id: str) -> StepPorts:
        """The ports a run of ``account_id`` talks to (its own broker, when per account)."""
        broker = self.step_ports.broker if self.broker_for is None else self.broker_for(account_id)
        return replace(self.step_ports, broker=self.tracing.broker(broker))
