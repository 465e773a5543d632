"""The ``tradefsm`` command's entry point: Ctrl-C at any moment is one line, never a traceback.

The command's modules take a moment to import; a Ctrl-C then (or in a command that has no
safe point of its own to stop at) ends the command with one line and exit 130, the shell's
code for SIGINT. A run being driven handles SIGINT itself (``fsm.interrupts``): it stands
down at its next safe point and names ``tradefsm resume``.

A command is a short process: the cyclic garbage collector does not walk the imported modules
while they load, and at exit it skips what is still alive, which the process is about to hand
back whole (a quarter of a short command's CPU time went to that walk). Reference counting,
``atexit`` handlers and closing files and connections work as always; a long command (a worker,
the console) has the collector running over everything it allocates after start-up.
"""

from __future__ import annotations

import gc
import sys

INTERRUPTED = 130  # 128 + SIGINT


def main() -> None:
    try:
        gc.disable()
        from fsm.cli import main as command  # noqa: PLC0415  # importing it can take a second

        gc.freeze()
        gc.enable()
        command()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C)\n")
        sys.exit(INTERRUPTED)
    finally:
        gc.enable()
        gc.freeze()
