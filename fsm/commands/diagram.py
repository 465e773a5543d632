"""`tradefsm diagram`: the machine, or the definition a run ran under with its path marked."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fsm.commands.output import ForceOption, OutputOption, stdout, write_output
from fsm.commands.runs import DbOption, StoreOpener
from fsm.diagram import Caption, DiagramFormat, Trace, render
from fsm.errors import InvalidInput


def register(app: typer.Typer, open_store: StoreOpener) -> None:
    @app.command("diagram")
    def draw(
        fmt: Annotated[DiagramFormat, typer.Option("--format")] = DiagramFormat.MERMAID,
        run: Annotated[
            str | None, typer.Option(help="Draw the definition this run ran under, path marked.")
        ] = None,
        output: OutputOption = None,
        force: ForceOption = False,
        db: DbOption = None,
    ) -> None:
        """The state diagram with guard names on the edges (mermaid, dot, svg, png or md).

        With --run, the run's path is numbered by ledger seq and its refused attempts drawn;
        svg, png, dot and md carry a caption (run id, definition hash, generated at). SVG and
        PNG are drawn by Graphviz (`dot`), which must be installed.
        """
        from fsm.clock import SystemClock
        from fsm.definition import trading_definition
        from fsm.runids import resolve_run_id
        from fsm.views import run_diagram

        full_id = None
        if run is not None:  # an empty --run (an unset variable) is refused, not ignored
            store = open_store(db)
            full_id = resolve_run_id(store.run_ids_starting, run)
            canonical, definition_hash, trace = run_diagram(store, full_id)
        else:
            current = trading_definition()
            canonical, definition_hash, trace = (
                current.canonical(),
                current.definition_hash,
                Trace(),
            )
        caption = Caption(definition_hash, SystemClock().now(), full_id)
        drawing = render(fmt, canonical, definition_hash, trace, caption)
        if output is None:
            if fmt is DiagramFormat.PNG and sys.stdout.isatty():
                raise InvalidInput("a PNG is binary: write it with --output FILE.png")
            sys.stdout.buffer.write(drawing)
            sys.stdout.flush()
            return
        write_output(output, drawing, force=force)
        stdout.print(f"wrote the {fmt.value} diagram to {output}")
