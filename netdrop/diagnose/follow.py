"""`netdrop diagnose --follow`: keep watching, report causes as they appear and grow, and say when one has stopped
(no more matching drops for a while although the interface keeps receiving): the check that a fix worked."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from ..classify import decode_classes
from ..model import Finding
from ..net.links import HostFacts
from ..net.namespaces import Registry
from ..net.inspect import LiveHost
from .resolution import confirmed
from .rules import RULES
from .run import DiagnoseConfig, Window, analyse, runtime_for, validate

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
    """emit(kind, finding, detail) with kind in found / grew / resolved; runs until cfg.duration or Ctrl-C. The same
    runtime as diagnose, classification hooks included: each tick is a diagnosis of everything since the start."""
    names = Registry()
    facts0 = HostFacts.collect(names)
    cfg = validate(cfg, names, facts0)
    tracked: Dict[Tuple, Tracked] = {}
    events: deque = deque(maxlen=MAX_EVENTS)
    host = LiveHost()
    with runtime_for(cfg, kernel, collector_factory, names, facts0) as rt:
        with rt.running(lambda: on_ready(rt.held)) as stop:
            for now in rt.ticks(stop, cfg.duration, interval, poll=lambda: events.extend(rt.collector.events())):
                after = rt.enricher.facts.merge(HostFacts.collect(names))
                classes = decode_classes(rt.classifier.read()) if rt.classifier is not None else {}
                window = Window(rt.started.base, rt.snapshot(now), list(events), rt.started.before, after,
                                now - rt.started.at, classes, rt.born())
                report = analyse(kernel, names, cfg, window, rt.hooks(), rt.held)
                evidence = Evidence(after, host, events, rt.enricher.event_reason)
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
