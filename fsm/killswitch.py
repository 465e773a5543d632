"""`tradefsm halt` and `unhalt` as library calls: record the halt, then cancel what is open.

A halt is recorded first (``fsm.halts``): from then on no run of its scope starts, no driver
sends another order and no worker claims one. Then the orders of the scope's active runs that
the broker still holds open are cancelled at the broker, by ``client_order_id``, without
waiting for their drivers: each run's driver (or `resume` after an unhalt) records the
broker's answer when it reconciles. Orders tradefsm did not place are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fsm import halts
from fsm.errors import TradeFsmError
from fsm.halts import Halt, ThrottleLimits
from fsm.ports import Broker, RunFilter, RunStore
from fsm.steps.execution import OPEN_STATUSES

SCAN = 10_000  # active runs looked at: one per account at most


@dataclass(frozen=True)
class Halted:
    """What `halt` did: the halt in force, whether this call recorded it, and the orders it
    cancelled (``client_order_id`` → the broker's status) or could not cancel (→ why)."""

    halt: Halt
    recorded: bool
    cancelled: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"halt": self.halt.model_dump(mode="json"), "recorded": self.recorded,
                "cancelled": self.cancelled, "refused": self.refused}  # fmt: skip


def halt_trading(
    store: RunStore, account_id: str | None, actor: str, reason: str, process: str,
    now: datetime, broker_for: Callable[[str], Broker],
) -> Halted:  # fmt: skip
    """Halt ``account_id`` (None: every account), then cancel its open orders at the broker."""
    entry, recorded = halts.halt(store, account_id, actor, reason, process, now)
    outcome = Halted(entry, recorded)
    for run in store.list_runs(RunFilter(status="active", limit=SCAN)):
        if account_id is not None and run.account_id != account_id:
            continue
        open_orders = [i for i in store.intents(run.run_id) if i.status in OPEN_STATUSES]
        for stored in open_orders:
            coid = stored.intent.client_order_id
            try:
                outcome.cancelled[coid] = broker_for(run.account_id).cancel(coid).status
            except TradeFsmError as exc:
                outcome.refused[coid] = exc.message
    return outcome


def unhalt_trading(store: RunStore, account_id: str | None, actor: str, reason: str,
                   process: str, now: datetime, limits: ThrottleLimits) -> Halt:  # fmt: skip
    """Lift the halt of ``account_id`` (None: the every-account halt)."""
    return halts.unhalt(store, account_id, actor, reason, process, now, limits)
