"""Run `tradefsm` in a pseudo-terminal of a given width, as a person at a terminal would."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from tests.cli.conftest import Cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def in_terminal(cli: Cli, *args: str, columns: int = 80) -> tuple[int, str]:
    """The exit code and what the terminal showed (stdout and stderr), colours removed."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in cli.env.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        [sys.executable, "-m", "fsm", *args], stdin=child, stdout=child, stderr=child,
        env=env | {"TERM": "xterm-256color"}, cwd=cli.folder,
    )  # fmt: skip
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    code = process.wait(timeout=120)
    return code, ANSI.sub("", shown.decode(errors="replace"))
