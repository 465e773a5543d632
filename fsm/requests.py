"""What a caller hands the engine: a run request and the ports its runs talk to.

Apart from the engine so that read models can name a run's spec set without loading it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fsm.errors import IdempotencyConflict
from fsm.kinds import Mode
from fsm.ports import Broker, MarketData, Notifier, SignalSource
from fsm.records import RunRecord, run_labels
from fsm.tracing import TRACEPARENT_PARAM, checked_traceparent

SPEC_SET_PARAM = "spec_set"  # a run's params name the spec set that drives it
POLICY_PARAM = "policy_version"  # ... the policy version it was planned under
POLICY_HASH_PARAM = "policy_hash"  # ... and the hash of the history row of that version
STRATEGY_PARAM = "strategy"  # ... the strategy plugin that ran: name, version, config hash
MARKET_DATA_PARAM = "market_data"  # ... and the market data it read (fsm.pluginports)
ADAPTER_PARAMS = (STRATEGY_PARAM, MARKET_DATA_PARAM)  # from the engine's Ports.identity
# A run's trace context is operational: it is kept with the run but is no part of what an
# idempotency key compares, and a retry starts a trace of its own (fsm.tracing).
ENGINE_PARAMS = (SPEC_SET_PARAM, POLICY_PARAM, POLICY_HASH_PARAM, TRACEPARENT_PARAM,
                 *ADAPTER_PARAMS)  # fmt: skip


@dataclass(frozen=True)
class RunRequest:
    """What a caller asks for: a run of an account, in a mode, for a market date.

    Its identifiers are checked when it is built, before any database is asked.
    """

    account_id: str
    mode: Mode = Mode.PAPER
    as_of: date | None = None
    idempotency_key: str | None = None
    correlation_id: str | None = None
    parent_run_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    traceparent: str | None = None  # W3C trace context of the caller (else its current span)

    def __post_init__(self) -> None:  # refused before any database is asked
        run_labels(idempotency_key=self.idempotency_key, correlation_id=self.correlation_id)
        checked_traceparent(self.traceparent)


@dataclass(frozen=True)
class Ports:
    """The one ports bundle: what a spec set's steps talk to (strategy, market data, the
    broker, or each account's) and the notifier told when a run ends. ``fsm.runtime`` says
    how the engine holds it; a spec set whose steps call their own services is given none."""

    signals: SignalSource
    market_data: MarketData
    broker: Broker
    notifier: Notifier | None = None
    # The broker of a given account; when set, each run talks to its own account's broker.
    broker_for: Callable[[str], Broker] | None = None
    # What the plugins say of themselves (ADAPTER_PARAMS): committed in each new run's
    # params and compared when an idempotency key comes again.
    identity: Mapping[str, Any] = field(default_factory=dict)
    # The strategy and market data a run committed (its ADAPTER_PARAMS), built again for its
    # market date; a TradeFsmError says why they cannot be (fsm.runplugins).
    rebuild: Callable[[Mapping[str, Any], date], Ports] | None = None


def own_params(run: RunRecord) -> dict[str, Any]:
    """The params a request gave the run (without what the engine added)."""
    return {k: v for k, v in run.params.items() if k not in ENGINE_PARAMS}


def keyed_run(find: Callable[[str], RunRecord | None], request: RunRequest,
              today: Callable[[], date],
              identity: Mapping[str, Any] | None = None) -> RunRecord | None:  # fmt: skip
    """The run ``request``'s idempotency key already names (``find`` looks it up), if the
    request is the same one; the same key with other parameters, another strategy or other
    market data (``identity``, ``Ports.identity``) is a conflict (as payment APIs treat it)."""
    key = request.idempotency_key
    run = None if key is None else find(key)
    if run is None:
        return None
    asked = {"account_id": request.account_id, "mode": request.mode,
             "as_of": request.as_of or today(), "parent_run_id": request.parent_run_id,
             "params": request.params}  # fmt: skip
    stored = run.model_dump() | {"params": own_params(run)}
    for name in ADAPTER_PARAMS:  # the same strategy and market data (file hash included)
        asked[name], stored[name] = (identity or {}).get(name), run.params.get(name)
    differing = [name for name, value in asked.items() if stored[name] != value]
    if differing:
        raise IdempotencyConflict(
            f"idempotency key {key!r} already named run {run.run_id} with another "
            f"{', '.join(differing)}: use a new key for a different run",
            run_id=run.run_id, state=run.state,
        )  # fmt: skip
    return run
