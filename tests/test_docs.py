"""Generated pages and the drawn chart match the code; the README keeps its two commands."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fsm.definition import MachineDefinition, compile_chart, trading_definition
from fsm.diagram import folded
from fsm.docs import DOCS, PAGES, SVG, drawn_hash, state_diagram_svg
from fsm.events import EventKinds
from fsm.machines.specs import TRADING_SPECS
from tests.conftest import TRADING_DAY
from tests.integration.test_new_state import ComplianceWorkflow


@pytest.mark.parametrize("name", sorted(PAGES))
def test_generated_page_is_current(name: str) -> None:
    assert (DOCS / name).read_text(encoding="utf-8") == PAGES[name](), (
        f"docs/{name} is out of date: run `python -m fsm.docs`"
    )


COLUMN_PT = 700  # the widest drawing shown at about three quarters of its size or more


def _lines(svg: str) -> list[str]:
    """The text of the drawing, one line of a label each."""
    return [t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]


def _assert_draws(svg: str, definition: MachineDefinition) -> None:
    """Every state by its title, every transition's event on its edge or in the note of the
    events every unfinished state has alike."""
    canonical, lines = definition.canonical(), _lines(svg)
    for state in canonical["states"]:
        assert state.replace("_", " ").capitalize() in lines, state
    labels = {word for line in lines for word in line.split()}
    for t in canonical["transitions"]:
        assert t["event"] in labels, t
    assert {t["event"] for ts in folded(canonical).values() for t in ts} == {"fail", "cancel"}


def test_the_drawing_on_the_site_is_of_the_chart_in_the_code() -> None:
    svg = (DOCS / SVG).read_text(encoding="utf-8")
    assert drawn_hash(svg) == trading_definition().definition_hash, (
        f"docs/{SVG} draws another chart: run `make diagram`"
    )
    _assert_draws(svg, trading_definition())
    # The site's column beside the navigation is about 660 px: a wider drawing is shrunk, and
    # its 10 pt labels with it, below what people read (`make diagram` draws it upright).
    assert float(ET.fromstring(svg).attrib["width"].removesuffix("pt")) <= COLUMN_PT


def test_a_changed_chart_is_drawn_anew_and_the_old_drawing_is_stale() -> None:
    changed = compile_chart(ComplianceWorkflow)  # two more states, four more events
    svg = state_diagram_svg(changed, TRADING_DAY).decode()
    assert drawn_hash(svg) == changed.definition_hash != trading_definition().definition_hash
    _assert_draws(svg, changed)
    assert "Compliance review" in _lines(svg)


def test_readme_starts_with_the_two_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme
    assert "make test" in readme
    for link in ("docs/cli.md", "docs/architecture.md", "docs/state-diagram.md"):
        assert (DOCS.parent / link).exists()


def test_every_command_in_the_cli_reference_exists() -> None:
    from typer.testing import CliRunner

    from fsm.cli import app

    text = Path(DOCS / "cli.md").read_text(encoding="utf-8")
    for command in ("db upgrade", "db current", "db check", "runs list", "runs show",
                    "paper orders", "paper positions", "paper reset"):  # fmt: skip
        assert f"tradefsm {command}" in text
        result = CliRunner().invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, result.output


def test_cli_md_names_exactly_the_run_options_submit_takes() -> None:
    """The submit row lists the request options it shares with `run`, and names the ones of
    `run` it lacks (saying why): no other option."""
    import typer

    from fsm.cli import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]

    def options(name: str) -> set[str]:
        return {o for p in commands[name].params for o in p.opts if o.startswith("--")}

    text = Path(DOCS / "cli.md").read_text(encoding="utf-8")
    [row] = [line for line in text.splitlines() if line.startswith("| `tradefsm submit` |")]
    named = set(re.findall(r"--[a-z][a-z-]*", row))
    shared = options("submit") & options("run") - {"--db", "--json", "--help"}
    assert named == shared | (options("run") - options("submit") - {"--json"}), row


def test_operations_md_names_every_event_kind_of_the_trading_spec_set() -> None:
    page = (DOCS / "operations.md").read_text(encoding="utf-8")
    listed = page[page.index("Kinds: `run.created`") : page.index("**Orders.**")]
    named = set(re.findall(r"`([a-z_.<>]+)`", listed))
    kinds = EventKinds.of(TRADING_SPECS)
    announced = {*kinds.kinds.values(), *(waiting.kind for waiting in kinds.waiting.values())}
    assert announced <= named, sorted(announced - named)
    assert "run.waiting_for_<what>" in named  # a parked state of any spec set
