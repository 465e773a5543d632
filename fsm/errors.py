"""Every error tradefsm raises: one root, facts as attributes, messages that say what to do.

Families:
- ``TransientError``: worth retrying (timeouts, rate limits, connection drops).
- everything else is permanent: the run fails at once.
- ``InvalidInput``: bad input given at the edge (config, CLI arguments, price files, URLs).

Errors survive a process boundary (pickle), facts included, so a worker pool can carry them.
"""

from __future__ import annotations

from typing import Any


def _rebuild(cls: type[TradeFsmError], message: str, facts: dict[str, Any]) -> TradeFsmError:
    error = cls.__new__(cls)
    TradeFsmError.__init__(error, message)
    error.__dict__.update(facts)
    return error


class TradeFsmError(Exception):
    """Root of every error tradefsm raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.message, dict(self.__dict__))

    def __init__(
        self,
        message: str,
        *,
        run_id: str | None = None,
        state: str | None = None,
        event: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.run_id = run_id
        self.state = state
        self.event = event

    @property
    def error_type(self) -> str:
        return type(self).__name__


def replace_message(error: TradeFsmError, message: str) -> TradeFsmError:
    """The same error, facts kept, saying ``message``."""
    return _rebuild(type(error), message, dict(error.__dict__) | {"message": message})


class MachineDefinitionError(TradeFsmError):
    """A machine's chart and its state specs disagree (raised at import, never at run time)."""


class TransientError(TradeFsmError):
    """A failure that may go away when retried; ``retry_after`` (seconds) is honoured."""

    retry_after: float | None = None


class StepTimeout(TransientError):
    """A step took longer than its timeout."""


class MarketDataUnavailable(TransientError):
    """Prices could not be read (provider down, data not ready)."""


class MarketDataRejected(TradeFsmError):
    """The market data provider refused a request (bad keys, a feed the subscription does not
    cover, an invalid request): permanent; ``status_code`` if it said one."""

    status_code: int | None = None


class MissingMarketData(TradeFsmError):
    """The data has no price for a symbol on or before the date: retrying cannot fix that."""


class NotRecorded(TradeFsmError):
    """What-if replay of a strategy: the proposed strategy asked for data the run did not
    record, so that run is reported as not replayed (nothing is fetched)."""


class InvalidInput(TradeFsmError):
    """Input given at the edge is malformed: settings, arguments, files, URLs."""


class InvalidConfiguration(InvalidInput):
    """Settings are missing or invalid."""


class AmbiguousRunId(InvalidInput):
    """A run id prefix matches more than one run."""


class GraphvizMissing(InvalidConfiguration):
    """An SVG or PNG diagram was asked for where Graphviz's ``dot`` cannot draw it."""


class InvalidPriceFile(InvalidInput):
    """A price CSV file is malformed; the message names the line."""


class IdempotencyConflict(InvalidInput):
    """An idempotency key was used before for a run with other parameters."""


class InvalidDatabaseUrl(InvalidInput):
    """The database URL cannot be used."""


class InvalidStepOutput(TradeFsmError):
    """A step returned output that does not validate against its model."""


class GuardRejected(TradeFsmError):
    """A guard refused a transition; the ledger holds the decision."""

    def __init__(self, message: str, *, guard: str, reason: str, **facts: str | None) -> None:
        super().__init__(message, **facts)
        self.guard = guard
        self.reason = reason


class DailyTotalsMoved(TradeFsmError):
    """Another run of the account committed a plan after this one read the day's totals: the
    guards are evaluated again on the new totals (``fsm.daily``)."""


class IllegalTransition(TradeFsmError):
    """An event has no transition from the current state."""


class ConcurrentModification(TradeFsmError):
    """Another writer moved the run first; nothing was changed."""


class CancelRequested(ConcurrentModification):
    """An operator asked to cancel the run: its holder stands down before its next order."""


class RunNotFound(TradeFsmError):
    """No run has this id."""


class RunNotResumable(TradeFsmError):
    """The run is finished or cannot be driven from its state."""


class RunStranded(RunNotResumable):
    """The run was started under another machine definition than the code's (a deploy changed
    the chart): nothing drives it until `tradefsm runs migrate` moves it to this definition.
    ``pinned`` is the definition hash the run keeps, ``current`` the code's."""

    def __init__(self, message: str, *, pinned: str = "", current: str = "", **facts: Any) -> None:
        super().__init__(message, **facts)
        self.pinned = pinned
        self.current = current


class MigrationRefused(TradeFsmError):
    """Moving a run to the current machine definition is not safe; the message says why and
    nothing was written."""


class DetachRefused(TradeFsmError):
    """`retention detach` left a month in place: a row of it belongs to a run that is not
    archived, or is under legal hold; the message names one and nothing was detached."""


