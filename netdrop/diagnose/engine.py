"""Evidence -> findings. Groups the window's drops the way each rule asks, then lets the rule (rules.py) explain.

The engine knows nothing about particular causes; rules.py is the table of them.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from ..model import GROUP_PKT_TYPES, DropCount, DropEvent, Finding, InterfaceFacts, Note
from ..net.inspect import NullHost

if TYPE_CHECKING:  # types only: the engine is given these, it never builds them
    from ..enrich import Enricher
    from ..net.links import HostFacts
from . import unsampled


@dataclass(frozen=True)
class Focus:
    ip: Optional[str] = None
    iface: Optional[str] = None
    netns: Optional[str] = None


@dataclass
class Group:
    """Drops that one rule explains together."""

    reason: str
    netns_inode: int
    ifindex: int
    netns: str
    interface: str
    count: int = 0
    dst_mac: Optional[str] = None
    daddr: Optional[str] = None
    locations: Counter = field(default_factory=Counter)
    events: List[DropEvent] = field(default_factory=list)

    @property
    def location(self) -> str:
        return self.locations.most_common(1)[0][0] if self.locations else "-"

    def top(self, attr: str) -> Optional[object]:
        """The most common value of a packet attribute among the sampled events."""
        vals = Counter(getattr(e.packet, attr) for e in self.events if getattr(e.packet, attr) is not None)
        return vals.most_common(1)[0][0] if vals else None

    def values(self, attr: str) -> Counter:
        return Counter(getattr(e.packet, attr) for e in self.events if getattr(e.packet, attr) is not None)


@dataclass
class Context:
    counts: List[DropCount]
    events: List[DropEvent]
    before: "HostFacts"  # at the start of the window
    after: "HostFacts"  # at the end
    enrich: "Enricher"
    focus: Focus
    duration: float
    host: NullHost = field(default_factory=NullHost)  # net.inspect.LiveHost: sysctls, routes, sockets, rules
    promisc_held: Tuple = ()  # (netns, interface) netdrop itself holds promiscuous (--promisc)
    classes: Dict = field(default_factory=dict)  # (netns, ifindex, dst MAC) -> classified / reached_ip counts
    born: frozenset = frozenset()  # netns inodes that appeared during the window (their counters started in it)

    def iface(self, netns_inode: int, ifindex: int) -> Optional[InterfaceFacts]:
        return self.after.get(netns_inode, ifindex) or self.before.get(netns_inode, ifindex)

    def why_no_facts(self, netns_inode: int, ifindex: int) -> str:
        return self.after.why_missing(netns_inode, ifindex)

    def counter_delta(self, netns_inode: int, ifindex: int, attr: str) -> Optional[int]:
        a, b = self.after.get(netns_inode, ifindex), self.before.get(netns_inode, ifindex)
        if a is None or getattr(a, attr) is None:
            return None
        if netns_inode in self.born:  # born during the window (maybe under a reused inode): counters began at 0
            return getattr(a, attr)
        if b is None or getattr(b, attr) is None:
            return None
        return getattr(a, attr) - getattr(b, attr)

    def counter_missing(self, netns_inode: int, ifindex: int, attr: str) -> str:
        """Why counter_delta() is None: the kernel has no such counter, or it could not be read here (and why)."""
        a = self.after.get(netns_inode, ifindex)
        if a is not None and getattr(a, attr) is None:
            return f"this kernel has no {attr} counter (added in Linux 5.19)"
        if a is None:
            return f"{attr} could not be read here: {self.why_no_facts(netns_inode, ifindex)}"
        return (f"{attr} could not be read at the start of the window (the interface or its namespace was not "
                "there yet and did not appear during it)")


def group_key(rule, c_key, reason: str) -> Tuple:
    if rule.by_destination:
        return (reason, c_key.netns, c_key.ifindex, c_key.dst_mac, c_key.daddr)
    return (reason, c_key.netns, c_key.ifindex, None, None)


def build_groups(ctx: Context, rules) -> Dict[str, List[Group]]:
    """rule cause -> groups of that rule's reasons."""
    by_reason = {r: rule for rule in rules for r in rule.reasons}
    by_function = {} if ctx.enrich.kernel.has_reasons else {f: rule for rule in rules for f in rule.functions}
    groups: Dict[Tuple, Group] = {}
    owner: Dict[Tuple, str] = {}
    en = ctx.enrich

    def rule_for(reason: str, location: int):
        """The rule claiming this drop: by reason name, or on kernels without reasons by the dropping function."""
        rule = by_reason.get(reason)
        if rule is None and by_function and reason == "-":
            rule = by_function.get(en.function(location))
        return rule

    for c in ctx.counts:
        k = c.key
        reason = en.reason(k.reason, k.pkt_type, k.location)
        rule = rule_for(reason, k.location)
        if rule is None or (rule.unicast_only and k.pkt_type in GROUP_PKT_TYPES):
            continue
        gk = group_key(rule, k, reason)
        g = groups.get(gk)
        if g is None:
            g = groups[gk] = Group(reason, k.netns, k.ifindex, en.names.name(k.netns), en.interface(k.netns, k.ifindex),
                                   dst_mac=k.dst_mac if rule.by_destination else None,
                                   daddr=k.daddr if rule.by_destination else None)
            owner[gk] = rule.cause
        g.count += c.count
        g.locations[en.kernel.location(k.location)] += c.count
    for e in ctx.events:
        reason = en.event_reason(e)
        rule = rule_for(reason, e.location)
        if rule is None or (rule.unicast_only and e.pkt_type in GROUP_PKT_TYPES):
            continue
        if rule.by_destination:
            gk = (reason, e.netns, e.ifindex, e.packet.dst_mac, e.packet.dst_ip)
        else:
            gk = (reason, e.netns, e.ifindex, None, None)
        if gk in groups:
            groups[gk].events.append(e)
    out: Dict[str, List[Group]] = {}
    for gk, g in groups.items():
        out.setdefault(owner[gk], []).append(g)
    return out


def in_focus(f: Finding, focus: Focus) -> bool:
    if focus.ip and f.ip != focus.ip:
        return False
    if focus.iface and f.interface != focus.iface:
        return False
    if focus.netns and f.netns != focus.netns:
        return False
    return True


def run(ctx: Context, rules) -> Tuple[List[Finding], List[Note]]:
    findings: List[Finding] = []
    for cause, groups in build_groups(ctx, rules).items():
        rule = next(r for r in rules if r.cause == cause)
        for g in sorted(groups, key=lambda g: -g.count):
            f = rule.explain(ctx, g) if g.events or not rule.needs_frames else unsampled.explain(ctx, g, cause)
            if f is not None:
                f = replace(f, netns_id=g.netns_inode)
            if f is not None and in_focus(f, ctx.focus):
                findings.append(f)
    findings.sort(key=lambda f: -f.count)
    from .notes import notes_for
    return findings, notes_for(ctx, findings)
