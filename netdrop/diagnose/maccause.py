"""Why was the destination MAC wrong? Each explanation is a row: a test on the evidence, a text, a fix.

Evidence: who owns the seen MAC on this host (any namespace netdrop can see), the receiving interface's permanent
address, the sender's neighbour entry (static or learned), and the ARP sysctls of the interfaces involved.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from ..model import InterfaceFacts, Neighbour

VRRP_PREFIXES = ("00:00:5e:00:01:", "00:00:5e:00:02:")
STATIC_STATES = ("PERMANENT", "NOARP")


@dataclass
class MacEvidence:
    ip: Optional[str]
    seen: str
    expected: Optional[str]
    receiver: Optional[InterfaceFacts]  # the interface the frames arrived on
    owner: Optional[InterfaceFacts]  # the interface that has the address (same netns), if any
    seen_owners: List[InterfaceFacts]  # local interfaces whose MAC (or permanent MAC) is the seen one
    sender: Optional[InterfaceFacts]  # the sending interface, when it is on this host
    neigh: Optional[Neighbour]  # the sender's entry for ip
    arp: dict  # interface name -> {key: effective value}
    elsewhere: List[InterfaceFacts] = field(default_factory=list)  # the seen MAC's owners off this path


@dataclass(frozen=True)
class MacCause:
    id: str
    test: Callable[[MacEvidence], bool]
    text: Callable[[MacEvidence], str]


def resolver(ip: Optional[str]) -> str:
    """How a sender maps this address to a MAC: ARP for IPv4, neighbour discovery for IPv6."""
    return "neighbour discovery" if ip and ":" in ip else "ARP"


def _owner_desc(e: MacEvidence) -> str:
    o = e.seen_owners[0]
    state = "" if o.admin_up else ", down"
    kind = {"macvlan": "macvlan child", "macvtap": "macvtap child", "ipvlan": "ipvlan child",
            "vlan": "VLAN interface", "bridge": "bridge"}.get(o.kind, o.kind)
    return f"{kind} {o.name} in netns {o.netns}{state}"


def _is_vrrp(e: MacEvidence) -> bool:
    return e.seen.lower().startswith(VRRP_PREFIXES)


def _perm_of_receiver(e: MacEvidence) -> bool:
    return bool(e.receiver and e.receiver.perm_mac and e.receiver.perm_mac.lower() == e.seen.lower())


def _perm_of_other(e: MacEvidence) -> bool:
    return any(o.perm_mac and o.perm_mac.lower() == e.seen.lower() and o.mac and o.mac.lower() != e.seen.lower()
               for o in e.seen_owners)


def _owned_locally(e: MacEvidence) -> bool:
    return any(o.mac and o.mac.lower() == e.seen.lower() for o in e.seen_owners)


def _static(e: MacEvidence) -> bool:
    return bool(e.neigh and e.neigh.state in STATIC_STATES)


def _learned(e: MacEvidence) -> bool:
    return bool(e.neigh and e.neigh.state not in STATIC_STATES)


CAUSES: Tuple[MacCause, ...] = (
    MacCause("vrrp-vmac", _is_vrrp, lambda e: (
        f"{e.seen} is a VRRP virtual MAC (VRID {int(e.seen.split(':')[-1], 16)}): the sender targets the VRRP "
        "master's virtual MAC, but this interface does not accept it (no VMAC interface here, or this host is "
        "not the master).")),
    MacCause("bond-permanent", _perm_of_other, lambda e: (
        f"{e.seen} is the permanent address of {e.seen_owners[0].name} (netns {e.seen_owners[0].netns}), a "
        "member whose MAC was replaced (e.g. by its bond): the sender learned the member's own address.")),
    MacCause("local-other-interface", _owned_locally, lambda e: (
        f"{e.seen} belongs to {_owner_desc(e)}: the sender resolved {e.ip} to that interface's MAC "
        f"(the address answered from, or moved off, {e.seen_owners[0].name}).")),
    MacCause("receiver-mac-changed", _perm_of_receiver, lambda e: (
        f"{e.seen} is {e.receiver.name if e.receiver else 'the interface'}'s permanent (factory) address: its MAC "
        "was changed and the sender's "
        "neighbour cache still holds the old one.")),
    MacCause("static-neighbour", _static, lambda e: (
        f"the sender has a static neighbour entry {e.ip} -> {e.seen} ({e.neigh.state if e.neigh else '?'}): "
        f"{resolver(e.ip)} never "
        "corrects it.")),
    MacCause("stale-neighbour", _learned, lambda e: (
        f"the sender learned {e.ip} -> {e.seen} by {resolver(e.ip)} ({e.neigh.state if e.neigh else '?'}) and no "
        "interface here has "
        f"that MAC now: the address's owner or {e.receiver.name if e.receiver else 'the receiver'}'s MAC changed "
        "and the sender was not told (" + ("no unsolicited neighbour advertisement" if resolver(e.ip) != "ARP"
                                           else "no gratuitous ARP") + ").")),
    MacCause("unknown", lambda e: True, lambda e: (
        f"no interface netdrop can see has {e.seen}; the sender is not on this host, so its neighbour entry "
        "(stale or static) cannot be read from here.")),
)


def classify(e: MacEvidence) -> MacCause:
    return next(c for c in CAUSES if c.test(e))


def arp_notes(e: MacEvidence) -> List[str]:
    """ARP sysctls that explain how a wrong MAC can be learned (IPv4 only: IPv6 resolves by neighbour discovery,
    which these do not govern)."""
    out: List[str] = []
    if resolver(e.ip) != "ARP":
        if e.owner and e.receiver and e.owner.ifindex != e.receiver.ifindex:
            out.append(f"{e.ip} is configured on {e.owner.name} but the frames arrive on {e.receiver.name}")
        return out
    for name, vals in e.arp.items():
        out.append(f"{name}: " + ", ".join(f"{k}={v}" for k, v in vals.items()))
    if e.owner and e.receiver and e.owner.ifindex != e.receiver.ifindex:
        out.append(f"{e.ip} is configured on {e.owner.name} but the frames arrive on {e.receiver.name}")
        ign = e.arp.get(e.receiver.name, {}).get("arp_ignore")
        if ign in (None, 0):
            out.append(f"arp_ignore=0 on {e.receiver.name}: Linux answers ARP for {e.ip} there with "
                       f"{e.receiver.name}'s MAC, whichever interface holds the address")
    return out
