"""The receive path as a picture: the stages a frame passes, the count at every stage that has evidence, and the
stage where the frames died. Pure: built from a finding (its cause-specific fields) and the report's hooks.

  NIC filter -> eth_type_trans -> [CPU backlog] -> ip_rcv_core -> netfilter PREROUTING -> routing
             -> netfilter INPUT -> socket

A picture ends at its drop stage; a mac-mismatch one goes on to netfilter PREROUTING and the socket, because "never
reached" (and the raw PREROUTING counter that stayed 0) is the evidence users look for there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from ..model import Finding

NIC, ETH, BACKLOG, IP_RCV, PREROUTING, ROUTING, NEIGH, INPUT, SOCKET = (
    "NIC filter", "eth_type_trans", "CPU backlog", "ip_rcv_core", "netfilter PREROUTING", "routing",
    "neighbour resolution", "netfilter INPUT", "socket")
ORDER = (NIC, ETH, BACKLOG, IP_RCV, PREROUTING, ROUTING, NEIGH, INPUT, SOCKET)
DROP_AT = {"mac-mismatch": IP_RCV, "backlog-full": BACKLOG, "rp-filter": ROUTING, "not-local": ROUTING,
           "netfilter-drop": INPUT, "no-socket": SOCKET, "rcvbuf-full": SOCKET, "ipv6-disabled": IP_RCV,
           "unresolved-neighbour": NEIGH}
PASSED = "passed (no count at this stage)"


@dataclass(frozen=True)
class Stage:
    stage: str
    count: Optional[int]  # None: no evidence at this stage
    note: str
    drop: bool = False

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"stage": self.stage, "note": self.note, "drop": self.drop}
        if self.count is not None:  # no evidence at this stage: no count (never null)
            d["count"] = self.count
        return d


def _hook(hooks: Sequence[Dict], name: str) -> Optional[Dict]:
    return next((h for h in hooks if h.get("name", "").startswith(name)), None)


def _hook_missing(hooks: Sequence[Dict], name: str) -> Optional[str]:
    """Why the hook on `name` gives no count ("hook not attached: ..."), or None when it is attached."""
    h = _hook(hooks, name)
    if h is None:
        return "no count: hook not attached (--classify none)"
    if not h.get("attached"):
        return "no count: hook not attached" + (f" ({h['why']})" if h.get("why") else "")
    return None


def _nic(f: Finding, x: Dict) -> Stage:
    kind = x.get("interface_kind")
    holders = x.get("promiscuous_by")
    if kind == "veth":
        return Stage(NIC, None, "veth: no MAC filter, every frame passes")
    if f.cause != "mac-mismatch":
        return Stage(NIC, None, "passed: the frames carried the interface's MAC")
    if holders is not None:
        who = ", ".join(holders) if holders else "holder unknown"
        return Stage(NIC, None, f"passed: {f.interface} promiscuous, held by {who}")
    if kind == "vlan":
        return Stage(NIC, None, "passed: a VLAN on a lower device that accepted the frames")
    return Stage(NIC, None, "passed (no evidence of the filter)")


def _eth(f: Finding, x: Dict, hooks: Sequence[Dict]) -> Stage:
    if f.cause != "mac-mismatch":
        return Stage(ETH, None, PASSED)
    if x.get("classified") is not None:
        return Stage(ETH, x["classified"], f"classified OTHERHOST (dst MAC {f.seen_dst_mac}, not {f.expected_mac})")
    missing = _hook_missing(hooks, "eth_type_trans")
    return Stage(ETH, None, missing or "no count: the hook saw none of these frames on this interface")


def _counter(f: Finding) -> str:
    if f.counter_delta is None:
        return "no rx_otherhost_dropped counter on this kernel"
    return f"rx_otherhost_dropped +{f.counter_delta}"


def _v(x: Dict, key: str) -> str:
    return "?" if x.get(key) is None else str(x[key])


def _drop_stage(f: Finding, x: Dict, at: str) -> Stage:
    where = f" at {x['location']}" if x.get("location") else ""
    if f.cause == "mac-mismatch":
        reached = f", {x['reached_ip']} reached it (hook)" if x.get("reached_ip") is not None else ""
        return Stage(at, f.count, f"DROPPED: OTHERHOST{where}; {_counter(f)}{reached}", True)
    notes = {
        "backlog-full": lambda: f"DROPPED: input backlog full (netdev_max_backlog={_v(x, 'netdev_max_backlog')})",
        "rp-filter": lambda: f"DROPPED: reverse-path filter (rp_filter={_v(x, 'rp_filter')}, route back to "
                             f"{_v(x, 'source')}: {x.get('route_back') or 'none'})",
        "not-local": lambda: f"DROPPED: {f.ip or '?'} is not local ({_v(x, 'reason')}, "
                             f"ip_forward={_v(x, 'ip_forward')})",
        "netfilter-drop": lambda: "DROPPED: " + (f"rule {x['rule']}" if x.get("rule") else "a rule's drop verdict"),
        "no-socket": lambda: f"DROPPED: no socket on {_v(x, 'protocol')}/{_v(x, 'port')}",
        "ipv6-disabled": lambda: f"DROPPED: IPv6 is disabled on {f.interface} "
                                 f"(disable_ipv6={_v(x, 'disable_ipv6')})",
        "unresolved-neighbour": lambda: f"DROPPED: nobody answered for {f.ip or '?'} ({_v(x, 'reason')}"
                                        + (", forwarded" if x.get("forwarded") else "") + ")",
        "rcvbuf-full": lambda: "DROPPED: receive buffer full" + (
            f" ({x['process']}, pid {x['pid']})" if x.get("process") else ""),
    }
    return Stage(at, f.count, notes.get(f.cause, lambda: "DROPPED")(), True)


def _prerouting_after_drop(f: Finding, x: Dict) -> Stage:
    raw = x.get("raw_prerouting")
    if raw:
        n = sum(r["packets"] for r in raw)
        return Stage(PREROUTING, n, f"never reached: raw PREROUTING rule `{raw[0]['rule']}` counted {n}")
    return Stage(PREROUTING, None, f"never reached (no raw PREROUTING rule for {f.ip or 'the address'} to count it)")


def build(f: Finding, hooks: Sequence[Dict]) -> List[Stage]:
    """The path of the frames one finding explains."""
    x = f.extra
    at = DROP_AT.get(f.cause, SOCKET)
    if f.cause == "netfilter-drop" and "prerouting" in (x.get("rule") or "").lower():
        at = PREROUTING
    out: List[Stage] = []
    for stage in ORDER:
        if stage == BACKLOG and at != BACKLOG:
            continue
        if stage == at:
            out.append(_drop_stage(f, x, at))
            break
        if stage == NIC:
            out.append(_nic(f, x))
        elif stage == ETH:
            out.append(_eth(f, x, hooks))
        else:
            out.append(Stage(stage, None, PASSED))
    if f.cause == "mac-mismatch":
        out.append(_prerouting_after_drop(f, x))
        out.append(Stage(SOCKET, None, "never reached"))
    return out


def silence(iface, hooks: Sequence[Dict], ip: str, classified: Optional[int]) -> List[Stage]:
    """No drop for the address the user asked about (`iface` owns it): where its frames would have died.
    classified: frames the eth_type_trans hook marked OTHERHOST on `iface` (None when it did not attach)."""
    if iface.promiscuous or iface.kind == "veth":
        why = "has no MAC filter" if iface.kind == "veth" else "is promiscuous"
        return [Stage(NIC, None, f"passed: {iface.name} {why}"),
                Stage(IP_RCV, 0, "nothing dropped (skb:kfree_skb silent)")]
    missing = _hook_missing(hooks, "eth_type_trans")
    eth = Stage(ETH, None, missing or "no count: the hook saw none of these frames") if missing or classified is None \
        else \
        Stage(ETH, classified, f"frames classified OTHERHOST on {iface.name}")
    return [Stage(NIC, None, f"{iface.name} is not promiscuous: frames for {ip} with a foreign destination MAC are "
                             "discarded here, in hardware, unseen by any hook (rerun with --promisc)", True),
            eth, Stage(IP_RCV, 0, "nothing dropped (skb:kfree_skb silent)")]
