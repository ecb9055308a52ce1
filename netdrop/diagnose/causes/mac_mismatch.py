"""mac-mismatch: frames whose destination MAC is not the receiving interface's, dropped as OTHERHOST."""
from __future__ import annotations

from typing import Optional

from ...model import Finding, InterfaceFacts
from ...net.sysctl import ARP_KEYS
from ..maccause import MacEvidence, arp_notes, classify, resolver
from ..rule import Rule
from ..sender import neigh_dict, sender_and_fix, sender_iface
from ..text import address_kind, counter_text, plural, role_of
from ..notes import who_holds


def explain_mac_mismatch(ctx, g) -> Finding:
    iface = ctx.iface(g.netns_inode, g.ifindex)
    expected = iface.mac if iface else None
    ip = g.daddr
    owners = ctx.after.find_ip(ip) if ip else []
    local = next((o for o in owners if o.netns_inode == g.netns_inode), None)
    role = role_of(local, ip)
    sender_mac, sender_ip = g.top("src_mac"), g.top("src_ip")
    traced_iface_total = sum(c.count for c in ctx.counts if c.key.netns == g.netns_inode
                             and c.key.ifindex == g.ifindex and c.key.pkt_type == 3)
    delta = ctx.counter_delta(g.netns_inode, g.ifindex, "rx_otherhost_dropped")
    missing = ctx.counter_missing(g.netns_inode, g.ifindex, "rx_otherhost_dropped") if delta is None else ""
    unread = "" if iface else ctx.why_no_facts(g.netns_inode, g.ifindex)
    ifname = g.interface
    what = f"{ip} ({role})" if role else (ip or "another host")
    mac_text = expected or f"unknown ({unread})" if not iface else expected or "none (it has no MAC address)"
    title = (f"{plural(g.count, 'frame', 'frames')} for {what} arrived with destination MAC {g.dst_mac}, "
             f"but {ifname}'s MAC is {mac_text}")
    explanation = (f"eth_type_trans() marked them PACKET_OTHERHOST and {g.location.split('+')[0]}() discarded them "
                   f"before netfilter: no iptables/nft rule or counter sees them "
                   f"({counter_text(delta, traced_iface_total, missing)}).")
    evidence = [f"seen destination MAC {g.dst_mac}, expected {mac_text} ({ifname} in netns {g.netns})",
                f"dropped at {g.location}"]
    holder = _holder_text(g.netns)
    if holder:
        evidence.append(holder)
    if g.netns_inode in ctx.born:
        evidence.append(f"netns {g.netns} appeared during the window: netdrop found it at its first drop, and its "
                        "counters started inside the window")
    if local is None and ip:
        elsewhere = ", ".join(f"{o.name} in netns {o.netns}" for o in owners) or "no interface netdrop can see"
        if not owners and ctx.after.errors:
            elsewhere += " (unreadable: " + "; ".join(sorted(ctx.after.errors.values())) + ")"
        if iface is None:
            evidence.append(f"whether {ip} is an address of {ifname} is unknown ({unread}); it is on {elsewhere}")
        else:
            evidence.append(f"{ip} is not an address of {ifname}; it belongs to {elsewhere}")
    sender_note, fix = sender_and_fix(ctx, ip, g.dst_mac, expected, sender_ip, sender_mac, iface, g.netns)
    if sender_note:
        evidence.append(sender_note)
    cls = _classes(ctx, g, iface)
    if cls is not None:
        evidence.insert(1, f"classified OTHERHOST by eth_type_trans on {ifname}: {cls['classified']}; reached "
                           f"ip_rcv_core: {cls['reached_ip']}; dropped: {g.count}")
    raw = ctx.host.raw_prerouting(g.netns, ip) if ip else []
    if raw:
        evidence.insert(2, "iptables raw PREROUTING " + "; ".join(
            f"`{r.rule}` counted {r.packets} packet{'s' if r.packets != 1 else ''}" for r in raw)
            + (": the frames never reached netfilter" if not any(r.packets for r in raw) else ""))
    holders = who_holds(ctx, iface) if iface is not None and iface.promiscuous else []
    ev = _mac_evidence(ctx, g, ip, iface, local, sender_ip, sender_mac)
    why = classify(ev)
    evidence.append("why the MAC is wrong: " + why.text(ev))
    if ev.elsewhere:
        evidence.append(f"{g.dst_mac} is also the MAC of " + ", ".join(f"{o.name} in netns {o.netns}"
                                                               for o in ev.elsewhere[:3])
                        + " (another copy of this setup: a namespace that has the same MACs)")
    evidence.extend(arp_notes(ev))
    fix = CAUSE_FIX.get(why.id, lambda ev, fix: fix)(ev, fix)
    return Finding(
        cause="mac-mismatch", title=title, explanation=explanation, fix=fix, interface=ifname, netns=g.netns, ip=ip,
        count=g.count, counter_delta=delta, seen_dst_mac=g.dst_mac, expected_mac=expected, sender_mac=sender_mac,
        sender_ip=sender_ip, evidence=tuple(evidence),
        extra={"location": g.location, "address_role": address_kind(local, ip),
               "mac_cause": why.id, "seen_mac_owner": _owner_dict(ev),
               "classified": cls["classified"] if cls else None, "reached_ip": cls["reached_ip"] if cls else None,
               "sender_neighbour": neigh_dict(ctx, ip, g.dst_mac, sender_ip, sender_mac, iface),
               "counter_missing": missing or None, "facts_missing": unread or None,
               "interface_kind": iface.kind if iface else None,
               "promiscuous_by": holders if iface is not None and iface.promiscuous else None,
               "raw_prerouting": [r.to_dict() for r in raw] or None})


