"""`tradefsm console`: the read-only web console (docs/console.md)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fsm.commands.audit import AuditOpener
from fsm.commands.output import stderr
from fsm.commands.runs import DbOption, KeysOpener, StoreOpener

if TYPE_CHECKING:
    from fsm.metrics import MetricsSource

MetricsOpener = Callable[[str | None], "MetricsSource"]
PORT_ENV = "TRADEFSM_CONSOLE_PORT"


def register(app: typer.Typer, open_reader: StoreOpener, open_audit: AuditOpener,
             open_keys: KeysOpener, shown_db: Callable[[str], str],
             open_metrics: MetricsOpener) -> None:  # fmt: skip
    @app.command()
    def console(
        db: DbOption = None,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int,
            typer.Option(
                min=1,
                max=65535,
                envvar=PORT_ENV,
                show_envvar=False,
                help=f"Port to listen on (default: {PORT_ENV}, else 8080).",
            ),
        ] = 8080,
        digests: Annotated[
            Path | None, typer.Option(help="Signed digest folder to verify runs against.")
        ] = None,
        public_key: Annotated[
            list[Path] | None, typer.Option(help="Public key file(s) of the digests.")
        ] = None,
    ) -> None:
        """Serve the read-only web console: runs, ledgers with guard decisions, refusals,
        time in state, plans waiting for approval, verification, Prometheus /metrics. Off
        loopback it needs TRADEFSM_CONSOLE_TOKEN."""
        import uvicorn

        from fsm.commands.embedded import settings_from
        from fsm.console.app import Console
        from fsm.digests import load_anchors
        from fsm.errors import InvalidConfiguration
        from fsm.metrics import warm_up

        settings = settings_from(db=db)
        token = settings.console_token.get_secret_value() if settings.console_token else None
        if token is None and not _loopback(host):
            raise InvalidConfiguration(
                f"--host {host} is not a loopback address: set TRADEFSM_CONSOLE_TOKEN so that "
                "only people with the token see the console"
            )
        if (digests is None) != (not public_key):
            raise typer.BadParameter("--digests and --public-key go together")
        anchors = load_anchors(digests, public_key or ()) if digests is not None else None
        listener = listen(host, port)
        metrics = open_metrics(settings.db)
        warm_up(metrics)
        pages = Console(open_reader(settings.db), open_audit(settings.db), token, anchors,
                        approvers=open_keys(settings.db, True),
                        database=shown_db(settings.db), metrics=metrics)  # fmt: skip
        stderr.print(f"tradefsm console on {console_url(host, port)} (read-only; Ctrl-C stops it)",
                     markup=False, highlight=False)  # fmt: skip
        server = uvicorn.Server(uvicorn.Config(pages.app(), log_level="warning"))
        server.run(sockets=[listener])


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for the console, or a one-line
    ``InvalidConfiguration`` when the address is taken or cannot be had."""
    from fsm.errors import InvalidConfiguration

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise InvalidConfiguration(f"cannot listen on {host}: {exc.strerror or exc}") from exc
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise InvalidConfiguration(
            f"cannot listen on {console_url(host, port)}: {exc.strerror or exc} "
            f"(choose another --port or set {PORT_ENV})"
        ) from exc
    return listener


def console_url(host: str, port: int) -> str:
    """The address to open: an IPv6 literal in brackets (``http://[::1]:8080/``, RFC 3986),
    its zone's ``%`` escaped."""
    try:
        ipv6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        ipv6 = False
    return f"http://[{host.replace('%', '%25')}]:{port}/" if ipv6 else f"http://{host}:{port}/"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
