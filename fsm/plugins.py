"""Where strategies, market data and brokers are found: installed packages' entry points.

The only place adapters and plugins are looked up. A package offers one by declaring an entry
point in one of three groups (``[project.entry-points."tradefsm.strategies"]`` in its
pyproject.toml); the bundled ones register themselves the same way. An entry point names a
factory: a callable taking a ``PluginSetup`` and returning the port's implementation
(``fsm.ports.SignalSource``, ``MarketData`` or ``Broker``; docs/plugins.md has the contracts).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from difflib import get_close_matches
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from fsm.canonical import canonical_json
from fsm.errors import InvalidConfiguration, PluginFailed, PluginNotFound, TradeFsmError

if TYPE_CHECKING:
    from fsm.ports import MarketData
    from fsm.settings import Settings

STRATEGIES = "tradefsm.strategies"
MARKET_DATA = "tradefsm.market_data"
BROKERS = "tradefsm.brokers"
GROUPS = (STRATEGIES, MARKET_DATA, BROKERS)
KINDS = {STRATEGIES: "strategy", MARKET_DATA: "market data", BROKERS: "broker"}


@dataclass(frozen=True)
class PluginSetup:
    """What a plugin's factory is given: the settings, its own options (the table named after
    it in tradefsm.toml), the market date runs are built for and, for a strategy, the market
    data selected beside it; for a broker, the account it trades; and the exchange whose
    calendar runs trade on (the risk policy's; ``trading_exchange`` falls back on the
    settings' when a caller gave none)."""

    settings: Settings
    options: Mapping[str, Any] = field(default_factory=dict)
    as_of: date | None = None
    market_data: MarketData | None = None
    account_id: str | None = None
    exchange: str | None = None

    @property
    def trading_exchange(self) -> str:
        return self.exchange or self.settings.exchange

    def accept(self, *names: str) -> Mapping[str, Any]:
        """The options, when every key is one of ``names`` (the options this plugin takes);
        InvalidConfiguration naming a key that is not, so a misspelt option is refused
        before any run instead of being ignored."""
        unknown = sorted(set(self.options) - set(names))
        if unknown:
            near = get_close_matches(unknown[0], names, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            takes = ", ".join(names) or "no options"
            raise InvalidConfiguration(f"unknown option {unknown[0]!r}{hint}; it takes {takes}")
        return self.options


@dataclass(frozen=True)
class Plugin:
    """One installed entry point: its group and name, what it points at, and the distribution
    (package) that declared it, with that distribution's version."""

    group: str
    name: str
    target: str
    distribution: str
    version: str

    @property
    def kind(self) -> str:
        return KINDS[self.group]

    @property
    def title(self) -> str:
        """How errors name it: ``strategy plugin 'sixty-forty' (sixty-forty 1.0)``."""
        return f"{self.kind} plugin {self.name!r} ({self.distribution} {self.version})"

    def as_json(self) -> dict[str, str]:
        return {"group": self.group, "name": self.name, "target": self.target,
                "distribution": self.distribution, "version": self.version}  # fmt: skip


def installed(group: str) -> list[Plugin]:
    """Every plugin of ``group``, by name."""
    return list(_installed(group, tuple(sys.path)))


def find(group: str, name: str) -> Plugin:
    """The plugin of ``group`` named ``name``; PluginNotFound names the installed ones."""
    found = [p for p in installed(group) if p.name == name]
    if not found:
        names = ", ".join(p.name for p in installed(group)) or "none"
        raise PluginNotFound(
            f"no {KINDS[group]} plugin named {name!r} is installed (installed: {names}; "
            "see `tradefsm plugins`)",
            group=group, plugin=name,
        )  # fmt: skip
    return found[0]


def factory(plugin: Plugin) -> Callable[[PluginSetup], object]:
    """The callable ``plugin``'s entry point names; PluginFailed when it cannot be imported."""
    try:
        loaded = _entry_point(plugin).load()
    except (Exception, SystemExit) as exc:  # whatever importing a third party's module raises
        raise failure(plugin, f"cannot be loaded ({type(exc).__name__}: {exc})") from exc
    if not callable(loaded):
        raise failure(plugin, f"entry point {plugin.target} is not callable")
    return loaded  # type: ignore[no-any-return]  # checked callable; its result is checked


def create(plugin: Plugin, setup: PluginSetup, *methods: str) -> Any:
    """What ``plugin``'s factory builds from ``setup``; PluginFailed when it raises or what it
    returns lacks one of ``methods``."""
    make = factory(plugin)
    try:
        made = make(setup)
    except TradeFsmError:  # refused on purpose (bad options): kept, the caller names the plugin
        raise
    except (Exception, SystemExit) as exc:  # a plugin's own error (exit too), named and typed
        raise failure(plugin, f"raised {type(exc).__name__}: {exc}") from exc
    missing = [m for m in methods if not callable(getattr(made, m, None))]
    if missing:
        raise failure(plugin, f"made a {type(made).__name__} without {', '.join(missing)}()")
    return made


def failure(plugin: Plugin, what: str, **facts: Any) -> PluginFailed:
    """PluginFailed naming ``plugin``: ``what`` says what it did."""
    return PluginFailed(f"{plugin.title} {what}", group=plugin.group, plugin=plugin.name, **facts)


def config_hash(options: Mapping[str, Any]) -> str:
    """SHA-256 of a plugin's options as canonical JSON: what a run commits of its configuration."""
    return hashlib.sha256(canonical_json(dict(options)).encode()).hexdigest()


def _plugin(entry: EntryPoint) -> Plugin:
    dist = entry.dist
    return Plugin(
        group=entry.group,
        name=entry.name,
        target=entry.value,
        distribution=dist.name if dist is not None else "unknown",
        version=dist.version if dist is not None else "unknown",
    )


def _entry_point(plugin: Plugin) -> EntryPoint:
    return next(e for e in _entries(plugin.group, tuple(sys.path)) if e.name == plugin.name)


@cache
def _installed(group: str, path: tuple[str, ...]) -> tuple[Plugin, ...]:
    """``group``'s plugins by name, each distribution's version read once (from its metadata
    file) per process and import path."""
    return tuple(sorted((_plugin(e) for e in _entries(group, path)), key=lambda p: p.name))


def _entries(group: str, path: tuple[str, ...]) -> tuple[EntryPoint, ...]:
    return tuple(_every_entry(path).select(group=group))


@cache
def _every_entry(path: tuple[str, ...]) -> Any:  # EntryPoints (3.11: SelectableGroups)
    """Every entry point, read once per process and import path: reading them scans every
    installed distribution's metadata (about 8 ms), and a run asks for three groups, several
    times."""
    return entry_points()
