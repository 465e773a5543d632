"""Run one benchmark by name and print its figures (``--json`` for one JSON object)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHMARKS = ("transition", "resume", "audit", "scale", "facade", "startup", "console")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("name", choices=BENCHMARKS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    args = parser.parse_args()
    module = importlib.import_module(f"benchmarks.{args.name}")
    result = module.run(quick=args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
