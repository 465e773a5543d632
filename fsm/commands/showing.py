"""How `runs list|show|watch` print for people: the tables and lines they show."""

from __future__ import annotations

from typing import Any

from rich.panel import Panel

from fsm.commands.output import compact, print_wide, stdout
from fsm.display import (
    cancel_line,
    inputs_summary,
    ledger_row,
    order_row,
    run_row,
    when,
    when_time,
)
from fsm.halts import Halt
from fsm.machines.names import TradingState as S
from fsm.records import LedgerEntry

LIST_COLUMNS = ("id", "state", "account", "mode", "created", "took", "failure")
# (min, max) widths that keep a run on one line of an 80-column terminal
LIST_WIDTHS = {"id": (12, 12), "state": (6, 17), "account": (7, 14), "mode": (5, 12),
               "created": (16, 16), "took": (4, 8), "failure": (7, 60)}  # fmt: skip
# the failure is shown above; the process that committed each row, for rows that name one
LEDGER_COLUMNS = ("seq", "at", "transition", "guards", "took", "process")
ORDER_COLUMNS = ("order", "side", "symbol", "qty", "price", "filled", "status")


def print_halts(halts: list[Halt]) -> None:
    """The halts in force, above a listing: prominent, one line each."""
    for halt in halts:
        stdout.print(f"TRADING HALTED: {halt.said()}", style="bold red", markup=False,
                     highlight=False)  # fmt: skip


def halt_line(halt: dict[str, Any]) -> str:
    return Halt.model_validate(halt).said()


def print_runs(rows: list[dict[str, Any]], *, no_trunc: bool) -> None:
    shown = [run_row(r, full_ids=no_trunc) for r in rows]
    table = compact(shown, LIST_COLUMNS, f"{len(rows)} run(s)", wrap=no_trunc, widths=LIST_WIDTHS)
    if no_trunc:
        print_wide(table, shown, LIST_COLUMNS)
    else:
        stdout.print(table)


WATCH_EXIT: dict[str, int] = {S.FAILED: 1, S.AWAITING_APPROVAL: 9}


def print_transition(entry: LedgerEntry) -> None:
    row = ledger_row(entry.model_dump(mode="json"))
    move = row["transition"].replace("\n", ": ", 1)
    guards = "; ".join(row["guards"].splitlines()) if row["guards"] != "—" else ""
    line = f"{row['at']}  {row['seq']:>3}  {move}" + (f"  [{guards}]" if guards else "")
    stdout.print(line + (f"  {row['error']}" if row["error"] else ""), markup=False,
                 highlight=False)  # fmt: skip


def print_details(details: dict[str, Any]) -> None:
    """`runs show` for people: a summary panel, inputs, ledger, attempts and orders."""
    run = details["run"]
    failure = run["failure"]
    lines = [
        f"state      {run['state']} ({run['status']})",
        f"account    {run['account_id']}   mode {run['mode']}   as of {run['as_of']}",
        f"created    {when(run['created_at'])} UTC by {details['requested_by']}",
        f"updated    {when(run['updated_at'])} UTC   version {run['version']}",
        f"definition {run['definition_hash'][:16]}",
    ]
    if failure:
        lines.append(f"failure    {failure['error_type']} in {failure['stage']}: "
                     f"{failure['message']}")  # fmt: skip
    lines += [f"{a['event']:<10} by {a['actor']} (seq {a['seq']}"
              f"{'' if a['accepted'] else ', refused'}): {signature_text(a)}"
              for a in details.get("approvals", ())]  # fmt: skip
    lines[:0] = [f"HALTED     {halt_line(h)}" for h in details.get("halted", ())]
    if details["pending_cancel"]:
        lines.append(f"cancel     {cancel_line(details['pending_cancel'])} (pending)")
    if details["resume_policy"]:
        policy = details["resume_policy"]
        lines.append(f"on resume  {policy['on_resume']} ({policy['note']})")
    panel = Panel("\n".join(lines), title=f"run {run['run_id']}", title_align="left",
                  expand=False)  # fmt: skip
    stdout.print(panel, markup=False, highlight=False)
    inputs = inputs_summary(details["checkpoints"])
    if inputs:
        stdout.print("inputs", style="bold")
        for line in inputs:
            stdout.print(f"  {line}", markup=False, highlight=False, soft_wrap=False)
    ledger = [ledger_row(e) | {"at": when_time(e["occurred_at"])} for e in details["ledger"]]
    stdout.print(compact(ledger, _filled(ledger, LEDGER_COLUMNS), "ledger (UTC)", wrap=True))
    tries = [_try_row(a) for a in details.get("attempts", ()) if a["outcome"] == "error"]
    if tries:
        stdout.print(compact(tries, ("at", "state", "try", "error"), "failed tries (UTC)",
                             wrap=True))  # fmt: skip
    orders = [order_row(o) for o in details["orders"]]
    if orders:
        stdout.print(compact(orders, _filled(orders, ORDER_COLUMNS), "orders", wrap=True))


def _try_row(attempt: dict[str, Any]) -> dict[str, str]:
    """A failed try of a step (a timeout, a transient error) as `runs show` lists it."""
    return {"at": when_time(attempt["started_at"]), "state": attempt["state"],
            "try": str(attempt["attempt"]),
            "error": f"{attempt['error_type']}: {attempt['error_message']}"}  # fmt: skip


def signature_text(approval: dict[str, Any]) -> str:
    """An approval's signature as people read it: signed by which key, unsigned, or invalid."""
    if approval["status"] == "signed":
        return f"signed with key {approval['fingerprint']} at {approval['signed_at']}"
    if approval["status"] == "invalid":
        return "INVALID signature" + (f": {approval['problem']}" if approval["problem"] else "")
    return "unsigned"


def _filled(rows: list[dict[str, str]], columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns with something to show: an empty error column costs a narrow terminal."""
    return tuple(c for c in columns if any(row.get(c) for row in rows))
