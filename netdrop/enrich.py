"""Names for numbers: reasons, kernel locations, interfaces and namespaces. Tolerates vanished interfaces."""
from __future__ import annotations

from typing import Optional

from .model import PACKET_OTHERHOST, PACKET_TYPES, DropCount, DropEvent, DropRow


class Enricher:
    def __init__(self, kernel, names, facts=None):
        self.kernel = kernel  # KernelInfo-like: reasons, location(), in_ip_rcv(), has_reasons
        self.names = names  # NetnsNames
        self.facts = facts  # HostFacts or None

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
            iface_mac=self.iface_mac(k.netns, k.ifindex) if k.dst_mac else None, rate=rate, last_seen=last_seen)

    def event_reason(self, e: DropEvent) -> str:
        return self.reason(e.reason, e.pkt_type, e.location)
