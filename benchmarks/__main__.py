"""Run one benchmark by name, or all of them, and print their figures.

``python -m benchmarks NAME [--quick] [--json]``; ``python -m benchmarks all --json`` runs
every benchmark into one report, and ``--markdown FILE`` also writes it as a page
(``make bench`` regenerates docs/performance.md that way).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import markdown, report

BENCHMARKS = (
    "transition", "resume", "audit", "scale", "facade", "startup", "console", "memory", "peer",
    "groupcommit", "replay", "day",
)  # fmt: skip


def run_one(name: str, quick: bool, extra: list[str]) -> dict[str, Any]:
    """``extra``: the options of a benchmark that takes its own (``day``: its ``parse``)."""
    module = importlib.import_module(f"benchmarks.{name}")
    options = module.parse(extra) if extra else {}
    result: dict[str, Any] = module.run(quick=quick, **options)
    return result


def run_apart(name: str, quick: bool) -> dict[str, Any]:
    """One benchmark in a process of its own, so none inherits another's memory or caches; one
    that fails is reported with its error's last line (``failed``), and the others still run."""
    command = [sys.executable, "-m", "benchmarks", name, "--json", *(["--quick"] if quick else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        print(f"benchmark {name} failed: {said}", file=sys.stderr)
        return {"benchmark": name, "failed": said}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", add_help=False)
    parser.add_argument("-h", "--help", action="store_true",
                        help="this help, and with NAME the benchmark's own options")  # fmt: skip
    parser.add_argument("name", nargs="?", choices=(*BENCHMARKS, "all"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    parser.add_argument("--markdown", type=Path, help="with all: also write the report here")
    args, extra = parser.parse_known_args()
    if args.help or args.name is None:
        return _help(parser, args.name, asked=args.help)
    if args.name == "all":
        result = report({name: run_apart(name, args.quick) for name in BENCHMARKS})
        if args.markdown:
            args.markdown.write_text(markdown(result), encoding="utf-8")
    else:
        result = run_one(args.name, args.quick, extra)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return int(any("failed" in r for r in result.get("results", {}).values()))


def _help(parser: argparse.ArgumentParser, name: str | None, *, asked: bool) -> int:
    """The common options; a benchmark with options of its own (``day``) prints them too."""
    parser.print_help(None if asked else sys.stderr)
    own = getattr(importlib.import_module(f"benchmarks.{name}"), "parse", None) if name else None
    if own is not None:
        print()
        own(["--help"])  # argparse prints the benchmark's options and exits 0
    return 0 if asked else 2


if __name__ == "__main__":
    sys.exit(main())
