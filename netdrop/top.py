"""`netdrop top`: drops by (netns, interface, reason, location), counted in the kernel, refreshed every interval.

Collection never builds UI: `Tracker` turns counts into rows (rates, last seen, reset baseline); render/live.py draws
them; `run_live` and `run_plain` only schedule and display.
"""
from __future__ import annotations

import errno
import os
import select
import signal
import sys
import termios
import time
import tty
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional

from .aggregate import Snapshot
from .bpf.offsets import ProbeConfig
from .enrich import Enricher
from .errors import UsageError
from .model import DropCount, DropKey, DropRow
from .net.links import HostFacts
from .net.namespaces import Registry
from .render.live import SORTS, TopView
from .runtime import Runtime, reason_filter, resolve_scope

FACTS_REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class TopConfig:
    interval: float = 1.0
    iface: Optional[str] = None
    netns: Optional[str] = None
    reason: Optional[str] = None
    sort: str = "rate"
    count: int = 0  # snapshots to print (0: forever)
    ready_file: Optional[str] = None
    debug: bool = False
    promisc: bool = False  # hold --iface promiscuous while top runs
    wide: bool = False  # the NETNS-ID column


class Tracker:
    """Counts -> rows: cumulative since start (or the last reset), rate over the last interval, last change."""

    def __init__(self, kernel, enricher: Enricher):
        self.kernel = kernel
        self.enrich = enricher
        self.baseline: Dict[DropKey, int] = {}
        self.prev: Optional[Snapshot] = None
        self.changed: Dict[DropKey, float] = {}
        self.facts_at = time.monotonic()

    def reset(self) -> None:
        if self.prev is not None:
            self.baseline = {k: c.count for k, c in self.prev.counts.items()}

    def _refresh_names(self, snap: Snapshot) -> None:
        if snap.at - self.facts_at > FACTS_REFRESH_SECONDS:
            self.facts_at = snap.at
            self.enrich.reread()  # renamed or deleted interfaces: names follow, "ifN" if gone
        else:
            self.enrich.ensure_all(snap.counts.values())  # new namespaces and interfaces: named at their first drop

    def rows(self, snap: Snapshot) -> List[DropRow]:
        self._refresh_names(snap)
        dt = snap.at - self.prev.at if self.prev else 0.0
        out = []
        for key, c in snap.counts.items():
            count = c.count - self.baseline.get(key, 0)
            if count <= 0:
                continue
            before = self.prev.counts[key].count if self.prev and key in self.prev.counts else 0
            if c.count != before or key not in self.changed:
                self.changed[key] = snap.at
            rate = (c.count - before) / dt if dt > 0 else None
            out.append(self.enrich.row(DropCount(key, count), rate=rate, last_seen=snap.at - self.changed[key]))
        self.prev = snap
        return out


def capabilities_line(kernel, facts: HostFacts) -> str:
    reasons = f"reasons: {kernel.reasons.source}" if kernel.has_reasons else "no drop reasons (OTHERHOST inferred)"
    counter = any(i.rx_otherhost_dropped is not None for i in facts.interfaces)
    return f"{reasons}; rx_otherhost_dropped counter: {'yes' if counter else 'no'}"


