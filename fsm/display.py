"""How people read runs: short ids, one money format, one time format, guard decisions.

Shared by the CLI tables and the console pages (JSON output keeps the full records): money
is ``$1,234.56``, times are UTC ``2026-11-27 14:35:02``, durations ``850 ms``, ``4.2 s``,
``3 min 05 s``, ``2 h 05 min`` or ``7 d 0 h``, and a guard decision reads ``✓ name`` or
``✗ name: reason``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fsm.kinds import RunStatus
from fsm.runids import short_id

FAILURE_WIDTH = 60  # characters of a failure message a table row shows
# A run's columns in `runs list --format json` and, with what the table shows, in its CSV
# (the CLI's and the console's runs-list download).
RUN_COLUMNS = (
    "run_id",
    "state",
    "status",
    "account_id",
    "mode",
    "as_of",
    "created_at",
    "updated_at",
)
RUN_CSV_COLUMNS = (*RUN_COLUMNS, "took_seconds", "failure_type", "failure_stage", "failure_message")


def money(value: Decimal | str | float | None) -> str:
    if value is None or value == "":
        return ""
    amount = Decimal(str(value))
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def percent(share: Decimal | str | None) -> str:
    """A share as a percentage: ``0.125000`` is ``12.50%``."""
    return "" if share is None or share == "" else f"{Decimal(str(share)):.2%}"


def change(now: Decimal | None, before: Decimal | None) -> str:
    """The move from ``before`` to ``now`` as a signed percentage (``+1.52%``, ``-0.40%``)."""
    if now is None or not before:
        return ""
    return f"{now / before - 1:+.2%}"


def when(value: datetime | str | None) -> str:
    """A UTC time to the second, as every table shows it."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def when_time(value: datetime | str) -> str:
    """The time of day alone, where the date is shown once above."""
    return when(value)[11:]


