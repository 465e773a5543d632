"""The ``tradefsm`` command's entry point: Ctrl-C at any moment is one line, never a traceback.

The command's modules take a moment to import; a Ctrl-C then (or in a command that has no
safe point of its own to stop at) ends the command with one line and exit 130, the shell's
code for SIGINT. A run being driven handles SIGINT itself (``fsm.interrupts``): it stands
down at its next safe point and names ``tradefsm resume``.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130  # 128 + SIGINT


def main() -> None:
    try:
        from fsm.cli import main as command  # noqa: PLC0415  # importing it can take a second

        command()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C)\n")
        sys.exit(INTERRUPTED)