class Top:
    """One attached collector and its tracker; `view()` makes the next frame."""

    def __init__(self, cfg: TopConfig, kernel, collector_factory: Callable):
        self.cfg, self.kernel = cfg, kernel
        self.names = Registry()
        facts = HostFacts.collect(self.names)
        if cfg.promisc and not cfg.iface:
            raise UsageError("--promisc needs --iface", "say which interface may be made promiscuous")
        scope = resolve_scope(self.names, facts, cfg.netns, cfg.iface)
        probe = ProbeConfig(event_budget=0, filters=scope.kernel_filters(**reason_filter(kernel, cfg.reason)))
        self.runtime = Runtime(kernel, collector_factory, probe, debug=cfg.debug, names=self.names,
                               promisc=scope.promisc_targets() if cfg.promisc else [], ready_file=cfg.ready_file)
        self.caps = capabilities_line(kernel, facts)
        self.sort = cfg.sort
        self.filter_text = ""
        self.paused = False
        self.interactive = False
        self.started = 0.0
        self.last: Optional[TopView] = None
        self.hook_text = ""
        self.tracker: Optional[Tracker] = None

    def __enter__(self) -> "Top":
        rt = self.runtime.__enter__()
        self.collector = rt.collector
        self.hook_text = self.collector.hook.replace("_", " ")  # tp_btf, or the raw tracepoint fallback
        self.tracker = Tracker(self.kernel, rt.enricher)
        self.started = time.monotonic()
        self.tracker.prev = Snapshot.of(self.started, self.collector.counts(), {})
        return self

    def __exit__(self, *exc) -> None:
        self.runtime.__exit__(*exc)

    @contextmanager
    def running(self) -> Iterator:
        """The runtime's start: signal handlers, then the ready file; yields the stop flag."""
        with self.runtime.running() as stop:
            yield stop

    @property
    def promisc_held(self) -> List[str]:
        return [f"{ifname} (netns {ns})" if ns else ifname for ns, ifname in self.runtime.held]

    def view(self, prompt: Optional[str] = None) -> TopView:
        if self.paused and self.last is not None:
            return self.redraw(prompt)
        now = time.monotonic()
        prev = self.tracker.prev
        counts = self.collector.counts()
        snap = Snapshot.of(now, counts, {})
        rows = self.tracker.rows(snap)
        dt = now - prev.at if prev else 0
        total_now = sum(c.count for c in counts)
        total_prev = sum(c.count for c in prev.counts.values()) if prev else 0
        stats = self.collector.stats()
        self.last = TopView(rows=rows, total=sum(r.count for r in rows),
                            rate=(total_now - total_prev) / dt if dt > 0 else 0.0, elapsed=now - self.started,
                            kernel=self.kernel.release, hooks=f"skb:kfree_skb ({self.hook_text}, in-kernel counts)",
                            capabilities=self.caps, map_full=stats.get("map_full", 0), sort=self.sort,
                            filter_text=self.filter_text, paused=self.paused, prompt=prompt,
                            interactive=self.interactive, promisc=self.promisc_held, wide=self.cfg.wide)
        return self.last

    def redraw(self, prompt: Optional[str] = None) -> TopView:
        """The last frame again with the current sort, filter and prompt (no new snapshot: rates keep their span)."""
        if self.last is None:
            return self.view(prompt)
        self.last.sort, self.last.filter_text, self.last.paused, self.last.prompt = \
            self.sort, self.filter_text, self.paused, prompt
        self.last.interactive = self.interactive
        return self.last

    def key(self, ch: str) -> bool:
        """Apply a key; False means quit."""
        if ch in ("q", "Q"):
            return False
        if ch == "s":
            self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        elif ch == "p":
            self.paused = not self.paused
        elif ch == "r":
            self.tracker.reset()
        return True


def _retry_eintr(fn: Callable, *args):
    """termios.error is not an OSError, so Python does not retry it on EINTR (PEP 475): a top stopped by SIGTTOU
    and then terminated failed here with "(4, 'Interrupted system call')"."""
    while True:
        try:
            return fn(*args)
        except termios.error as exc:
            if not exc.args or exc.args[0] != errno.EINTR:
                raise


@contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Single keys without echo; the terminal is restored on every exit path, also from the background (SIGTTOU
    is blocked for the restore, or a top put in the background would stop there instead of exiting)."""
    old = _retry_eintr(termios.tcgetattr, fd)
    try:
        _retry_eintr(tty.setcbreak, fd)
        yield
    finally:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
        try:
            _retry_eintr(termios.tcsetattr, fd, termios.TCSADRAIN, old)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def read_key(fd: int, timeout: float) -> Optional[str]:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return None
    data = os.read(fd, 32)
    return data.decode(errors="replace")[:1] if data else "q"


def run_live(top: Top, console, interval: float) -> None:
    from rich.live import Live

    from .render.live import render_view
    fd = sys.stdin.fileno()
    prompt: Optional[str] = None
    top.interactive = True
    with top.running() as stop, cbreak(fd), \
            Live(render_view(top.view()), console=console, screen=True, auto_refresh=False) as live:
        next_at = time.monotonic() + interval
        while not stop.is_set():
            ch = read_key(fd, max(0.0, next_at - time.monotonic()))
            if ch is not None:
                if prompt is not None:  # typing a filter after "/"
                    if ch in ("\r", "\n"):
                        top.filter_text, prompt = prompt, None
                    elif ch == "\x1b":
                        prompt = None
                    elif ch in ("\x7f", "\b"):
                        prompt = prompt[:-1]
                    elif ch.isprintable():
                        prompt += ch
                elif ch == "/":
                    prompt = top.filter_text
                elif not top.key(ch):
                    return
                live.update(render_view(top.redraw(prompt)), refresh=True)
                continue
            next_at = time.monotonic() + interval
            live.update(render_view(top.view(prompt)), refresh=True)


def run_plain(top: Top, show: Callable[[TopView], None], interval: float, count: int) -> None:
    """Ctrl-C or SIGTERM end the run like --count does (exit 0): it is how an endless `top --json` stops."""
    n = 0
    with top.running() as stop:
        while (not count or n < count) and not stop.wait(interval):
            show(top.view())
            n += 1
        if stop.is_set():  # stopped mid-interval: what was counted since the last snapshot is shown, not lost
            show(top.view())
