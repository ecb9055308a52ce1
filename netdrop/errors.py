"""The error type every module raises, and the exit codes they map to (documented in docs/usage.md)."""
from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2  # bad option or argument (click uses 2 as well)
EXIT_PERMISSION = 3  # not root / missing capability
EXIT_KERNEL = 4  # the kernel or system lacks something netdrop needs (bcc, headers, BTF, tracefs, a hook)
EXIT_NOT_FOUND = 5  # unknown interface, namespace or address
EXIT_HOST = 6  # the host refused or failed an operation netdrop asked of it (a command, a link change, a sysctl)
EXIT_INTERNAL = 70  # a bug: rerun with --debug
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM


class NetdropError(Exception):
    """Raise a subclass: the base's exit code is 70, which must mean a bug in netdrop and nothing else."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, hint: str = "", exit_code: int = 0):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code:
            self.exit_code = exit_code


class UsageError(NetdropError):
    exit_code = EXIT_USAGE


class PermissionDenied(NetdropError):
    exit_code = EXIT_PERMISSION


class KernelError(NetdropError):
    exit_code = EXIT_KERNEL


class NotFound(NetdropError):
    exit_code = EXIT_NOT_FOUND


class HostError(NetdropError):
    exit_code = EXIT_HOST
