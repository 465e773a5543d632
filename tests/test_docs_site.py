"""The documentation site (`make docs`) builds with --strict, and a broken link or anchor, a page
missing from the navigation or a missing API reference fails the build, so it fails the suite."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 240  # about 4 s alone; the machine may be loaded
# The build fetches nothing (no web fonts, no privacy or social plugin): any HTTP client that
# tried would be sent to a closed port and fail the build.
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
NO_NETWORK = dict.fromkeys(_PROXIES, "http://127.0.0.1:9") | {"NO_PROXY": "", "no_proxy": ""}


def _build(config_dir: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=config_dir,
        env=os.environ | NO_NETWORK | {"NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )


def _copy_of_the_sources(tmp_path: Path) -> Path:
    """The config, docs/, its hooks and the packages the reference reads, in a folder of its own."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy)
    shutil.copytree(ROOT / "docs", copy / "docs")
    for folder in ("fsm", "persistence", "scripts"):
        (copy / folder).symlink_to(ROOT / folder)
    return copy


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = _build(ROOT, site)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return site


def test_every_page_of_docs_is_on_the_site(site: Path) -> None:
    for page in (ROOT / "docs").rglob("*.md"):
        name = page.relative_to(ROOT / "docs").with_suffix("")
        folder = name.parent if name.name == "index" else name
        assert (site / folder / "index.html").exists(), f"docs/{name}.md is not on the site"


@pytest.mark.parametrize(
    ("page", "objects"),
    [
        ("ports", ["fsm.ports.SignalSource.generate", "fsm.ports.Broker.submit"]),
        ("records", ["fsm.pluginrecords.SignalSet", "fsm.pluginrecords.PriceSnapshot.dates"]),
        ("facade", ["fsm.compat.orchestrator.TradingOrchestrator.execute_strategy_signals"]),
        ("errors", ["fsm.errors.TradeFsmError", "fsm.errors.PluginFailed"]),
    ],
)
def test_the_api_reference_shows_the_docstrings(site: Path, page: str, objects: list[str]) -> None:
    html = (site / "reference" / page / "index.html").read_text(encoding="utf-8")
    for name in objects:
        assert f'id="{name}"' in html, f"{name} is missing from reference/{page}"


def test_a_port_links_the_records_it_returns(site: Path) -> None:
    html = (site / "reference" / "ports" / "index.html").read_text(encoding="utf-8")
    # SignalSource.generate's result
    assert 'href="../records/#fsm.pluginrecords.SignalSet"' in html


def test_a_pipe_in_a_table_cell_reads_as_a_pipe(site: Path) -> None:
    """docs/ escape it for GitHub (`table\\|json`); the site shows the option as typed."""
    html = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "keys list [--format table|json|csv]" in html
    assert "table\\|json" not in html


def test_the_state_diagram_is_drawn_not_shown_as_source(site: Path) -> None:
    """The page shows the chart drawn (the SVG `make diagram` commits, checked against the
    chart by tests/test_docs.py), linked to itself at full size; no Mermaid text."""
    html = (site / "state-diagram" / "index.html").read_text(encoding="utf-8")
    assert '<a href="../state-diagram.svg"><img alt="The trading chart' in html
    assert 'src="../state-diagram.svg"' in html
    assert "stateDiagram-v2" not in html
    drawn = (site / "state-diagram.svg").read_bytes()
    assert drawn == (ROOT / "docs" / "state-diagram.svg").read_bytes()


def test_the_site_loads_nothing_from_elsewhere(site: Path) -> None:
    """Fonts, scripts and styles all come with the site: it reads the same offline."""
    external = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', re.IGNORECASE)
    for page in site.rglob("*.html"):
        found = external.search(page.read_text(encoding="utf-8"))
        assert found is None, f"{page.relative_to(site)} loads {found and found.group(0)}"


@pytest.mark.parametrize(
    ("page", "added", "named"),
    [
        ("tutorial.md", "See [the missing page](no-such-page.md).", "no-such-page.md"),
        ("tutorial.md", "See [a lost section](cli.md#no-such-section).", "no-such-section"),
        ("reference/errors.md", "::: fsm.nonexistent", "fsm.nonexistent"),
        ("not-in-the-nav.md", "# A page nobody can reach", "not-in-the-nav.md"),
    ],
    ids=["broken link", "broken anchor", "missing reference", "page not in the navigation"],
)
def test_a_broken_page_fails_the_build(tmp_path: Path, page: str, added: str, named: str) -> None:
    copy = _copy_of_the_sources(tmp_path)
    with (copy / "docs" / page).open("a", encoding="utf-8") as text:
        text.write(f"\n{added}\n")
    result = _build(copy, tmp_path / "site")
    assert result.returncode != 0
    assert named in result.stderr


def test_a_build_that_fetches_fails_here(tmp_path: Path) -> None:
    """What the offline guard catches: Material's privacy plugin, which downloads web fonts."""
    copy = _copy_of_the_sources(tmp_path)
    config = (copy / "mkdocs.yml").read_text(encoding="utf-8")
    fetching = config.replace("  font: false\n", "").replace(
        "  - search\n", "  - search\n  - privacy\n"
    )
    (copy / "mkdocs.yml").write_text(fetching, encoding="utf-8")
    result = _build(copy, tmp_path / "site")
    assert result.returncode != 0
    assert "Couldn't retrieve https://fonts.googleapis.com" in result.stderr
