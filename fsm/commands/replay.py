"""`tradefsm replay`: what a proposed risk policy would have decided on the runs already made."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fsm.commands.lifecycle import JsonOption
from fsm.commands.output import Format, emit, print_json, stdout
from fsm.commands.runs import DbOption, StoreOpener
from fsm.errors import InvalidInput

if TYPE_CHECKING:
    from fsm.ports import RunFilter
    from fsm.replay import PolicyOf, RecordedTransition, ReplayReport
    from fsm.replaystrategy import PlanReplay, RecordedRun
    from fsm.settings import Settings

CHANGES = 13  # some recorded decision would change: a CI step fails on it
DecisionReader = Callable[[str | None, "RunFilter"], Iterable["RecordedTransition"]]
RunReader = Callable[[str | None, "RunFilter"], list["RecordedRun"]]
COLUMNS = ("run_id", "account_id", "seq", "event", "guard", "was", "now", "reason", "inputs")
CSV_COLUMNS = (*COLUMNS[:-2], "was_reason", "reason", "inputs")
PLAN_COLUMNS = ("run_id", "account_id", "change", "symbol", "was", "now", "reason")


def register(app: typer.Typer, open_reader: StoreOpener, read_decisions: DecisionReader,
             read_runs: RunReader) -> None:  # fmt: skip
    @app.command()
    def replay(
        since: Annotated[
            str | None, typer.Option(help="Runs created at or after this day or UTC time.")
        ] = None,
        account: Annotated[str | None, typer.Option(help="Only this account's runs.")] = None,
        policy: Annotated[
            Path | None,
            typer.Option(help="The proposed change as a TOML file, as `policy apply` reads it."),
        ] = None,
        assignments: Annotated[
            list[str] | None,
            typer.Option("--set", help="A proposed value of the default policy: KEY=VALUE."),
        ] = None,
        strategy: Annotated[
            str | None,
            typer.Option(
                help="Also plan the runs again with this strategy plugin, on their "
                "recorded prices and account."
            ),
        ] = None,
        db: DbOption = None,
        fmt: Annotated[
            Format, typer.Option("--format", help="table for people; json or csv for scripts.")
        ] = Format.TABLE,
        as_json: JsonOption = False,
    ) -> None:
        """Decide every recorded guard decision of the selected runs again under the proposed
        policy (the policy in force with --policy or --set on top), reading the database
        only. Lists each decision that would change; with --strategy, each run's orders the
        strategy would change and the plan-guard decisions of its new plan. Exit 0 when
        nothing would change, 13 when something would, 2 for a bad option, file, key or
        value."""
        from fsm.clock import SystemClock
        from fsm.commands.embedded import settings_from
        from fsm.limits import overrides_of
        from fsm.ports import RunFilter
        from fsm.replay import replay as replay_decisions
        from fsm.replaypolicy import proposed_policy

        scopes = _scopes(policy, assignments or [])
        query = RunFilter(account_id=account, since=_since(since))
        settings = settings_from(db=db)
        overrides = overrides_of(settings)
        policy_of = proposed_policy(open_reader(db).policy_history(), scopes, overrides,
                                    SystemClock().now())  # fmt: skip
        report = replay_decisions(read_decisions(db, query), policy_of)
        plans = None
        if strategy is not None:
            transitions = _by_run(read_decisions(db, query))
            plans = _replay_plans(read_runs(db, query), transitions, strategy, settings,
                                  policy_of)  # fmt: skip
        _show(report, plans, Format.JSON if as_json else fmt)
        if report.changes or any(p.differs for p in plans or ()):
            raise typer.Exit(CHANGES)


def _by_run(transitions: Iterable[RecordedTransition]) -> dict[str, list[RecordedTransition]]:
    found: dict[str, list[RecordedTransition]] = {}
    for transition in transitions:
        found.setdefault(transition.run_id, []).append(transition)
    return found


def _replay_plans(runs: list[RecordedRun], transitions: dict[str, list[RecordedTransition]],
                  name: str, settings: Settings,
                  policy_of: PolicyOf) -> list[PlanReplay]:  # fmt: skip
    """The runs planned again by strategy plugin ``name`` (PluginNotFound, one line, when no
    such plugin is installed) over their recorded prices only."""
    from fsm.pluginports import PluggedStrategy
    from fsm.plugins import STRATEGIES, find
    from fsm.replaystrategy import Planning, RecordedPrices, replay_plans

    find(STRATEGIES, name)  # an unknown name: one line before any run is read

    def strategy_of(as_of: date, market: RecordedPrices) -> PluggedStrategy:
        return PluggedStrategy.build(settings, market, as_of, name)

    planning = Planning(settings.cash_reserve, settings.min_trade_fraction)
    return replay_plans(runs, transitions, strategy_of, planning, policy_of)


def _scopes(policy: Path | None, assignments: list[str]) -> list[tuple[str | None, dict[str, Any]]]:
    """The proposed change: a policy file's scopes, or the --set values of the default policy."""
    from fsm.commands.policy import read_scopes
    from fsm.policy import DEFAULT, parse_assignments, with_values

    if policy is not None and assignments:
        raise InvalidInput("give the proposed change as --policy FILE or as --set, not both")
    if policy is not None:
        return read_scopes(policy)
    values = parse_assignments(assignments)
    with_values(DEFAULT, values)  # a bad value: one line before the database is opened
    return [(None, values)] if values else []


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--since {text!r}: not a day (2026-01-30) or a time (2026-01-30T14:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _show(report: ReplayReport, plans: list[PlanReplay] | None, fmt: Format) -> None:
    from fsm.replaystrategy import summary as plan_summary

    summary = report.summary()
    changes = [c.as_json() for c in report.changes]
    if fmt is Format.JSON:
        extra = {} if plans is None else {"plan_summary": plan_summary(plans),
                                          "plans": [p.as_json() for p in plans]}  # fmt: skip
        print_json({"summary": summary, "changes": changes} | extra)
        return
    if plans is not None:
        rows = plan_rows(plans)
        sums = plan_summary(plans)
        title = f"{sums['plans_changed']} plan(s) of {sums['replayed']} run(s) would change"
        emit(rows, PLAN_COLUMNS, fmt, title)
        if fmt is Format.CSV:
            return  # one table per CSV: with --strategy, the plans
    title = f"{summary['changed']} decision(s) of {summary['runs_changed']} run(s) would change"
    if fmt is Format.CSV:
        emit(changes, CSV_COLUMNS, fmt, title)
        return
    from fsm.runids import short_id  # a prefix `runs show` accepts

    emit([c | {"run_id": short_id(c["run_id"])} for c in changes], COLUMNS, fmt, title)
    stdout.print(_summary_line(summary), markup=False, highlight=False)


def _summary_line(summary: dict[str, Any]) -> str:
    skipped = ", ".join(f"{g} {n}" for g, n in summary["not_replayed"].items())
    line = (f"{summary['runs']} run(s), {summary['decisions']} decision(s), "
            f"{summary['replayed']} decided again: {summary['would_refuse']} would refuse, "
            f"{summary['would_pass']} would pass")  # fmt: skip
    return line + (f"; not replayed (too few inputs recorded): {skipped}" if skipped else "")


def plan_rows(plans: list[PlanReplay]) -> list[dict[str, str]]:
    """One row per order or plan-guard decision that would change, and per run not replayed."""
    rows = []
    for p in plans:
        one = p.as_json()
        run = {"run_id": one["run_id"], "account_id": one["account_id"]}
        if not one["replayed"]:
            rows.append(run | {"change": "not_replayed", "reason": one["reason"]})
        rows += [run | {"change": "added", "symbol": o["symbol"], "now": _order(o)}
                 for o in one["added"]]  # fmt: skip
        rows += [run | {"change": "removed", "symbol": o["symbol"], "was": _order(o)}
                 for o in one["removed"]]  # fmt: skip
        rows += [run | {"change": "changed", "symbol": c["symbol"], "was": _order(c["was"]),
                        "now": _order(c["now"])} for c in one["changed"]]  # fmt: skip
        rows += [run | {"change": "guard", "symbol": g["guard"], "was": g["was"], "now": g["now"],
                        "reason": g["reason"]} for g in one["guards"]]  # fmt: skip
    return rows


def _order(order: dict[str, str]) -> str:
    return f"{order['side']} {order['qty']}"
