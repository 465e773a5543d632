"""Idempotency keys and correlation ids from the command line: refused alike on SQLite and
PostgreSQL, before the database is asked, with one line naming the option and its limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli, one_line_error


@pytest.fixture
def on_backend(db_url: str, tmp_path: Path) -> Cli:
    cli = Cli(tmp_path)
    cli.env["TRADEFSM_DB"] = db_url
    cli.upgrade()
    return cli


@pytest.mark.parametrize(
    ("option", "limit"), [("--idempotency-key", 200), ("--correlation-id", 64)]
)
def test_an_over_long_identifier_is_refused_naming_its_limit(
    on_backend: Cli, option: str, limit: int
) -> None:
    for command in ("run", "submit"):
        line = one_line_error(on_backend(command, option, "k" * (limit + 1), code=2))
        assert option in line
        assert f"at most {limit}" in line
    assert on_backend.json("runs", "list", "--format", "json") == []


@pytest.mark.parametrize(("option", "field", "limit"),
                         [("--idempotency-key", "idempotency_key", 200),
                          ("--correlation-id", "correlation_id", 64)])  # fmt: skip
def test_an_identifier_at_its_limit_is_stored_and_read_back(
    on_backend: Cli, option: str, field: str, limit: int
) -> None:
    value = "k-" * (limit // 2)
    on_backend("submit", option, value)
    [run] = on_backend.json("runs", "list", "--format", "json")
    assert run[field] == value


@pytest.mark.parametrize("key", ["", " ", "   ", "\t", "a b", "key\x1b[2J"])
def test_an_empty_blank_or_unprintable_idempotency_key_is_refused(ready: Cli, key: str) -> None:
    line = one_line_error(ready("run", "--idempotency-key", key, "--mode", "dry-run", code=2))
    assert "--idempotency-key" in line
    assert "\x1b" not in line
    one_line_error(ready("submit", "--idempotency-key", key, code=2))
    assert ready.json("runs", "list", "--format", "json") == []


def test_two_runs_without_a_key_stay_unrelated(ready: Cli) -> None:
    ready("run", "--mode", "dry-run")
    ready("run", "--mode", "dry-run")
    assert len(ready.json("runs", "list", "--format", "json")) == 2


@pytest.mark.parametrize("command", [("reset", "--cash", "5"), ("positions",), ("orders",)])
def test_an_empty_paper_account_is_refused_not_taken_for_the_default(
    ready: Cli, command: tuple[str, ...]
) -> None:
    ready("run", "--mode", "dry-run")  # the paper file exists, with the default account
    line = one_line_error(ready("paper", command[0], "--account", "", *command[1:], code=2))
    assert "account_id" in line
    assert "given on the command line" in line
