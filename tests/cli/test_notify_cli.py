"""`tradefsm notify --once` (cron), `events redeliver` and a worker's delivery, against a real
local receiver that verifies each signature (TRADEFSM_WEBHOOK_URL, TRADEFSM_WEBHOOK_SECRET)."""

from __future__ import annotations

import json
from datetime import datetime

from tests.cli.conftest import Cli, one_line_error
from tests.events.mailserver import mail_server
from tests.events.receiver import SECRET, receiving


def _hook(url: str, attempts: int = 10) -> dict[str, str]:
    return {"TRADEFSM_WEBHOOK_URL": url, "TRADEFSM_WEBHOOK_SECRET": SECRET,
            "TRADEFSM_WEBHOOK_ATTEMPTS": str(attempts)}  # fmt: skip


def _smtp(port: int) -> dict[str, str]:
    return {"TRADEFSM_SMTP_HOST": "127.0.0.1", "TRADEFSM_SMTP_PORT": str(port),
            "TRADEFSM_SMTP_STARTTLS": "false", "TRADEFSM_SMTP_FROM": "tradefsm@example.com",
            "TRADEFSM_SMTP_TO": "ops@example.com"}  # fmt: skip


def _event_ids(cli: Cli) -> list[str]:
    return [json.loads(line)["id"] for line in cli("events", "--json").stdout.splitlines()]


def test_notify_once_delivers_what_is_new_and_a_dead_hook_is_redelivered(ready: Cli) -> None:
    ready("run")
    with receiving() as receiver:
        receiver.status = 500
        [dead] = ready.json("notify", "--once", "--json", code=1, env_extra=_hook(receiver.url, 1))
        assert dead["dead"]
        assert "answered 500" in dead["last_error"]
        assert receiver.taken == []
        ready("notify", "--once", code=1, env_extra=_hook(receiver.url, 1))  # tries nothing
        assert receiver.tries == 1
        revived = ready.json("events", "redeliver", "--json")
        assert (revived["dead"], revived["attempts"]) == (False, 0)
        receiver.status = 200
        done = ready("notify", "--once", env_extra=_hook(receiver.url)).stdout
        assert "webhook up to date" in done
        ready("run")
        ready("notify", "--once", env_extra=_hook(receiver.url))
        assert receiver.ids() == _event_ids(ready)  # each once, in order
        ready("events", "redeliver", "--since", receiver.ids()[-2])
        ready("notify", "--once", env_extra=_hook(receiver.url))
        assert receiver.ids()[-1] == receiver.ids()[-2]  # the last one again, on request
        assert receiver.forged == 0


def test_a_worker_delivers_its_runs_events_within_a_second(ready: Cli) -> None:
    with receiving() as receiver:
        run_id = ready("submit").stdout.strip()
        ready("worker", "--max-runs", "1", env_extra=_hook(receiver.url))
        assert receiver.ids() == [i for i in _event_ids(ready) if i.startswith(run_id)]
        assert receiver.forged == 0
    late = [
        (at - datetime.fromisoformat(p["data"]["occurred_at"])).total_seconds()
        for p, at in zip(receiver.taken, receiver.received_at, strict=True)
        if p["type"] != "run.created"  # committed by `submit`, before the worker started
    ]
    assert max(late) < 1.5, late  # the worker looks every 0.5 s; a loaded machine is slower


def test_notify_without_a_webhook_and_a_bad_secret_are_one_line(ready: Cli) -> None:
    assert "TRADEFSM_WEBHOOK_URL" in one_line_error(ready("notify", "--once", code=2))
    bad = {"TRADEFSM_WEBHOOK_URL": "http://127.0.0.1:9/h", "TRADEFSM_WEBHOOK_SECRET": "s3cret"}
    line = one_line_error(ready("notify", "--once", code=2, env_extra=bad))
    assert "whsec_" in line
    assert "s3cret" not in line


def test_notify_once_mails_the_reports_beside_the_webhook(ready: Cli) -> None:
    ready("run")
    with mail_server() as (mailbox, port), receiving() as receiver:
        both = _smtp(port) | _hook(receiver.url)
        shown = ready.json("notify", "--once", "--json", env_extra=both)
        assert [(s["subscriber"], s["moved"], s["dead"]) for s in shown] == [
            ("webhook", True, False), ("email", True, False)]  # fmt: skip
        assert receiver.ids() == _event_ids(ready)
        assert [s.split(":")[0] for s in mailbox.subjects()] == ["tradefsm SUCCESS"]
        ready("notify", "--once", env_extra=both)
        assert len(mailbox.messages) == 1  # each report once
        first = _event_ids(ready)[0]
        ready("events", "redeliver", "--subscriber", "email", "--since", first)
        ready("notify", "--once", env_extra=both)
        assert mailbox.subjects()[1] == mailbox.subjects()[0]  # mailed again, on request
        assert len(receiver.ids()) == len(_event_ids(ready))  # the webhook's cursor stayed
    line = one_line_error(ready("events", "redeliver", "--subscriber", "pager", code=2))
    assert "webhook, email" in line


def test_a_worker_mails_its_runs_reports(ready: Cli) -> None:
    with mail_server() as (mailbox, port):
        run_id = ready("submit").stdout.strip()
        ready("worker", "--max-runs", "1", env_extra=_smtp(port))
    assert mailbox.subjects() == [f"tradefsm SUCCESS: run {run_id} (paper, paper)"]
