"""One reading of the kernel for `netdrop export`: the exact counts as bounded series, and the causes diagnose's rules
find in the last --window seconds. No prometheus_client here: a `Sample` is plain data the HTTP thread serves."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, List, Optional, Tuple

from .. import __version__
from ..aggregate import Snapshot, since
from ..diagnose.run import DiagnoseConfig, Window, analyse
from ..model import DropCount, DropKey
from ..net.links import HostFacts
from ..net.netns import HOST
from .metrics import DROPS, FINDING, OTHERHOST
from .series import Folder, Findings, Labels

MAX_EVENTS = 20000  # sampled drops kept as the rules' evidence (the most recent)


@dataclass(frozen=True)
class Sample:
    """Everything one scrape shows."""

    at: float  # Unix time of the reading
    drops: List[Tuple[Labels, int]]
    otherhost: List[Tuple[Labels, int]]
    findings: List[Tuple[Labels, int]]
    folded: Dict[str, int]  # metric name -> label sets folded into `other`
    lost: int
    map_full: int
    hooks: List[Tuple[str, str, int]]  # (hook, type, 1 attached / 0 not)
    build: Tuple[str, str, str]  # (version, kernel release, how kfree_skb is hooked)


@dataclass(frozen=True)
class Tick:
    at: float  # monotonic
    snap: Snapshot
    facts: Optional[HostFacts]  # read only while drops are in the window


class Reader:
    """Turns the runtime's counts, events and facts into Samples, one per interval."""

    def __init__(self, kernel, runtime, scope, window: float, max_series: int):
        self.kernel, self.rt, self.window = kernel, runtime, window
        self.cfg = DiagnoseConfig(iface=scope.iface, netns=scope.netns, duration=window)
        self.drops = Folder(max_series, len(DROPS.labels))
        self.otherhost = Folder(max_series, len(OTHERHOST.labels))
        self.findings = Findings(max_series)
        self.events: Deque = deque(maxlen=MAX_EVENTS)
        start = runtime.started
        self.ticks: Deque[Tick] = deque([Tick(start.base.at, start.base, start.before)])

    def poll(self) -> None:
        self.events.extend(self.rt.collector.events())

    def read(self, now: Optional[float] = None) -> Sample:
        now = time.monotonic() if now is None else now
        snap = self.rt.snapshot(now)
        en = self.rt.enricher
        en.ensure_all(snap.counts.values())  # a namespace born meanwhile is named before its first series
        counts = list(snap.counts.values())
        drops, folded_drops = self.drops.fold(((c.key, c.count) for c in counts), self._drop_labels)
        otherhost, folded_other = self.otherhost.fold(((c.key, c.count) for c in counts if c.key.dst_mac),
                                                      self._otherhost_labels)
        findings = self.findings.update(self._active(now, snap))
        stats = snap.stats
        col = self.rt.collector
        return Sample(
            at=time.time(), drops=drops, otherhost=otherhost, findings=findings,
            folded={DROPS.name: folded_drops, OTHERHOST.name: folded_other, FINDING.name: len(self.findings.folded)},
            lost=stats.get("lost", 0), map_full=stats.get("map_full", 0),
            hooks=[(str(h["name"]), str(h["type"]), 1 if h.get("attached") else 0) for h in self.rt.hooks()],
            build=(__version__, self.kernel.release, col.hook))

    def _drop_labels(self, key: DropKey) -> Labels:
        row = self.rt.enricher.row(DropCount(key, 0))
        return (str(row.netns), row.interface, row.reason, row.location)

    def _otherhost_labels(self, key: DropKey) -> Labels:
        en = self.rt.enricher
        return (str(en.names.name(key.netns)), en.interface(key.netns, key.ifindex), key.daddr or "",
                key.dst_mac or "", en.iface_mac(key.netns, key.ifindex) or "")

    def _active(self, now: float, snap: Snapshot) -> List[Labels]:
        """The causes diagnose's rules find in the drops of the last `window` seconds (none without drops: the
        host's facts are read only then)."""
        while len(self.ticks) > 1 and self.ticks[1].at <= now - self.window:
            self.ticks.popleft()
        base = self.ticks[0]
        moved = since(base.snap, snap)
        facts = self.rt.facts_now() if moved else None
        self.ticks.append(Tick(now, snap, facts))
        if not moved:
            return []
        cutoff_ns = (now - self.window) * 1e9
        while self.events and self.events[0].ts_ns < cutoff_ns:
            self.events.popleft()
        before = base.facts if base.facts is not None else facts
        assert facts is not None and before is not None  # read above whenever drops moved
        report = analyse(self.kernel, self.rt.names, self.cfg,
                         Window(base.snap, snap, list(self.events), before, facts, now - base.at,
                                born=self.rt.born()), self.rt.hooks())
        return [(f.cause, str(f.netns) if f.netns else HOST, f.interface or "", f.ip or "") for f in report.findings]
