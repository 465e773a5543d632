"""`tradefsm diagram`: the machine, or the definition a run ran under with its path marked."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from fsm import diagram
from fsm.commands.output import stdout
from fsm.commands.runs import DbOption
from fsm.definition import trading_definition
from fsm.ports import RunStore

StoreOpener = Callable[[str | None], RunStore]


class DiagramFormat(StrEnum):
    MERMAID = "mermaid"
    DOT = "dot"
    SVG = "svg"
    MD = "md"


def render(fmt: DiagramFormat, canonical: dict[str, Any], definition_hash: str,
           path: diagram.Path) -> str:  # fmt: skip
    if fmt is DiagramFormat.MD:
        return diagram.markdown(canonical, definition_hash, path)
    return {"mermaid": diagram.mermaid, "dot": diagram.dot, "svg": diagram.svg}[fmt.value](
        canonical, path
    )


def run_diagram(store: RunStore, run_id: str) -> tuple[dict[str, Any], str, diagram.Path]:
    """The stored definition a run ran under, and the transitions it took."""
    run = store.get_run(run_id)
    definition = store.definition(run.definition_hash)
    taken = frozenset(
        (e.source, e.event, e.target)
        for e in store.ledger(run_id)
        if e.accepted and e.source is not None and e.target is not None
    )
    return definition.canonical, definition.definition_hash, taken


def register(app: typer.Typer, open_store: StoreOpener) -> None:
    @app.command("diagram")
    def draw(
        fmt: Annotated[DiagramFormat, typer.Option("--format")] = DiagramFormat.MERMAID,
        run: Annotated[
            str | None, typer.Option(help="Draw the definition this run ran under, path marked.")
        ] = None,
        output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
        db: DbOption = None,
    ) -> None:
        """The state diagram with guard names on the edges (mermaid, dot, svg or md)."""
        if run:
            canonical, definition_hash, path = run_diagram(open_store(db), run)
        else:
            current = trading_definition()
            canonical, definition_hash, path = (
                current.canonical(),
                current.definition_hash,
                frozenset(),
            )
        text = render(fmt, canonical, definition_hash, path)
        if output is None:
            print(text, end="")
            return
        output.write_text(text, encoding="utf-8")
        stdout.print(f"wrote the {fmt.value} diagram to {output}")
