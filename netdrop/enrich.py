"""Names for numbers: reasons, kernel locations, interfaces and namespaces. Tolerates vanished interfaces.

The one place where a drop from a namespace or interface netdrop does not know yet (a container started while it
watches) makes the registry rescan and the new namespace's facts be read: `ensure()`, rate-limited, used by diagnose,
top and watch alike.
"""
from __future__ import annotations

import time
from typing import Dict, Iterable, Optional

from .model import PACKET_OTHERHOST, PACKET_TYPES, DropCount, DropEvent, DropRow

GIVE_UP_SECONDS = 30.0  # an inode no rescan could name (held only by an open fd): asked about again after this


class Enricher:
    def __init__(self, kernel, names, facts=None, clock=time.monotonic):
        self.kernel = kernel  # KernelInfo-like: reasons, location(), in_ip_rcv(), has_reasons
        self.names = names  # namespaces.Registry
        self.facts = facts  # HostFacts or None
        self.clock = clock
        self._unnamed: Dict[int, float] = {}  # netns inode -> when a rescan last failed to find it

    # ---- discovery --------------------------------------------------------------------------------------------------
    def _unknown(self, netns: int, ifindex: int) -> bool:
        if not netns:
            return False
        if not self.names.known(netns):
            return True
        return bool(ifindex) and self.facts is not None and self.facts.get(netns, ifindex) is None

    def ensure(self, netns: int, ifindex: int) -> bool:
        """A drop from (netns, ifindex): if either is unknown, rescan the namespaces (at most once a second) and read
        that namespace's facts. True when something new was learned (callers drop cached names)."""
        if not self._unknown(netns, ifindex):
            return False
        gave_up = self._unnamed.get(netns)
        if gave_up is not None and self.clock() - gave_up < GIVE_UP_SECONDS:
            return False
        if not self.names.refresh_if_due():
            return False
        if not self.names.known(netns):
            self._unnamed[netns] = self.clock()
            return False
        self._unnamed.pop(netns, None)
        if self.facts is not None:
            from .net.links import HostFacts
            self.facts = self.facts.merge(HostFacts.collect(self.names, only=[netns]))
        return True

    def ensure_all(self, counts: Iterable[DropCount]) -> bool:
        learned = False
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
        f = self.facts.get(netns, ifindex) if self.facts else None
        return f.mac if f else None

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
