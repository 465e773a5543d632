"""What the console tells about a run beyond its rows: whether it is stuck (active, not
parked for a person, and no live process drives it), stranded (pinned to another machine
definition than this tradefsm's, ``fsm.pinning``) and its retry lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fsm.kinds import RunStatus
from fsm.leases import unattended
from fsm.machines.specs import TRADING_SPECS
from fsm.pinning import is_stranded
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord

RETRIES_SHOWN = 20
CURRENT = TRADING_SPECS.definition.definition_hash  # the definition this console's code runs


def stuck(run: RunRecord, now: datetime) -> bool:
    """An active run nobody drives: its lease expired or its process on this host is gone
    (what `tradefsm resume` continues); a run parked for a person is waiting, not stuck."""
    return (
        run.status is RunStatus.ACTIVE
        and run.state not in TRADING_SPECS.parked_states
        and unattended(run, now)
        and not stranded(run)  # nothing resumes it: it is stranded, which says what helps
    )


def stranded(run: RunRecord) -> bool:
    """An unfinished run pinned to another machine definition: nothing drives it until
    `tradefsm runs migrate` moves it."""
    return is_stranded(run, TRADING_SPECS.definition)


def lineage(store: RunStore, run: RunRecord) -> dict[str, Any]:
    """The run it retries (``retry_of``) and the runs that retry it (``retried_as``): a retry
    is of the same account and younger, which the (account, created_at) index narrows."""
    query = RunFilter(account_id=run.account_id, since=run.created_at, retry_of=run.run_id,
                      limit=RETRIES_SHOWN)  # fmt: skip
    retries = store.list_runs(query)
    return {"retry_of": run.parent_run_id, "retried_as": [r.run_id for r in retries]}
