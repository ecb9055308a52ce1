"""The typed model every layer shares. Frozen dataclasses; to_dict() is the JSON schema (docs/json.md)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .protocols import ETHERTYPE_NAMES, L4_NAMES

PACKET_TYPES = {0: "HOST", 1: "BROADCAST", 2: "MULTICAST", 3: "OTHERHOST", 4: "OUTGOING", 5: "LOOPBACK"}
PACKET_OTHERHOST = 3
GROUP_PKT_TYPES = (1, 2)  # PACKET_BROADCAST, PACKET_MULTICAST: frames for many hosts, not for one address


@dataclass(frozen=True)
class DropKey:
    netns: int
    ifindex: int
    reason: int
    pkt_type: int
    location: int
    dst_mac: Optional[str] = None  # OTHERHOST only
    daddr: Optional[str] = None  # OTHERHOST only


@dataclass(frozen=True)
class DropCount:
    key: DropKey
    count: int


@dataclass(frozen=True)
class Packet:
    """What decode.py makes of a captured frame."""

    src_mac: Optional[str] = None
    dst_mac: Optional[str] = None
    ethertype: Optional[int] = None
    family: int = 0
    src_ip: Optional[str] = None
    dst_ip: Optional[str] = None
    l4proto: Optional[int] = None
    sport: Optional[int] = None
    dport: Optional[int] = None

    @property
    def proto_name(self) -> str:
        if self.l4proto is None:
            return ETHERTYPE_NAMES.get(self.ethertype or -1, "-")
        return L4_NAMES.get(self.l4proto, str(self.l4proto))


@dataclass(frozen=True)
class DropEvent:
    ts_ns: int
    location: int
    netns: int
    ifindex: int
    reason: int
    pkt_type: int
    protocol: int
    frame_len: int
    caplen: int
    has_mac: bool
    net_off: Optional[int]
    stack_id: int
    cpu: int
    data: bytes
    packet: Packet

    @property
    def otherhost(self) -> bool:
        return self.pkt_type == PACKET_OTHERHOST


@dataclass(frozen=True)
class Address:
    ip: str
    prefixlen: int
    family: int
    secondary: bool = False


@dataclass(frozen=True)
class Neighbour:
    ip: str
    mac: Optional[str]
    state: str
    ifindex: int


@dataclass(frozen=True)
class InterfaceFacts:
    netns: str  # display name: a name under /var/run/netns, "host", or "netns:<inode>"
    netns_inode: int
    ifindex: int
    name: str
    mac: Optional[str]
    kind: str
    flags: int
    promiscuity: int
    operstate: str
    master: Optional[int] = None
    link: Optional[int] = None
    addresses: Tuple[Address, ...] = ()
    neighbours: Tuple[Neighbour, ...] = ()
    rx_otherhost_dropped: Optional[int] = None
    rx_dropped: int = 0
    rx_packets: int = 0
    perm_mac: Optional[str] = None  # the hardware's permanent address (NICs, bond members), when it has one
    admin_up: bool = True
    link_netnsid: Optional[int] = None  # a veth's (or tunnel's) other end is in this nsid (local to this namespace)

    IFF_PROMISC = 0x100

    @property
    def promisc_flag(self) -> bool:
        return bool(self.flags & self.IFF_PROMISC)

    @property
    def promiscuous(self) -> bool:
        return self.promiscuity > 0 or self.promisc_flag

    def owns(self, ip: str) -> Optional[Address]:
        return next((a for a in self.addresses if a.ip == ip), None)


@dataclass(frozen=True)
class DropRow:
    """A count row with names resolved (what diagnose lists and top shows)."""

    netns: str
    interface: str
    reason: str
    location: str
    count: int
    pkt_type: str = "-"
    dst_mac: Optional[str] = None
    daddr: Optional[str] = None
    iface_mac: Optional[str] = None
    rate: Optional[float] = None
    last_seen: Optional[float] = None  # seconds ago
    netns_id: int = 0  # the namespace's inode

    def to_dict(self) -> Dict[str, Any]:
        d = {"reason": self.reason, "location": self.location, "interface": self.interface, "netns": self.netns,
             **netns_fields(self.netns, self.netns_id), "count": self.count}
        if self.pkt_type != "-":
            d["pkt_type"] = self.pkt_type
        if self.dst_mac:
            d["seen_dst_mac"] = self.dst_mac
            if self.iface_mac:
                d["expected_mac"] = self.iface_mac
            if self.daddr:
                d["ip"] = self.daddr
        if self.rate is not None:
            d["rate"] = round(self.rate, 1)
        if self.last_seen is not None:
            d["last_seen"] = round(self.last_seen, 1)
        return d


@dataclass(frozen=True)
class Finding:
    cause: str
    title: str
    explanation: str
    fix: str
    interface: Optional[str] = None
    netns: Optional[str] = None
    ip: Optional[str] = None
    count: int = 0
    counter_delta: Optional[int] = None
    seen_dst_mac: Optional[str] = None
    expected_mac: Optional[str] = None
    sender_mac: Optional[str] = None
    sender_ip: Optional[str] = None
    evidence: Tuple[str, ...] = ()
    extra: Dict[str, Any] = field(default_factory=dict)
    netns_id: int = 0  # the namespace's inode

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object; a fact that could not be read is left out (never null) and its finding says why."""
        d = asdict(self)
        extra = d.pop("extra")
        d["evidence"] = list(self.evidence)
        d.update(netns_fields(self.netns, self.netns_id))
        d.update(extra)
        return pruned(d)


def netns_fields(label: Any, inode: int) -> Dict[str, Any]:
    """netns_id (always) and what kind of namespace it is: name, container, holding process (namespaces.NsLabel)."""
    d = label.to_dict() if hasattr(label, "to_dict") else {}
    d["netns_id"] = inode or d.get("netns_id", 0)
    return d


def pruned(v: Any) -> Any:
    """`v` without None values in its dicts (JSON never says null: a missing fact is absent, with its reason)."""
    if isinstance(v, dict):
        return {k: pruned(x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple)):
        return [pruned(x) for x in v if x is not None]
    return v


@dataclass(frozen=True)
class Note:
    """Something the user should know that is not a drop cause (observer effect, missing evidence...)."""

    topic: str
    text: str
    hint: str = ""


@dataclass
class Report:
    findings: List[Finding]
    drops: List[DropRow]
    notes: List[Note]
    lost_events: int
    sampled_events: int
    hooks: List[Dict[str, Any]]
    duration: float
    kernel: str
    paths: List[List[Any]] = field(default_factory=list)  # diagnose.path.Stage lists, one per finding
    path: List[Any] = field(default_factory=list)  # the first finding's, or where the asked-for traffic would die

    def to_dict(self) -> Dict[str, Any]:
        findings = [f.to_dict() for f in self.findings]
        for d, p in zip(findings, self.paths):
            d["path"] = [s.to_dict() for s in p]
        return {
            "schema": 2,
            "kernel": self.kernel,
            "duration": round(self.duration, 3),
            "findings": findings,
            "drops": [r.to_dict() for r in self.drops],
            "notes": [asdict(n) for n in self.notes],
            "lost_events": self.lost_events,
            "sampled_events": self.sampled_events,
            "hooks": self.hooks,
            "path": [s.to_dict() for s in self.path],
        }
