"""Cancel in executing tells the truth about every order: reconciled, then stood down."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from tests.resume.test_crash import Site


def test_cancel_mid_execution_reconciles_then_withdraws_the_unsent(tmp_path: Path) -> None:
    site = Site(tmp_path, protect=True)
    code, _, _ = site.cli("run", "--account", "cx", TRADEFSM_FAILPOINTS="broker.submitted@3")
    assert code == -signal.SIGKILL
    run_id = site.active_run()
    sent = set(site.orders_of("cx"))
    assert len(sent) == 3  # the third reached the broker, its ack was never stored
    code, out, err = site.cli("cancel", run_id, "--actor", "me", "--reason", "stop")
    assert code == 0, err
    intents = {i.intent.client_order_id: i.status for i in site.store.intents(run_id)}
    assert {intents[c] for c in sent} == {"filled"}  # what the broker did, not "pending"
    assert {s for c, s in intents.items() if c not in sent} == {"cancelled"}  # never sent
    history = Counter(e.status for e in site.store.intent_events(run_id))
    assert history["cancelled"] == len(intents) - 3
    assert set(site.orders_of("cx")) == sent  # nothing more was sent
    run = site.store.get_run(run_id)
    assert (run.state, run.failure["error_type"]) == ("failed", "Cancelled")
    code, out, _ = site.cli("audit", "verify", "--run", run_id)
    assert code == 0, out
