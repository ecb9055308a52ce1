"""Names for numbers: reasons, kernel locations, interfaces and namespaces. Tolerates vanished interfaces.

The one place where a drop from a namespace or interface netdrop does not know yet (a container started while it
watches) makes the registry rescan and the new namespace's facts be read: `ensure()`, rate-limited, used by diagnose,
top and watch alike.
"""
from __future__ import annotations

import time
from typing import Dict, Iterable, Optional

from .model import PACKET_OTHERHOST, PACKET_TYPES, DropCount, DropEvent, DropRow

RETRY_SECONDS = 5.0  # one (netns, ifindex) a rescan could not name (held only by an open fd): asked again after this
MIN_GAP_SECONDS = 0.05  # rescans never come closer than this, however many unknown places show up at once


class Enricher:
    def __init__(self, kernel, names, facts=None, clock=time.monotonic):
        self.kernel = kernel  # KernelInfo-like: reasons, location(), in_ip_rcv(), has_reasons
        self.names = names  # namespaces.Registry
        self.facts = facts  # HostFacts or None
        self.clock = clock
        self._tried: Dict[tuple, float] = {}  # (netns, ifindex) -> when a rescan last looked for it
        self._last = float("-inf")

    # ---- discovery --------------------------------------------------------------------------------------------------
    def _unknown(self, netns: int, ifindex: int) -> bool:
        if not netns:
            return False
        if not self.names.known(netns):
            return True
        return bool(ifindex) and self.facts is not None and self.facts.get(netns, ifindex) is None

    def revalidate(self) -> bool:
        """While drops flow, names are at most REFRESH_SECONDS old: a rescan (~5 us per process) catches namespaces
        that died and inode numbers the kernel gave to new ones. True when a label or facts changed."""
        changed = self.names.refresh_if_due()
        if not changed:
            return False
        if self.facts is not None:
            from .net.links import HostFacts
            live = [i for i in changed if self.names.known(i)]
            fresh = HostFacts.collect(self.names, only=live) if live else HostFacts([], self.names)
            self.facts = self.facts.merge(fresh)
        return True

    def ensure(self, netns: int, ifindex: int) -> bool:
        """A drop from (netns, ifindex): if either is unknown, rescan the namespaces and read that namespace's facts
        (at once for a place not looked for yet, then at most every RETRY_SECONDS for it: a scan costs ~5 us per
        process). True when something new was learned (callers drop cached names)."""
        if not self._unknown(netns, ifindex):
            return self.revalidate()
        now = self.clock()
        place = (netns, ifindex)
        if now - self._tried.get(place, float("-inf")) < RETRY_SECONDS or now - self._last < MIN_GAP_SECONDS:
            return False
        self._tried[place] = self._last = now
        if len(self._tried) > 10_000:
            self._tried.clear()
        self.names.refresh()
        if not self.names.known(netns):
            return False
        if self.facts is not None:
            from .net.links import HostFacts
            self.facts = self.facts.merge(HostFacts.collect(self.names, only=[netns]))
        return not self._unknown(netns, ifindex)

    def ensure_all(self, counts: Iterable[DropCount]) -> bool:
        learned = self.revalidate() if counts else False
        for c in counts:
            learned = self.ensure(c.key.netns, c.key.ifindex) or learned
        return learned

    def reread(self) -> None:
        """Rescan and re-read every namespace (renamed interfaces; top does it every few seconds)."""
        from .net.links import HostFacts
        self.names.refresh()
        self.facts = HostFacts.collect(self.names)

    # ---- names ------------------------------------------------------------------------------------------------------
    def reason(self, reason: int, pkt_type: int, location: int) -> str:
        if self.kernel.has_reasons:
            return self.kernel.reasons.name(reason)
        # Kernels without drop reasons (5.10): the OTHERHOST drop is recognised by where and what.
        if pkt_type == PACKET_OTHERHOST and self.kernel.in_ip_rcv(location):
            return "OTHERHOST"
        return "-"

    def interface(self, netns: int, ifindex: int) -> str:
        if not ifindex:
            return "-"
        f = self.facts.get(netns, ifindex) if self.facts else None
        return f.name if f else f"if{ifindex}"

    def iface_mac(self, netns: int, ifindex: int) -> Optional[str]:
        """The MAC the frames should have carried: the interface's, or its bridge's for a bridge port (a port's
        own MAC is never an IP destination; the bridge's is what its local IP stack accepts)."""
        f = self.facts.get(netns, ifindex) if self.facts else None
        if f is None:
            return None
        master = self.facts.get(netns, f.master) if f.master else None
        return master.mac if master is not None and master.kind == "bridge" else f.mac

    def row(self, c: DropCount, rate: Optional[float] = None, last_seen: Optional[float] = None) -> DropRow:
        k = c.key
        return DropRow(
            netns=self.names.name(k.netns), interface=self.interface(k.netns, k.ifindex),
            reason=self.reason(k.reason, k.pkt_type, k.location), location=self.kernel.location(k.location),
            count=c.count, pkt_type=PACKET_TYPES.get(k.pkt_type, str(k.pkt_type)), dst_mac=k.dst_mac, daddr=k.daddr,
            iface_mac=self.iface_mac(k.netns, k.ifindex) if k.dst_mac else None, rate=rate, last_seen=last_seen,
            netns_id=k.netns)

    def event_reason(self, e: DropEvent) -> str:
        return self.reason(e.reason, e.pkt_type, e.location)
