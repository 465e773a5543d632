"""Every `TRADEFSM_*` name the README and docs/*.md mention is one the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from fsm.failpoints import ENV as FAILPOINTS_ENV
from fsm.settings import Settings

ROOT = Path(__file__).parent.parent
PREFIX = Settings.model_config["env_prefix"]
# Read outside the settings class: failpoints, the log level before settings load, the
# console's port (an option's default) and the console tests' screenshot refresh.
OTHER_NAMES = {
    FAILPOINTS_ENV: "fsm",
    "TRADEFSM_LOG_LEVEL": "fsm",
    "TRADEFSM_CONSOLE_PORT": "fsm",
    "TRADEFSM_UPDATE_SCREENSHOTS": "tests",
}


def _mentioned() -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for name in re.findall(r"\bTRADEFSM_[A-Z0-9_]*[A-Z0-9]", page.read_text(encoding="utf-8")):
            names.setdefault(name, set()).add(page.name)
    return names


def test_every_setting_the_docs_name_exists() -> None:
    settings = {f"{PREFIX}{field}".upper() for field in Settings.model_fields}
    unknown = {
        name: sorted(pages)
        for name, pages in _mentioned().items()
        if name not in settings and name not in OTHER_NAMES
    }
    assert not unknown, f"no such setting in fsm/settings.py: {unknown}"


def test_the_names_read_outside_the_settings_are_read_where_said() -> None:
    for name, folder in OTHER_NAMES.items():
        sources = (p.read_text(encoding="utf-8") for p in (ROOT / folder).rglob("*.py"))
        assert any(name in text for text in sources), f"{name} is not read in {folder}/"
    assert set(OTHER_NAMES) <= set(_mentioned())
