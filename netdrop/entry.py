"""The console entry point. Ctrl-C while Python imports netdrop (~0.2 s) ends quietly, as it does later: nothing
is attached yet, so there is nothing to undo. cli.main() installs the real handlers."""
import os
import signal
import sys


def _interrupted_early(_signum, _frame) -> None:
    sys.stderr.write("error: interrupted\nhint: nothing was attached yet; the host is as it was\n")
    os._exit(130)  # EXIT_INTERRUPTED (errors.py is not imported yet)


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupted_early)
    from .cli import main as cli_main
    cli_main()
