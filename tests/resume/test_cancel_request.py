"""The cancel request protocol: `cancel` of a run a live process drives records who asked, why
and when; the holder stands down before its next order; only then is the run cancelled, its
orders reconciled, and the ledger names the process that moved each transition."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fsm.adapters.paper_broker import PaperBroker
from tests.resume.test_crash import Site
from tests.resume.test_interrupts import _wait_for_a_first_order


def _slow_holder(tmp_path: Path, url: str) -> tuple[Site, subprocess.Popen[str], str]:
    """A `run` that sent its first order and spends seconds on each broker call."""
    site = Site(tmp_path, protect=False, url=url, TRADEFSM_PAPER_LATENCY_MS="3000",
                TRADEFSM_LEASE_SECONDS="300")  # fmt: skip
    driving = site.start("run")
    _wait_for_a_first_order(site)
    return site, driving, site.active_run()


def _details(site: Site, run_id: str) -> dict[str, object]:
    code, out, err = site.cli("runs", "show", run_id, "--format", "json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_the_holder_obeys_a_recorded_request_before_the_run_is_cancelled(
    db_url: str, tmp_path: Path
) -> None:
    site, driving, run_id = _slow_holder(tmp_path, db_url)
    holder = site.store.get_run(run_id).lease_owner
    cancel = site.start("cancel", run_id, "--actor", "ops-alice", "--reason", "market halt")
    out, err = cancel.communicate(timeout=180)
    assert cancel.returncode == 0, err
    progress = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("{")]
    assert len(progress) == 1
    assert f"waiting up to 305 s for {holder} to stand down" in err
    sent_when_cancelled = {o.client_order_id: o.status for o in PaperBroker(site.paper).orders()}
    _, driven_err = driving.communicate(timeout=120)
    assert driving.returncode == 5, driven_err
    assert "a cancel was requested" in driven_err
    assert "Traceback" not in driven_err
    assert {o.client_order_id: o.status for o in PaperBroker(site.paper).orders()} == (
        sent_when_cancelled
    )  # nothing was sent after cancel returned

    details = _details(site, run_id)
    [request] = details["cancel_requests"]  # type: ignore[misc]
    assert (request["actor"], request["reason"]) == ("ops-alice", "market halt")
    assert details["pending_cancel"] is None  # the run is cancelled: nothing pending
    ledger = details["ledger"]
    last = ledger[-1]  # type: ignore[index]
    assert (last["event"], last["actor"], last["scheme"]) == ("cancel", "ops-alice", 4)
    assert last["commits"]["cancel_requests"] == request["hash"]
    assert last["process"] == request["process"] != holder  # the cancel moved it
    assert {e["process"] for e in ledger[:-1]} == {holder}  # type: ignore[index]
    recorded = {i.intent.client_order_id: i.status for i in site.store.intents(run_id)}
    assert {coid: recorded[coid] for coid in sent_when_cancelled} == sent_when_cancelled
    assert set(recorded.values()) - set(sent_when_cancelled.values()) <= {"cancelled"}
    code, out, err = site.cli("audit", "verify", "--run", run_id, "--json")
    assert code == 0, out + err


def test_a_request_stays_pending_past_the_wait_and_a_second_cancel_completes_it(
    db_url: str, tmp_path: Path
) -> None:
    site, driving, run_id = _slow_holder(tmp_path, db_url)
    code, _, err = site.cli("cancel", run_id, "--actor", "ops-bob", "--reason", "halt",
                            "--wait", "0")  # fmt: skip
    assert code == 5, err
    assert "waiting up to 0 s for" in err  # what it would have waited for
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "cancel requested" in line
    assert "nothing was cancelled yet" in line
    pending = _details(site, run_id)["pending_cancel"]
    assert pending["actor"] == "ops-bob"
    assert pending["reason"] == "halt"
    code, out, _ = site.cli("runs", "show", run_id)
    assert "requested by ops-bob" in out
    assert "(pending)" in out

    _, driven_err = driving.communicate(timeout=120)
    assert driving.returncode == 5, driven_err  # it stood down before its next order
    sent = {o.client_order_id for o in PaperBroker(site.paper).orders()}
    code, _, err = site.cli("resume", run_id)
    assert code == 7
    assert "asked to cancel it" in err
    code, _, err = site.cli("cancel", run_id, "--actor", "ops-bob", "--reason", "halt")
    assert code == 0, err
    assert {o.client_order_id for o in PaperBroker(site.paper).orders()} == sent
    run = site.store.get_run(run_id)
    assert (run.state, run.failure["error_type"]) == ("failed", "Cancelled")  # type: ignore[index]
    assert _details(site, run_id)["pending_cancel"] is None
