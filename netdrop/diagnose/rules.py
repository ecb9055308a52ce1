"""The table of causes netdrop can name. Each rule: the drop reasons it claims, how its drops are grouped, and a
function that turns one group plus the host's facts into a Finding (explanation, evidence, fix).

Reason names are the kernel's own (read at run time); a kernel without reasons gets OTHERHOST from enrich.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from ..model import Finding, InterfaceFacts
from ..net.netns import HOST


@dataclass(frozen=True)
class Rule:
    cause: str
    reasons: Tuple[str, ...]
    by_destination: bool  # group OTHERHOST drops by (dst MAC, dst address) rather than by interface
    explain: Callable[..., Optional[Finding]]


def _ns_prefix(netns: str) -> str:
    return "" if netns == HOST else f"-n {netns} "


def _exec_prefix(netns: str) -> str:
    return "" if netns == HOST else f"ip netns exec {netns} "


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _role(iface: Optional[InterfaceFacts], ip: Optional[str]) -> str:
    if not iface or not ip:
        return ""
    a = iface.owns(ip)
    if a is None:
        return ""
    return f"{'secondary' if a.secondary else 'primary'} address of {iface.name}"


def _counter_text(delta: Optional[int], traced: int) -> str:
    if delta is None:
        return "this kernel has no rx_otherhost_dropped counter (before 5.19): the trace is the only evidence"
    if delta == traced:
        return f"rx_otherhost_dropped: +{delta}, matches"
    return f"rx_otherhost_dropped: +{delta} on the interface (all foreign-MAC frames, traced here: {traced})"


# ---- mac-mismatch ---------------------------------------------------------------------------------------------------
def explain_mac_mismatch(ctx, g) -> Finding:
    iface = ctx.iface(g.netns_inode, g.ifindex)
    expected = iface.mac if iface else None
    ip = g.daddr
    owners = ctx.after.find_ip(ip) if ip else []
    local = next((o for o in owners if o.netns_inode == g.netns_inode), None)
    role = _role(local, ip)
    sender_mac, sender_ip = g.top("src_mac"), g.top("src_ip")
    traced_iface_total = sum(c.count for c in ctx.counts if c.key.netns == g.netns_inode
                             and c.key.ifindex == g.ifindex and c.key.pkt_type == 3)
    delta = ctx.counter_delta(g.netns_inode, g.ifindex, "rx_otherhost_dropped")
    ifname = g.interface
    what = f"{ip} ({role})" if role else (ip or "another host")
    title = (f"{_plural(g.count, 'frame', 'frames')} for {what} arrived with destination MAC {g.dst_mac}, "
             f"but {ifname}'s MAC is {expected or 'unknown'}")
    explanation = (f"eth_type_trans() marked them PACKET_OTHERHOST and {g.location.split('+')[0]}() discarded them "
                   f"before netfilter: no iptables/nft rule or counter sees them "
                   f"({_counter_text(delta, traced_iface_total)}).")
    evidence = [f"seen destination MAC {g.dst_mac}, expected {expected} ({ifname} in netns {g.netns})",
                f"dropped at {g.location}"]
    if local is None and ip:
        elsewhere = ", ".join(f"{o.name} in netns {o.netns}" for o in owners) or "no interface netdrop can see"
        evidence.append(f"{ip} is not an address of {ifname}; it belongs to {elsewhere}")
    owner_of_seen = [o for o in ctx.after.find_mac(g.dst_mac)] if g.dst_mac else []
    if owner_of_seen:
        evidence.append("the seen MAC belongs to " + ", ".join(f"{o.name} in netns {o.netns}" for o in owner_of_seen))
    sender_note, fix = _sender_and_fix(ctx, ip, g.dst_mac, expected, sender_ip, sender_mac, iface, g.netns)
    if sender_note:
        evidence.append(sender_note)
    return Finding(
        cause="mac-mismatch", title=title, explanation=explanation, fix=fix, interface=ifname, netns=g.netns, ip=ip,
        count=g.count, counter_delta=delta, seen_dst_mac=g.dst_mac, expected_mac=expected, sender_mac=sender_mac,
        sender_ip=sender_ip, evidence=tuple(evidence),
        extra={"location": g.location, "address_role": role.split(" ")[0] if role else None,
               "sender_neighbour": _neigh_dict(ctx, ip, g.dst_mac, sender_ip, sender_mac)})


def _sender_iface(ctx, sender_ip, sender_mac) -> Optional[InterfaceFacts]:
    if not sender_mac:
        return None
    return next((i for i in ctx.after.find_mac(sender_mac) if not sender_ip or i.owns(sender_ip)), None)


def _neigh_dict(ctx, ip, seen_mac, sender_ip, sender_mac):
    s = _sender_iface(ctx, sender_ip, sender_mac)
    if s is None or not ip:
        return None
    n = next((n for n in s.neighbours if n.ip == ip), None)
    if n is None:
        return {"netns": s.netns, "interface": s.name, "entry": None}
    return {"netns": s.netns, "interface": s.name, "lladdr": n.mac, "state": n.state}


def _sender_and_fix(ctx, ip, seen_mac, expected, sender_ip, sender_mac, iface, netns):
    announce = ""
    if iface is not None and ip:
        announce = f"`{_exec_prefix(netns)}arping -U -c 3 -I {iface.name} {ip}` announces the right MAC"
    who = f"{sender_ip or '?'} / {sender_mac or '?'}"
    s = _sender_iface(ctx, sender_ip, sender_mac)
    if s is None:
        note = f"sender: {who} (not on this host: its neighbour cache cannot be read from here)"
        fix = (f"correct the sender's neighbour (ARP) entry for {ip}: it must point at {expected}, not {seen_mac}"
               f" (on the sender: `ip neigh del {ip} dev <its interface>`, or fix the static entry)")
        if announce:
            fix += f"; from this host, {announce} to senders that accept gratuitous ARP"
        return note, fix + "."
    n = next((n for n in s.neighbours if n.ip == ip), None)
    where = f"{s.name} in netns {s.netns}"
    if n is None:
        return (f"sender: {who} ({where}); it has no neighbour entry for {ip} now",
                f"check how {where} resolves {ip}" + (f"; {announce}" if announce else "") + ".")
    state = n.state
    note = f"sender: {who} ({where}); its neighbour entry for {ip} is {n.mac} ({state})"
    if n.mac and seen_mac and n.mac.lower() == seen_mac.lower():
        note += ", the wrong MAC"
    if state in ("PERMANENT", "NOARP"):
        fix = (f"the sender has a static entry: `ip {_ns_prefix(s.netns)}neigh replace {ip} lladdr {expected} "
               f"dev {s.name} nud permanent` (or delete it so ARP resolves it).")
    else:
        fix = f"flush the sender's stale entry: `ip {_ns_prefix(s.netns)}neigh del {ip} dev {s.name}`"
        fix += (f"; {announce}." if announce else ".")
    return note, fix


# ---- no-socket ------------------------------------------------------------------------------------------------------
def explain_no_socket(ctx, g) -> Finding:
    dport, dst, proto = g.top("dport"), g.top("dst_ip"), g.top("proto_name")
    ports = ", ".join(f"{p}" for p, _ in g.values("dport").most_common(5)) or "?"
    title = (f"{_plural(g.count, 'packet', 'packets')} to {dst or 'a local address'}"
             f"{':' + str(dport) if dport else ''} ({proto or '?'}) found no socket")
    explanation = ("The packets reached the host and were accepted by IP, but no process listens on that "
                   f"{proto or 'transport'} port in netns {g.netns}; the kernel dropped them at {g.location} "
                   "(UDP answers with ICMP port unreachable, TCP with a reset).")
    fix = (f"start the service on {proto or ''}/{dport} in netns {g.netns}, or point the client at the right port "
           f"(`{_exec_prefix(g.netns)}ss -lnup` / `ss -lntp` lists the listeners).")
    return Finding(cause="no-socket", title=title, explanation=explanation, fix=fix, interface=g.interface,
                   netns=g.netns, ip=dst, count=g.count, sender_ip=g.top("src_ip"), sender_mac=g.top("src_mac"),
                   evidence=(f"destination ports seen: {ports}", f"dropped at {g.location}"),
                   extra={"port": dport, "protocol": proto})


# ---- causes named by reason alone (issue 7 completes their evidence) ---------------------------------------------------
def _generic(cause: str, what: str, fix: str) -> Callable[..., Finding]:
    def explain(ctx, g) -> Finding:
        dst, src = g.top("dst_ip"), g.top("src_ip")
        title = f"{_plural(g.count, 'packet', 'packets')} dropped on {g.interface} ({g.reason}): {what}"
        return Finding(cause=cause, title=title, explanation=f"The kernel dropped them at {g.location}.", fix=fix,
                       interface=g.interface, netns=g.netns, ip=dst, count=g.count, sender_ip=src,
                       sender_mac=g.top("src_mac"), evidence=(f"dropped at {g.location}",),
                       extra={"reason": g.reason})
    return explain


RULES: Tuple[Rule, ...] = (
    Rule("mac-mismatch", ("OTHERHOST",), True, explain_mac_mismatch),
    Rule("no-socket", ("NO_SOCKET",), False, explain_no_socket),
    Rule("rp-filter", ("IP_RPFILTER",), False, _generic(
        "rp-filter", "reverse-path filtering rejected the source address",
        "check rp_filter (`sysctl net.ipv4.conf.<if>.rp_filter`): 2 (loose) or 0 accepts asymmetric routes.")),
    Rule("netfilter-drop", ("NETFILTER_DROP",), False, _generic(
        "netfilter-drop", "a netfilter rule dropped them",
        "list the rules: `nft list ruleset` / `iptables-save -c`, and look for the DROP that counts up.")),
    Rule("not-local", ("IP_INADDRERRORS", "IP_INNOROUTES", "IP_INVALID_SOURCE"), False, _generic(
        "not-local", "the destination is not local and could not be routed, or the source is invalid",
        "check the address is configured (`ip addr`) and routable (`ip route get <dst>`).")),
    Rule("rcvbuf-full", ("SOCKET_RCVBUFF",), False, _generic(
        "rcvbuf-full", "the receiving socket's buffer was full",
        "the application reads too slowly: raise SO_RCVBUF / net.core.rmem_max or speed up the reader.")),
    Rule("backlog-full", ("CPU_BACKLOG",), False, _generic(
        "backlog-full", "the per-CPU input backlog was full",
        "raise net.core.netdev_max_backlog or spread the load (RPS/RSS).")),
)
