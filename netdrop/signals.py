"""Ending a watching window on Ctrl-C or SIGTERM without exceptions in the middle of bcc calls."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set a flag instead of raising: a KeyboardInterrupt raised inside bcc's ring-buffer callback
    is swallowed by ctypes (it left `watch` running). Loops check the flag between batches and end their window
    normally, so the user still gets the report; outside such a window the signals raise as usual."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
