"""The always-open calendar the benchmarks that trade run on, so they run at any hour: at
night or on a week-end the risk policy's default exchange is closed and ``as_of_session``
refuses every paper run."""

from __future__ import annotations

import json
import subprocess
import sys

EXCHANGE = "24/7"  # always in session


def always_in_session(url: str) -> None:
    """The risk policy's exchange becomes EXCHANGE: proposed, then approved by a second person."""
    policy = [sys.executable, "-m", "fsm", "policy"]
    common = ["--db", url, "--reason", "benchmark"]
    propose = [*policy, "set", f"exchange={EXCHANGE}", *common, "--json", "--actor", "bench"]
    proposed = subprocess.run(propose, capture_output=True, text=True, check=False)  # exit 9
    change = str(json.loads(proposed.stdout)["seq"])
    subprocess.run([*policy, "approve", change, *common, "--actor", "bench-second"],
                   capture_output=True, check=True)  # fmt: skip
