"""tradefsm: a trading rebalance run as an explicit, guarded, persisted state machine.

The public API: the engine and its ports, settings, the records that cross ports, and errors.
The SQL store lives in ``persistence``; the legacy drop-in facade in ``fsm.compat``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, imported on first use (``import fsm`` stays cheap)
    from fsm.clock import Clock, FixedClock, SystemClock
    from fsm.definition import MachineDefinition, trading_definition
    from fsm.engine import Engine
    from fsm.errors import (
        ApprovalExpired,
        BrokerRejected,
        ConcurrentModification,
        GuardRejected,
        IllegalTransition,
        InvalidInput,
        InvalidStepOutput,
        MachineDefinitionError,
        RunAlreadyActive,
        RunLeased,
        RunNotFound,
        RunNotResumable,
        SchemaNotCurrent,
        StaleRun,
        StepTimeout,
        StorageError,
        TradeFsmError,
        TransientError,
    )
    from fsm.ids import IdFactory, SequentialIdFactory, UuidFactory
    from fsm.kinds import Mode, RunStatus
    from fsm.machines.specs import TRADING_SPECS
    from fsm.pluginrecords import AccountSnapshot, OrderIntent, PriceSnapshot, SignalSet
    from fsm.ports import Broker, MarketData, Notifier, RunStore, SignalSource
    from fsm.records import (
        AllocationAnalysis,
        ExecutionReport,
        GuardDecision,
        LedgerEntry,
        RebalancePlan,
        RunRecord,
    )
    from fsm.requests import Ports, RunRequest
    from fsm.settings import Settings, load_settings
    from fsm.spec import SpecSet, StateSpec
    from fsm.worker import Worker

_WHERE = {
    "AccountSnapshot": "fsm.pluginrecords",
    "AllocationAnalysis": "fsm.records",
    "ApprovalExpired": "fsm.errors",
    "Broker": "fsm.ports",
    "BrokerRejected": "fsm.errors",
    "Clock": "fsm.clock",
    "ConcurrentModification": "fsm.errors",
    "Engine": "fsm.engine",
    "ExecutionReport": "fsm.records",
    "FixedClock": "fsm.clock",
    "GuardDecision": "fsm.records",
    "GuardRejected": "fsm.errors",
    "IdFactory": "fsm.ids",
    "IllegalTransition": "fsm.errors",
    "InvalidInput": "fsm.errors",
    "InvalidStepOutput": "fsm.errors",
    "LedgerEntry": "fsm.records",
    "MachineDefinition": "fsm.definition",
    "MachineDefinitionError": "fsm.errors",
    "MarketData": "fsm.ports",
    "Mode": "fsm.kinds",
    "Notifier": "fsm.ports",
    "OrderIntent": "fsm.pluginrecords",
    "Ports": "fsm.requests",
    "PriceSnapshot": "fsm.pluginrecords",
    "RebalancePlan": "fsm.records",
    "RunAlreadyActive": "fsm.errors",
    "RunLeased": "fsm.errors",
    "RunNotFound": "fsm.errors",
    "RunNotResumable": "fsm.errors",
    "RunRecord": "fsm.records",
    "RunRequest": "fsm.requests",
    "RunStatus": "fsm.kinds",
    "RunStore": "fsm.ports",
    "SchemaNotCurrent": "fsm.errors",
    "SequentialIdFactory": "fsm.ids",
    "Settings": "fsm.settings",
    "SignalSet": "fsm.pluginrecords",
    "SignalSource": "fsm.ports",
    "SpecSet": "fsm.spec",
    "StaleRun": "fsm.errors",
    "StateSpec": "fsm.spec",
    "StepTimeout": "fsm.errors",
    "StorageError": "fsm.errors",
    "SystemClock": "fsm.clock",
    "TRADING_SPECS": "fsm.machines.specs",
    "TradeFsmError": "fsm.errors",
    "TransientError": "fsm.errors",
    "UuidFactory": "fsm.ids",
    "Worker": "fsm.worker",
    "load_settings": "fsm.settings",
    "trading_definition": "fsm.definition",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'fsm' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "TRADING_SPECS",
    "AccountSnapshot",
    "AllocationAnalysis",
    "ApprovalExpired",
    "Broker",
    "BrokerRejected",
    "Clock",
    "ConcurrentModification",
    "Engine",
    "ExecutionReport",
    "FixedClock",
    "GuardDecision",
    "GuardRejected",
    "IdFactory",
    "IllegalTransition",
    "InvalidInput",
    "InvalidStepOutput",
    "LedgerEntry",
    "MachineDefinition",
    "MachineDefinitionError",
    "MarketData",
    "Mode",
    "Notifier",
    "OrderIntent",
    "Ports",
    "PriceSnapshot",
    "RebalancePlan",
    "RunAlreadyActive",
    "RunLeased",
    "RunNotFound",
    "RunNotResumable",
    "RunRecord",
    "RunRequest",
    "RunStatus",
    "RunStore",
    "SchemaNotCurrent",
    "SequentialIdFactory",
    "Settings",
    "SignalSet",
    "SignalSource",
    "SpecSet",
    "StaleRun",
    "StateSpec",
    "StepTimeout",
    "StorageError",
    "SystemClock",
    "TradeFsmError",
    "TransientError",
    "UuidFactory",
    "Worker",
    "load_settings",
    "trading_definition",
]  # fmt: skip
