"""`tradefsm replay`: what a proposed risk policy would have decided on the runs already made."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fsm.commands.lifecycle import JsonOption
from fsm.commands.output import Format, emit, print_json, stdout
from fsm.commands.runs import DbOption, StoreOpener
from fsm.errors import InvalidInput

if TYPE_CHECKING:
    from fsm.ports import RunFilter
    from fsm.replay import RecordedTransition, ReplayReport

CHANGES = 13  # some recorded decision would change: a CI step fails on it
DecisionReader = Callable[[str | None, "RunFilter"], Iterable["RecordedTransition"]]
COLUMNS = ("run_id", "account_id", "seq", "event", "guard", "was", "now", "reason", "inputs")
CSV_COLUMNS = (*COLUMNS[:-2], "was_reason", "reason", "inputs")


def register(app: typer.Typer, open_reader: StoreOpener, read_decisions: DecisionReader) -> None:
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
        db: DbOption = None,
        fmt: Annotated[
            Format, typer.Option("--format", help="table for people; json or csv for scripts.")
        ] = Format.TABLE,
        as_json: JsonOption = False,
    ) -> None:
        """Decide every recorded guard decision of the selected runs again under the proposed
        policy (the policy in force with --policy or --set on top), reading the database
        only. Lists each decision that would change; exit 0 when none would, 13 when one
        would, 2 for a bad option, file, key or value."""
        from fsm.clock import SystemClock
        from fsm.commands.embedded import settings_from
        from fsm.limits import overrides_of
        from fsm.ports import RunFilter
        from fsm.replay import replay as replay_decisions
        from fsm.replaypolicy import proposed_policy

        scopes = _scopes(policy, assignments or [])
        query = RunFilter(account_id=account, since=_since(since))
        overrides = overrides_of(settings_from(db=db))
        policy_of = proposed_policy(open_reader(db).policy_history(), scopes, overrides,
                                    SystemClock().now())  # fmt: skip
        report = replay_decisions(read_decisions(db, query), policy_of)
        _show(report, Format.JSON if as_json else fmt)
        if report.changes:
            raise typer.Exit(CHANGES)


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


def _show(report: ReplayReport, fmt: Format) -> None:
    summary = report.summary()
    changes = [c.as_json() for c in report.changes]
    if fmt is Format.JSON:
        print_json({"summary": summary, "changes": changes})
        return
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