class RunLeased(TradeFsmError):
    """Another live process holds the run's lease."""


class DeadlineExceeded(TradeFsmError):
    """The run passed its deadline (also when that happened while no process was running)."""


class RunAlreadyActive(TradeFsmError):
    """The account already has an active run."""


class StaleRun(TradeFsmError):
    """The run's market date is too old to trade on."""


class StorageError(TradeFsmError):
    """The database failed; the run was left as it was before the failed write."""


class DatabaseUnavailable(StorageError, TransientError):
    """The database could not be reached; retrying may help."""


class WorkerFailed(TradeFsmError):
    """A worker thread hit an unexpected error; the worker stopped claiming and exited."""


class StorageAccessDenied(StorageError):
    """The database refused a privilege (a missing GRANT). Nothing of the refused write was
    stored: a run stops where it is, resumable once the grant is fixed, never failed (an order
    may be out at the broker)."""


class HistoryConflict(TradeFsmError):
    """What the database holds contradicts the history anchored outside it (a digest file)."""


class HistoryIsAppendOnly(StorageError):
    """A change to ledger or checkpoint rows was refused by the database's triggers."""


class SchemaNotCurrent(StorageError):
    """The database schema is not at the version this code needs."""


class BrokerRejected(TradeFsmError):
    """The broker refused an order or a request (permanent); ``status_code`` if it said one."""

    status_code: int | None = None


class BrokerUnavailable(TransientError):
    """The broker did not answer, or answered "later" (rate limit, 5xx): a retry may help."""


class DeliveryFailed(TransientError):
    """A subscriber (a webhook receiver) did not take an event: down, too slow, or it answered
    with an error; the event is tried again later (docs/operations.md, "Webhooks")."""


class StepCrashed(TradeFsmError):
    """A step raised an error that is not one of tradefsm's own; the run failed with it."""


class LegacyServiceFailed(TradeFsmError):
    """A legacy service reported failure (a falsy result or a falsy ``success``)."""


class LegacyCallInterrupted(TradeFsmError):
    """A facade call was stopped by a BaseException that is not an error (KeyboardInterrupt,
    SystemExit): its run failed with it, then the exception went on to the caller."""


class ApprovalExpired(TradeFsmError):
    """Nobody approved or rejected a parked run before its approval deadline."""


class DuplicateClientOrderId(BrokerRejected):
    """The broker already holds an order with this client_order_id."""

    def __init__(self, client_order_id: str) -> None:
        super().__init__(
            f"the broker already has an order with client_order_id {client_order_id!r}"
        )
        self.client_order_id = client_order_id


class TradingHalted(TradeFsmError):
    """A halt (`tradefsm halt`, or the throttle) stops this account: no run starts, no order
    is sent (fsm.halts). ``head`` is the hash of the halts history's newest row when it was
    read: the row that fails a run for a halt commits to it."""

    def __init__(self, message: str, *, head: str | None = None, **facts: Any) -> None:
        super().__init__(message, **facts)
        self.head = head


class UnhaltRefused(TradeFsmError):
    """The person who halted a scope may not lift it while ``unhalt_needs_second_person``."""


class RunInterrupted(TradeFsmError):
    """The process was asked to stop (SIGINT, SIGTERM): the run stood down at a safe point,
    its lease released, and stays active for `tradefsm resume` (or `cancel`)."""

    def __init__(self, message: str, *, signal_name: str = "SIGINT", **facts: Any) -> None:
        super().__init__(message, **facts)
        self.signal_name = signal_name


class PluginNotFound(InvalidConfiguration):
    """No installed plugin of a group has the name settings or flags gave (`tradefsm plugins`
    lists the installed ones)."""

    def __init__(self, message: str, *, group: str = "", plugin: str = "", **facts: Any) -> None:
        super().__init__(message, **facts)
        self.group = group
        self.plugin = plugin


class PluginFailed(TradeFsmError):
    """A plugin failed to load, raised an error of its own, or returned malformed output: the
    message names the plugin; inside a run the failure is ledgered like any step's."""

    def __init__(self, message: str, *, group: str = "", plugin: str = "", **facts: Any) -> None:
        super().__init__(message, **facts)
        self.group = group
        self.plugin = plugin


class PluginMismatch(RunNotResumable):
    """A run committed other plugins (a strategy's name, version or configuration hash, a price
    file's SHA-256) than this process runs with, and they cannot be rebuilt here: the run is
    not driven, nothing of it changes. ``differences`` says what differs, one item each."""

    def __init__(self, message: str, *, differences: tuple[str, ...] = (), **facts: Any) -> None:
        super().__init__(message, **facts)
        self.differences = differences