def _holder_text(netns) -> str:
    """Who holds a namespace that has no `ip netns` name: the container, or the process."""
    c = getattr(netns, "container", None)
    pid = getattr(netns, "pid", 0)
    if c is not None:
        what = f"{c.engine} container {c.name or c.short_id} (id {c.short_id}" + (f", pod {c.pod}" if c.pod else "")
        return f"netns {netns} is held by {what}; pid {pid} ({netns.comm}) runs in it)" if pid else what + ")"
    if pid and not getattr(netns, "ip_name", ""):
        return f"netns {netns} has no `ip netns` name; it is held by pid {pid} ({netns.comm}), inode {netns.inode}"
    return ""


def _classes(ctx, g, iface):
    """The hooks' counts for this interface; a VLAN's frames pass eth_type_trans on the lower device (IFLA_LINK)
    and reach ip_rcv_core on the VLAN interface, so both are added up. None when the hooks counted nothing."""
    if not g.dst_mac:
        return None
    keys = [(g.netns_inode, g.ifindex, g.dst_mac)]
    # only a VLAN: a veth's IFLA_LINK is its peer, in another namespace, whose ifindex may equal this one's
    if iface is not None and iface.kind == "vlan" and iface.link and iface.link != g.ifindex:
        keys.append((g.netns_inode, iface.link, g.dst_mac))
    hits = [ctx.classes[k] for k in keys if k in ctx.classes]
    if not hits:
        return None
    return {"classified": sum(h["classified"] for h in hits), "reached_ip": sum(h["reached_ip"] for h in hits)}


def _mac_evidence(ctx, g, ip, iface, local, sender_ip, sender_mac) -> MacEvidence:
    seen = (g.dst_mac or "").lower()
    owners = [o for o in ctx.after.interfaces
              if (o.mac and o.mac.lower() == seen) or (o.perm_mac and o.perm_mac.lower() == seen)]
    s = sender_iface(ctx, sender_ip, sender_mac, iface)
    # an interface with that MAC in another copy of this setup (a namespace that also has the receiver's or the
    # sender's MAC: labs, cloned containers) is mentioned, not taken as the explanation
    copies = _copies(ctx, iface, s)
    elsewhere = [o for o in owners if o.netns_inode in copies]
    owners = [o for o in owners if o.netns_inode not in copies]
    neigh = next((n for n in s.neighbours if n.ip == ip), None) if s else None
    arp = {}
    for i in {x.name: x for x in (iface, local) if x is not None}.values():
        vals = {k: ctx.host.sysctl(i.netns, i.name, k) for k in ARP_KEYS}
        if any(v is not None for v in vals.values()):
            arp[i.name] = vals
    return MacEvidence(ip, seen, iface.mac if iface else None, iface, local, owners, s, neigh, arp, elsewhere)


def _copies(ctx, receiver: Optional[InterfaceFacts], sender: Optional[InterfaceFacts]) -> set:
    """Namespaces, other than the receiver's and the sender's, that hold an interface with the receiver's or the
    sender's MAC: copies of the same setup, whose interfaces explain nothing about this path."""
    here = {x.netns_inode for x in (receiver, sender) if x is not None}
    macs = {x.mac.lower() for x in (receiver, sender) if x is not None and x.mac}
    return {i.netns_inode for i in ctx.after.interfaces
            if i.mac and i.mac.lower() in macs and i.netns_inode not in here}


def _owner_dict(ev: MacEvidence):
    if not ev.seen_owners:
        return None
    o = ev.seen_owners[0]
    return {"netns": o.netns, "interface": o.name, "kind": o.kind, "up": o.admin_up}


def _fix_other_interface(ev: MacEvidence, sender_fix: str) -> str:
    o = ev.seen_owners[0]
    if o.owns(ev.ip or ""):
        return (f"serve {ev.ip} from one interface: remove it from {o.name} (netns {o.netns}) or make the frames "
                f"arrive there, then correct the sender: {sender_fix}")
    return (f"{ev.ip} lives on {ev.owner.name if ev.owner else 'another interface'}, not on {o.name}: correct the "
            f"sender's entry: {sender_fix}")


def _fix_changed(ev: MacEvidence, sender_fix: str) -> str:
    rx = ev.receiver.name if ev.receiver else "the interface"
    if resolver(ev.ip) != "ARP":
        return (f"make the sender forget the old MAC: {sender_fix} (and `sysctl net.ipv6.conf.{rx}.ndisc_notify=1` "
                "so the kernel advertises future changes)")
    return (f"announce the current MAC so neighbours update their caches (`arping -U -c 3 -I {rx} {ev.ip}`, and "
            f"`sysctl net.ipv4.conf.{rx}.arp_notify=1` so the kernel announces future changes); or: {sender_fix}")


def _fix_vrrp(ev: MacEvidence, sender_fix: str) -> str:
    return ("check the VRRP state (keepalived: is this host the master for that VRID? does it create the VMAC "
            "interface, use_vmac?); the frames must reach the master or the VMAC interface. " + sender_fix)


CAUSE_FIX = {
    "local-other-interface": _fix_other_interface,
    "receiver-mac-changed": _fix_changed,
    "bond-permanent": _fix_changed,
    "vrrp-vmac": _fix_vrrp,
}


RULE = Rule("mac-mismatch", ("OTHERHOST",), True, explain_mac_mismatch, needs_frames=False)
