"""A power loss under TRADEFSM_DURABILITY=effects, simulated on SQLite with a real process.

What a power loss leaves of a SQLite database in WAL mode is the database file as last synced
and the write-ahead log up to its last sync. The test pauses `tradefsm run` just before its
first unflushed commit (``commit.unflushed:pause``): every commit so far was flushed, so the
log's length then is its synced length. It lets the run go on through three unflushed
transitions, kills it right after the third (``transition.rebalance_needed``), and checks
that the database file did not change meanwhile (no checkpoint copied anything into it). The
copy it resumes from is that database file plus the log cut back to its synced length: the
disk as the power loss would leave it, provided no flushed commit came in between (none does
on this path; one would only make the copy lose more than a power loss could).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import broken_links
from tests.resume.test_crash import UNFLUSHED, Site

UNTIL_PLANNING = "commit.unflushed:pause,transition.rebalance_needed"


def _power_cut_copy(live: Site, folder: Path) -> Path:
    """Run until planning, losing power there; the run database as the disk kept it."""
    db = Path(live.url.removeprefix("sqlite:///"))
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()  # an empty log
    with (folder / "out").open("w") as out, (folder / "err").open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "fsm", "run", "--json"],
            env={**live.env, "TRADEFSM_FAILPOINTS": UNTIL_PLANNING}, stdout=out, stderr=err,
        )  # fmt: skip
        _, status = os.waitpid(process.pid, os.WUNTRACED)  # paused before the first one
        assert os.WIFSTOPPED(status), (folder / "err").read_text()
        log = Path(f"{db}-wal")
        synced, database = log.stat().st_size, db.read_bytes()
        os.kill(process.pid, signal.SIGCONT)
        assert process.wait(timeout=120) == -signal.SIGKILL, (folder / "err").read_text()
    assert db.read_bytes() == database  # the unflushed commits are in the log only
    assert log.stat().st_size > synced
    copy = folder / "after-power-loss.db"
    copy.write_bytes(database)
    Path(f"{copy}-wal").write_bytes(log.read_bytes()[:synced])
    return copy


def test_a_power_loss_drops_only_unflushed_transitions_and_the_run_ends_once(
    baseline: Site, tmp_path: Path
) -> None:
    live = Site(tmp_path / "live", protect=False, **UNFLUSHED)  # the engine alone: no dedup
    copy = _power_cut_copy(live, tmp_path)
    killed = live.only_run()
    assert killed.version == 4  # created, start, signals_generated, rebalance_needed
    after = Site(tmp_path / "after", protect=False, url=f"sqlite:///{copy}", **UNFLUSHED)
    after.env["TRADEFSM_PAPER_DB"] = str(live.paper)  # the broker kept what it had
    run = after.store.get_run(killed.run_id)
    assert (run.state, run.version) == ("idle", 1)  # the three unflushed commits are gone
    code, out, err = after.cli("resume", run.run_id, "--json")
    assert (code, json.loads(out)["state"]) == (0, "done"), err
    ledger = after.store.ledger(run.run_id)
    assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
    assert not broken_links(ledger)
    assert live.orders() == baseline.orders()
    assert set(live.orders().values()) == {1}  # no order twice
    code, out, err = after.cli("audit", "verify", "--json")
    assert code == 0, err
    assert json.loads(out)["ok"] is True


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_seal_after_unflushed_commits_signs_their_heads(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """`audit seal` makes what it reads durable first (persistence.flushing: SQLite syncs the
    log, PostgreSQL waits for its flush); the heads it signs are those of the unflushed
    commits, and the anchored verification agrees."""
    url = request.getfixturevalue("pg_cluster").new_database() if backend != "sqlite" else None
    site = Site(tmp_path, protect=True, url=url, **UNFLUSHED)
    code, _, _ = site.cli("run", TRADEFSM_FAILPOINTS="transition.rebalance_needed")
    assert code == -signal.SIGKILL
    assert site.cli("audit", "keygen", "--out", str(tmp_path / "keys"))[0] == 0
    key = {"TRADEFSM_AUDIT_SIGNING_KEY": str(tmp_path / "keys" / "tradefsm-audit.key")}
    digests = str(tmp_path / "digests")
    code, _, err = site.cli("audit", "seal", "--out", digests, **key)
    assert code == 0, err
    (document,) = (tmp_path / "digests").glob("digest-*.json")
    [(run_id, seq, _head)] = json.loads(document.read_text())["runs"]
    assert (run_id, seq) == (site.only_run().run_id, 4)
    public = str(tmp_path / "keys" / "tradefsm-audit.pub")
    code, out, err = site.cli("audit", "verify", "--digests", digests, "--public-key", public,
                              "--json")  # fmt: skip
    assert (code, json.loads(out)["ok"]) == (0, True), err
