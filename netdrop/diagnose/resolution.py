"""When may `--follow` say a cause is gone? Only on positive evidence: the cause's own fact changed (the sender's
neighbour entry now holds the right MAC, the address is configured, the rule is deleted...) or traffic for the
address was seen arriving past the point where it used to die. Quiet alone proves nothing: maybe nobody sent."""
from __future__ import annotations

from typing import Callable, Dict, Iterable, Optional

from ..model import DropEvent, Finding


def _neigh(facts, netns: str, ifname: str, ip: str):
    iface = next(iter(facts.find_name(ifname, netns)), None)
    return next((n for n in iface.neighbours if n.ip == ip), None) if iface else None


def _mac_fixed(f: Finding, facts, host) -> Optional[str]:
    sn = f.extra.get("sender_neighbour") or {}
    if not sn.get("interface") or not f.ip or not f.expected_mac:
        return None
    n = _neigh(facts, sn["netns"], sn["interface"], f.ip)
    if n is None:
        return f"the sender's neighbour entry for {f.ip} with the wrong MAC is gone"
    if n.mac and n.mac.lower() == f.expected_mac.lower():
        return f"the sender's neighbour entry for {f.ip} now holds {n.mac}, {f.interface}'s MAC"
    return None


def _not_local_fixed(f: Finding, facts, host) -> Optional[str]:
    if not f.ip:
        return None
    if any(i.netns == f.netns for i in facts.find_ip(f.ip)):
        return f"{f.ip} is now configured in netns {f.netns}"
    owner = f.extra.get("owner")
    if owner and f.sender_ip:  # misdelivered: the sender's entry must now point at the owner
        for i in facts.interfaces:
            if i.owns(f.sender_ip):
                n = next((n for n in i.neighbours if n.ip == f.ip), None)
                if n and n.mac and n.mac.lower() == (owner.get("mac") or "").lower():
                    return f"the sender's neighbour entry for {f.ip} now holds {n.mac}, {owner['interface']}'s MAC"
    return None


def _neighbour_fixed(f: Finding, facts, host) -> Optional[str]:
    n = _neigh(facts, f.netns, f.interface, f.ip) if f.ip and f.interface and f.netns else None
    if n is not None and n.state not in ("FAILED", "INCOMPLETE"):
        return f"{f.ip} now answers: its neighbour entry on {f.interface} is {n.state}"
    return None


def _rp_fixed(f: Finding, facts, host) -> Optional[str]:
    src = f.extra.get("source")
    if src and host.route_get(f.netns, src) == f.interface:
        return f"the route back to {src} now leaves by {f.interface}"
    value = host.sysctl(f.netns, f.interface, "rp_filter") if f.interface else None
    if value is not None and value != 1:
        return f"rp_filter on {f.interface} is now {value} (not strict)"
    return None


def _rule_fixed(f: Finding, facts, host) -> Optional[str]:
    rule = f.extra.get("rule")
    if rule and rule not in host.drop_rules(f.netns):
        return "the dropping rule is gone"
    return None


FACT_CHECKS: Dict[str, Callable[[Finding, object, object], Optional[str]]] = {
    "mac-mismatch": _mac_fixed,
    "not-local": _not_local_fixed,
    "unresolved-neighbour": _neighbour_fixed,
    "rp-filter": _rp_fixed,
    "netfilter-drop": _rule_fixed,
}


def confirmed(f: Finding, facts, host, arrived: Iterable[DropEvent], reason_of: Callable[[DropEvent], str],
              cause_reasons: Iterable[str]) -> Optional[str]:
    """Positive evidence that `f`'s cause is gone, in words; None when there is none (yet)."""
    check = FACT_CHECKS.get(f.cause)
    fact = check(f, facts, host) if check else None
    if fact:
        return fact
    own = set(cause_reasons)
    later = [e for e in arrived if f.ip and e.packet.dst_ip == f.ip and reason_of(e) not in own]
    if later:  # the address's traffic now gets further: it dies later, for another reason (e.g. no socket)
        return (f"traffic for {f.ip} now gets past that point ({len(later)} packet"
                f"{'s' if len(later) != 1 else ''} seen later on its path, as {reason_of(later[-1])})")
    return None
