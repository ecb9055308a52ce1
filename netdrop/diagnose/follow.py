"""`netdrop diagnose --follow`: keep watching, report causes as they appear and grow, and say when one has stopped
(no more matching drops for a while although the interface keeps receiving): the check that a fix worked."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from ..aggregate import Snapshot
from ..model import Finding
from ..net.links import HostFacts
from ..enrich import Enricher
from ..net.namespaces import Registry
from ..net.promisc import TemporaryPromisc
from ..signals import stop_on_signals
from ..net.inspect import LiveHost
from .resolution import confirmed
from .rules import RULES
from .run import DiagnoseConfig, Window, analyse, probe_for, promisc_targets, validate, write_ready

MAX_EVENTS = 20000  # evidence kept for the rules: the most recent sampled drops


@dataclass
class Tracked:
    count: int
    changed: float  # monotonic time of the last increase
    rx_at_change: Optional[int]  # the interface's rx_packets then
    resolved: bool = False
    quiet_said: bool = False  # "quiet, not yet confirmed" was said for this quiet spell


def key_of(f: Finding) -> Tuple:
    return (f.cause, f.netns, f.interface, f.ip)


def _rx(facts: HostFacts, f: Finding) -> Optional[int]:
    hit = facts.find_name(f.interface, f.netns) if f.interface else []
    return hit[0].rx_packets if hit else None


def follow(cfg: DiagnoseConfig, kernel, collector_factory: Callable, emit: Callable[[str, Finding, Dict], None],
           on_ready: Callable = lambda held: None, interval: float = 1.0, resolved_after: float = 5.0) -> None:
    """emit(kind, finding, detail) with kind in found / grew / resolved; runs until cfg.duration or Ctrl-C."""
    names = Registry()
    facts0 = HostFacts.collect(names)
    cfg = validate(cfg, names, facts0)
    targets = promisc_targets(cfg, facts0) if cfg.promisc else []
    tracked: Dict[Tuple, Tracked] = {}
    events: deque = deque(maxlen=MAX_EVENTS)
    host = LiveHost()
    with collector_factory(kernel, probe_for(cfg), cfg.debug) as col, \
            TemporaryPromisc(targets) as held:
        base = Snapshot.of(time.monotonic(), col.counts(), col.stats())
        names.refresh()
        known = dict(names.spaces)
        before = HostFacts.collect(names)
        enricher = Enricher(kernel, names, before)
        with stop_on_signals() as stop:  # before the ready file: a signal right after it ends the run cleanly
            write_ready(cfg.ready_file)
            on_ready(held.held)
            start = time.monotonic()
            next_tick = start + interval
            while time.monotonic() - start < cfg.duration and not stop.is_set():
                stop.wait(0.1)
                events.extend(col.events())
                now = time.monotonic()
                if now < next_tick:
                    continue
                next_tick = now + interval
                counts = col.counts()
                enricher.ensure_all(counts)  # a namespace born meanwhile is named at its first drop
                after = enricher.facts.merge(HostFacts.collect(names))
                end = Snapshot.of(now, counts, col.stats())
                born = names.born_since(known)
                report = analyse(kernel, names, cfg, Window(base, end, list(events), before, after, now - start,
                                                            born=born), col.hooks(), held.held)
                evidence = Evidence(after, host, events, enricher.event_reason)
                _update(report.findings, tracked, evidence, now, resolved_after, emit)


@dataclass
class Evidence:
    """What a tick knows beyond the findings: facts now, the host's answers, the recent sampled drops."""

    facts: HostFacts
    host: object
    events: deque
    reason_of: Callable


def _update(findings, tracked: Dict[Tuple, Tracked], ev: Evidence, now: float, resolved_after: float,
            emit) -> None:
    current = {key_of(f): f for f in findings}
    for key, f in current.items():
        t = tracked.get(key)
        if t is None:
            tracked[key] = Tracked(f.count, now, _rx(ev.facts, f))
            emit("found", f, {})
        elif f.count > t.count:
            grew = f.count - t.count
            was_resolved = t.resolved
            t.count, t.changed, t.rx_at_change, t.resolved, t.quiet_said = f.count, now, _rx(ev.facts, f), False, \
                False
            emit("returned" if was_resolved else "grew", f, {"new": grew})
    for key, t in tracked.items():
        f = current.get(key)
        if f is None or t.resolved or now - t.changed < resolved_after:
            continue
        quiet = round(now - t.changed, 1)
        arrived = [e for e in ev.events if e.ts_ns / 1e9 >= t.changed]
        why = confirmed(f, ev.facts, ev.host, arrived, ev.reason_of, _reasons(f.cause))
        if why:
            t.resolved = True
            emit("resolved", f, {"quiet_seconds": quiet, "evidence": why})
        elif not t.quiet_said:
            t.quiet_said = True
            rx = _rx(ev.facts, f)
            received = None if rx is None or t.rx_at_change is None else rx - t.rx_at_change
            emit("quiet", f, {"quiet_seconds": quiet, **({"received_since": received} if received is not None else {})})


def _reasons(cause: str) -> Tuple[str, ...]:
    return next((r.reasons for r in RULES if r.cause == cause), ())
