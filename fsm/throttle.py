"""The kill switch's throttle: failed executions and broker rejections that halt an account.

After every run that ends, the engine counts, for that run's account, the runs that failed
while executing (a halt's own stops aside) and the orders the broker rejected, since the
window's start or the account's last unhalt, whichever is later. At ``halt_after_failures``
it halts the account (``fsm.halts``) in the name of the process that counted, with the counts
and the window as the reason; only a person lifts it (`tradefsm unhalt`).
"""

from __future__ import annotations

from datetime import datetime

from fsm import halts
from fsm.canonical import utc_text
from fsm.errors import TradingHalted
from fsm.halts import Halt, ThrottleLimits
from fsm.kinds import RunStatus
from fsm.machines.names import TradingState as S
from fsm.ports import RunFilter, RunStore

SCAN = 1000  # the account's latest runs looked at: far more than a window holds


def failures(store: RunStore, account_id: str, since: datetime) -> tuple[int, int]:
    """(runs failed while executing, orders rejected by the broker) of ``account_id`` since."""
    failed = rejected = 0
    for run in store.list_runs(RunFilter(account_id=account_id, limit=SCAN)):
        if run.updated_at < since:
            continue
        failure = run.failure or {}
        if (run.status is RunStatus.FAILED and failure.get("stage") == S.EXECUTING
                and failure.get("error_type") != TradingHalted.__name__):  # fmt: skip
            failed += 1
        events = store.intent_events(run.run_id)
        rejected += sum(1 for e in events if e.status == "rejected" and e.recorded_at >= since)
    return failed, rejected


def trip(store: RunStore, account_id: str, limits: ThrottleLimits, process: str,
         now: datetime) -> Halt | None:  # fmt: skip
    """Halt ``account_id`` when its failures in the window reach the limit; the halt, or None."""
    limit = limits.halt_after_failures
    if limit is None:
        return None
    rows = store.halts()
    if halts.in_force(rows, account_id):
        return None
    since = halts.since_last_unhalt(rows, account_id, halts.window_start(now, limits))
    failed, rejected = failures(store, account_id, since)
    if failed + rejected < limit:
        return None
    reason = (f"throttle: {failed} failed execution(s) and {rejected} broker rejection(s) "
              f"since {utc_text(since)} reached halt_after_failures={limit} within "
              f"{limits.window_seconds:g} s")  # fmt: skip
    actor = "throttle:" + "/".join(process.split("/")[:2])  # host/pid of the counting process
    return halts.halt(store, account_id, actor, reason, process, now)[0]
