"""A run is driven only by the plugins it committed.

A new run's params commit the strategy and market data it runs with (``Ports.identity``:
name, distribution, version, configuration hash; a price file's path and SHA-256). Whoever
carries a run on later (`resume`, a worker's claim, `approve`/`reject`, `retry`) compares that
with its own ports: the same, the engine's own drive it; different, the committed ones are
built again when this process can (``Ports.rebuild``: the same plugins at the same versions,
options hashing alike, the same file), else the run is refused with PluginMismatch naming what
differs, and nothing of it changes. A run from before plugins were committed, or an engine whose
ports say nothing of themselves (a library caller's own adapters), is not compared.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fsm.canonical import canonical_json
from fsm.errors import PluginMismatch, TradeFsmError
from fsm.records import RunRecord
from fsm.requests import ADAPTER_PARAMS, Ports
from fsm.runtime import Runtime

log = logging.getLogger("tradefsm.engine")
HASH_SHOWN = 12  # characters of a SHA-256 a message shows


def differences(committed: Mapping[str, Any], here: Mapping[str, Any]) -> list[str]:
    """What of the plugins a run ``committed`` differs from those ``here``, one phrase each
    (``strategy version 0.1.0 (run) vs 0.2.0 (here)``); only what both sides name is compared."""
    found = []
    for param in ADAPTER_PARAMS:
        ran, have = committed.get(param), here.get(param)
        if ran is None or have is None or ran == have:
            continue
        keys = sorted(set(ran) | set(have), key=lambda k: (k != "name", k))
        found.append(param + " " + ", ".join(
            f"{k} {_shown(ran.get(k))} (run) vs {_shown(have.get(k))} (here)"
            for k in keys if ran.get(k) != have.get(k)
        ))  # fmt: skip
    return found


def _shown(value: object) -> str:
    text = "none" if value is None else str(value)
    return text[:HASH_SHOWN] + "…" if len(text) == 64 and text.isalnum() else text


class RunPlugins:
    """Which strategy and market data drive each run of an engine (see the module's doc)."""

    def __init__(self, ports: Ports | None) -> None:
        self.own = dict(ports.identity) if ports else {}
        self.rebuild = ports.rebuild if ports else None
        self._built: dict[str, Ports] = {}  # built again, by committed identity and date
        self._left: set[str] = set()  # runs a worker left, logged once each

    def committed(self, run: RunRecord) -> Mapping[str, Any]:
        """The plugins' identity ``run`` committed (empty for a run from before)."""
        return {p: run.params[p] for p in ADAPTER_PARAMS if p in run.params}

    def ports_of(self, run: RunRecord) -> Ports | None:
        """The ports rebuilt from what ``run`` committed; None when the engine's own are those;
        PluginMismatch when neither."""
        committed = self.committed(run)
        differ = differences(committed, self.own)
        if not differ:
            return None
        key = f"{canonical_json(dict(committed))}@{run.as_of}"
        built = self._built.get(key) or self._build(committed, run)
        if isinstance(built, str):  # tried again next time: a file put back, a plugin installed
            raise PluginMismatch(
                f"run {run.run_id} committed other plugins than this process has: "
                f"{'; '.join(differ)} ({built}); carry it on where they are installed and "
                "configured as it committed (`tradefsm runs show` lists them)",
                run_id=run.run_id, state=run.state, differences=tuple(differ),
            )  # fmt: skip
        self._built[key] = built
        return built

    def runtime_for(self, runtime: Runtime, run: RunRecord) -> Runtime:
        """``runtime`` as it drives ``run``: with the committed strategy and market data."""
        ports = self.ports_of(run)
        if ports is None:
            return runtime
        own = runtime.ports or ports
        return replace(runtime, ports=replace(own, signals=ports.signals,
                                              market_data=ports.market_data))  # fmt: skip

    def accepts(self, run: RunRecord) -> bool:
        """Whether a worker may claim ``run``; one it may not is left as it is, and logged
        once (``worker_left_run``)."""
        try:
            self.ports_of(run)
        except PluginMismatch as exc:
            if run.run_id not in self._left:
                self._left.add(run.run_id)
                log.warning("worker_left_run", extra={"run_id": run.run_id, "error": exc.message})
            return False
        return True

    def _build(self, committed: Mapping[str, Any], run: RunRecord) -> Ports | str:
        """The committed plugins built again, or why they cannot be."""
        if self.rebuild is None:
            return "this process cannot build them"
        try:
            return self.rebuild(committed, run.as_of)
        except TradeFsmError as exc:  # not installed, another version, other options or file
            return exc.message