def age(since: datetime | str, now: datetime) -> str:
    """How long ago, to the minute: ``under a minute``, ``12 min``, ``3 h 05 min``, ``4 d 2 h``."""
    minutes = int((now - _moment(since)).total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    if days:
        return f"{days} d {hour} h"
    return f"{hours} h {minute:02d} min" if hours else f"{minute} min"


def countdown(deadline: datetime | str, now: datetime) -> str:
    """The time left until a deadline (``in 12 min``), or since it passed (``passed 3 min ago``)."""
    moment = _moment(deadline)
    return f"in {age(now, moment)}" if moment > now else f"passed {age(moment, now)} ago"


def took(milliseconds: float | None) -> str:
    if milliseconds is None:
        return ""
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    return f"{days} d {hour} h" if days else f"{hours} h {minute:02d} min"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run_row(run: dict[str, Any], *, full_ids: bool = False) -> dict[str, str]:
    """One run as a table row that fits 80 columns (JSON keeps every field)."""
    failure = run.get("failure") or {}
    message = f"{failure.get('error_type', '')}: {failure.get('message', '')}" if failure else ""
    ms = _took_ms(run)
    return {
        "id": run["run_id"] if full_ids else short_id(run["run_id"]),
        "state": run["state"] if run["status"] != "queued" else "queued",
        "account": run["account_id"],
        "mode": run["mode"],
        "created": when(run["created_at"])[:16],
        "took": took(ms) if ms is not None else "",
        "failure": message if full_ids else _clip(message, FAILURE_WIDTH),
    }


def run_csv_row(run: dict[str, Any]) -> dict[str, Any]:
    """One run for a CSV file: its fields, with what the table shows (how long it took, in
    seconds, and its failure) in columns of their own."""
    failure = run.get("failure") or {}
    ms = _took_ms(run)
    return run | {
        "took_seconds": "" if ms is None else f"{ms / 1000:.3f}",
        "failure_type": failure.get("error_type", ""),
        "failure_stage": failure.get("stage", ""),
        "failure_message": failure.get("message", ""),
    }


def _took_ms(run: dict[str, Any]) -> float | None:
    """How long an ended run took, from its creation to its last transition."""
    if run["status"] not in (RunStatus.DONE, RunStatus.FAILED):
        return None
    return (_moment(run["updated_at"]) - _moment(run["created_at"])).total_seconds() * 1000


def _moment(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def guard_text(decision: dict[str, Any]) -> str:
    mark = "✓" if decision["passed"] else "✗"
    return f"{mark} {decision['name']}" + ("" if decision["passed"] else f": {decision['reason']}")


def ledger_row(entry: dict[str, Any]) -> dict[str, str]:
    """A ledger row for people: the move, who made it (the actor, and the process that
    committed it), each guard's decision, any error."""
    target = entry["target"] or f"refused (stays {entry['source']})"
    error = f"{entry['error_type']}: {entry['error_message']}" if entry["error_type"] else ""
    return {
        "seq": str(entry["seq"]),
        "at": when(entry["occurred_at"]),
        "transition": f"{entry['event']} by {entry['actor']}\n{entry['source'] or '∅'} → {target}",
        "guards": "\n".join(guard_text(g) for g in entry["guards"]) or "—",
        "took": took(entry["duration_ms"]),
        "process": entry.get("process") or "",
        "error": error,
    }


def cancel_line(request: dict[str, Any]) -> str:
    """A pending cancel request for people: who asked, when (UTC) and why."""
    at = when(request["requested_at"])
    return f"requested by {request['actor']} at {at} UTC: {request['reason']}"


def order_row(order: dict[str, Any]) -> dict[str, str]:
    filled = order.get("filled_qty")
    return {
        "order": order["client_order_id"],
        "side": order["side"],
        "symbol": order["symbol"],
        "qty": str(order["qty"]),
        "price": money(order.get("avg_price") or order.get("reference_price")),
        "filled": "" if filled is None else str(filled),
        "status": order["status"],
    }


def inputs_summary(checkpoints: list[dict[str, Any]]) -> list[str]:
    """What the run decided on: signals, prices with their dates, the plan, the outcome."""
    lines = []
    for checkpoint in checkpoints:
        output, state = checkpoint["output"], checkpoint["state"]
        if "targets" in output:
            weights = ", ".join(f"{t['symbol']} {Decimal(t['weight']):.0%}"
                                for t in output["targets"])  # fmt: skip
            lines.append(f"signals ({output['strategy']}, as of {output['as_of']}): {weights}")
            shares = output.get("contributions", {}).items()
            lines += [f"  from {name}: {_share(share)}" for name, share in shares]
        elif "max_drift" in output:
            lines.append(
                f"analysis: portfolio {money(output['portfolio_value'])}, cash "
                f"{money(output['cash'])}, drift {Decimal(output['max_drift']):.2%} "
                f"(threshold {Decimal(output['drift_threshold']):.2%})"
            )
            source = output.get("market_data")
            lines += [f"  prices from {price_source(source)}"] if source else []
        elif "items" in output:
            trades = [i for i in output["items"] if i["action"] != "HOLD"]
            dates = sorted(set(output.get("price_dates", {}).values())) or [output["as_of"]]
            lines.append(f"plan: {len(trades)} trade(s) on prices of {', '.join(dates)}, "
                         f"portfolio {money(output['portfolio_value'])}")  # fmt: skip
        elif "outcome" in output:
            lines.append(f"execution: {output['outcome']}, {output['succeeded']} of "
                         f"{output['placed']} order(s) succeeded")  # fmt: skip
        else:
            lines.append(f"{state}: {', '.join(sorted(output))}")
    return lines


def price_source(source: dict[str, str], *, full: bool = False) -> str:
    """Where a run's prices came from: the plugin and, for a file, its path and SHA-256 (all
    of it with ``full``), for an endpoint, it and the window asked for."""
    said = f"{source['name']} {source['version']}"
    if "path" in source:
        sha256 = source.get("sha256", "?")
        said += f": {source['path']} (sha256 {sha256 if full else sha256[:12] + '…'})"
    elif "endpoint" in source:
        said += f": {source['endpoint']} ({source.get('feed', '')}, {source.get('window', '')})"
    return said


def strategy_shares(checkpoints: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """A portfolio run's strategies and each one's part of the targets (none for a single
    strategy), as the signal checkpoint keeps them."""
    signals = [c["output"] for c in checkpoints if "targets" in c["output"]]
    shares = signals[-1].get("contributions") or {} if signals else {}
    return [(name, _share(share)) for name, share in shares.items()]


def _share(share: dict[str, str]) -> str:
    """A portfolio strategy's part of the targets."""
    return ", ".join(f"{s} {Decimal(w):.1%}" for s, w in share.items())
