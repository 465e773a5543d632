"""Several subscribers from tradefsm.toml (``[[subscribers]]``), each delivered from a cursor
of its own, beside the webhook of TRADEFSM_WEBHOOK_URL, to real local receivers and a real
local SMTP server."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, one_line_error
from tests.cli.test_notify_cli import _hook, _smtp
from tests.events.mailserver import mail_server
from tests.events.receiver import SECRET, receiving


def _webhook_table(name: str, url: str, attempts: int = 10) -> str:
    return (f'[[subscribers]]\nname = "{name}"\nkind = "webhook"\nurl = "{url}"\n'
            f'secret = "{SECRET}"\nattempts = {attempts}\n\n')  # fmt: skip


def _event_ids(cli: Cli) -> list[str]:
    return [json.loads(line)["id"] for line in cli("events", "--json").stdout.splitlines()]


def test_each_configured_subscriber_has_its_own_cursor(ready: Cli) -> None:
    ready("run")
    with receiving() as ops, receiving() as desk, receiving() as env_hook, mail_server() as (
        mailbox, port,
    ):  # fmt: skip
        desk.status = 500
        config = (_webhook_table("ops-hook", ops.url)
                  + _webhook_table("desk-hook", desk.url, attempts=1)
                  + '[[subscribers]]\nname = "risk-mail"\nkind = "email"\n'
                  'to = ["risk@example.com"]\n')  # fmt: skip
        (ready.folder / "tradefsm.toml").write_text(config, encoding="utf-8")
        env = _hook(env_hook.url) | _smtp(port)
        shown = ready.json("notify", "--once", "--json", code=1, env_extra=env)
        assert [(s["subscriber"], s["moved"], s["dead"]) for s in shown] == [
            ("webhook", True, False), ("email", True, False), ("ops-hook", True, False),
            ("desk-hook", False, True), ("risk-mail", True, False)]  # fmt: skip
        ids = _event_ids(ready)
        assert ops.ids() == ids  # the environment's webhook keeps working beside them
        assert env_hook.ids() == ids
        assert desk.ids() == []
        assert [m["To"] for m in mailbox.messages] == ["ops@example.com", "risk@example.com"]
        desk.status = 204
        revived = ready.json("events", "redeliver", "--subscriber", "desk-hook", "--json")
        assert (revived["subscriber"], revived["dead"]) == ("desk-hook", False)
        ready("notify", "--once", env_extra=env)
        assert desk.ids() == ids
        assert ops.ids() == ids  # its cursor had moved: nothing twice
    assert ops.forged == desk.forged == 0


def test_a_bad_subscriber_table_is_one_line(ready: Cli) -> None:
    table = _webhook_table("ops-hook", "http://127.0.0.1:9/h")
    (ready.folder / "tradefsm.toml").write_text(table + table, encoding="utf-8")
    assert "two subscribers are named 'ops-hook'" in one_line_error(
        ready("notify", "--once", code=2)
    )
    mail = '[[subscribers]]\nname = "risk-mail"\nkind = "email"\nto = ["r@example.com"]\n'
    (ready.folder / "tradefsm.toml").write_text(mail, encoding="utf-8")
    assert "TRADEFSM_SMTP_HOST" in one_line_error(ready("notify", "--once", code=2))
    bad = table.replace(SECRET, "s3cret")
    (ready.folder / "tradefsm.toml").write_text(bad, encoding="utf-8")
    line = one_line_error(ready("notify", "--once", code=2))
    assert "whsec_" in line
    assert "s3cret" not in line
