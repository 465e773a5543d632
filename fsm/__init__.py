"""tradefsm: a trading rebalance run as an explicit, guarded, persisted state machine.

The public API: the engine and its ports, settings, the records that cross ports, and errors.
The SQL store lives in ``persistence``; the legacy drop-in facade in ``fsm.compat``.
"""

from fsm.clock import Clock, FixedClock, SystemClock
from fsm.definition import MachineDefinition, trading_definition
from fsm.engine import Engine, Ports, RunRequest
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
from fsm.machines.specs import TRADING_SPECS
from fsm.ports import Broker, MarketData, Notifier, RunStore, SignalSource
from fsm.records import (
    AccountSnapshot,
    AllocationAnalysis,
    ExecutionReport,
    GuardDecision,
    LedgerEntry,
    Mode,
    OrderIntent,
    PriceSnapshot,
    RebalancePlan,
    RunRecord,
    RunStatus,
    SignalSet,
)
from fsm.settings import Settings, load_settings
from fsm.spec import SpecSet, StateSpec
from fsm.worker import Worker

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
