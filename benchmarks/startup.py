"""How fast the `tradefsm` command starts: `--help`, `--version` and a dry run, end to end.

Each command runs in a fresh process, alternated with a bare ``python -c pass`` in the same
loop (the floor: the interpreter alone), on a migrated SQLite file in a temporary folder.
Reported: the median wall time of each in milliseconds and its ratio to the floor. Targets:
`--help` and `--version` ≤ 250 ms, a dry run ≤ 450 ms, on a quiet machine of this kind.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMMANDS = {
    "help": ("--help",),
    "version": ("--version",),
    "dry_run": ("run", "--mode", "dry-run", "--json"),
}


def _wall_ms(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return (time.perf_counter() - started) * 1000


def run(quick: bool = False) -> dict[str, Any]:
    rounds = 3 if quick else 15
    folder = Path(tempfile.mkdtemp(prefix="tradefsm-startup-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")} | {
        "TRADEFSM_DB": f"sqlite:///{folder / 'runs.db'}",
        "TRADEFSM_PAPER_DB": str(folder / "paper.db"),
    }
    cli = [sys.executable, "-m", "fsm"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=folder, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    times: dict[str, list[float]] = {"python": [], **{name: [] for name in COMMANDS}}
    for _ in range(rounds):  # alternated, so a noisy moment hits every command alike
        times["python"].append(_wall_ms([sys.executable, "-c", "pass"], env, folder))
        for name, args in COMMANDS.items():
            times[name].append(_wall_ms([*cli, *args], env, folder))
    medians = {name: round(statistics.median(values), 1) for name, values in times.items()}
    result: dict[str, Any] = {"rounds": rounds, "python_ms": medians["python"]}
    for name in COMMANDS:
        result[f"{name}_ms"] = medians[name]
        result[f"ratio_{name}_to_python"] = round(medians[name] / medians["python"], 1)
    return result
