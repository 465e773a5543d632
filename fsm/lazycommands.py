"""Commands whose module is imported only when they are used.

`tradefsm run` imports the module of `run` alone and builds the options of its commands only:
not the other command groups', which a run does not need. Whoever reads the whole tree
(``--help``, the CLI reference, shell completion of the names) still sees every command, in
the order of the table, each loaded as it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, ClassVar

import typer
from typer import _click as click

Registration = Callable[[typer.Typer], object]  # adds commands to the app it is given


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands by name: the names come from ``registrations``, each command from
    running its registration on a scratch app the first time it is looked up."""

    def __init__(self, registrations: Mapping[str, Registration]) -> None:
        self._registrations = dict(registrations)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            register = self._registrations[name]  # KeyError: no such command
            scratch = typer.Typer(pretty_exceptions_enable=False)
            register(scratch)
            self._loaded.update(typer.main.get_group(scratch).commands)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if self._registrations.pop(name, None) is None:
            del self._loaded[name]
        else:
            self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._registrations, *self._loaded]))

    def __len__(self) -> int:
        return len(self._registrations.keys() | self._loaded.keys())


class LazyGroup(typer.core.TyperGroup):
    """A Typer group whose commands are ``registrations``, loaded as they are looked up;
    subclass it with a table (``typer.Typer(cls=...)`` takes a class)."""

    registrations: ClassVar[Mapping[str, Registration]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        commands = LazyCommands(self.registrations)
        commands.update(self.commands)  # any command given to the group itself
        self.commands = commands
