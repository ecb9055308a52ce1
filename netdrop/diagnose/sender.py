"""The sender of dropped frames, when it is on this host: which interface (among copies of one setup, the one at the
other end of the receiver's veth), its neighbour entry for the address, and the fix that corrects it."""
from __future__ import annotations

from typing import Optional

from ..model import InterfaceFacts
from .maccause import resolver
from .text import exec_prefix, ip_cmd


def sender_iface(ctx, sender_ip, sender_mac, receiver: Optional[InterfaceFacts] = None) -> Optional[InterfaceFacts]:
    """The sending interface on this host: the one with the frames' source MAC (and address). When several
    namespaces have such an interface (copies of one setup), the one at the other end of the receiver's veth."""
    if not sender_mac:
        return None
    hits = [i for i in ctx.after.find_mac(sender_mac) if not sender_ip or i.owns(sender_ip)]
    if len(hits) > 1 and receiver is not None and receiver.link_netnsid is not None:
        peer = [i for i in hits if ctx.host.nsid_in(receiver.netns, i.netns) == receiver.link_netnsid]
        hits = peer or hits
    return hits[0] if hits else None


def neigh_dict(ctx, ip, seen_mac, sender_ip, sender_mac, iface):
    s = sender_iface(ctx, sender_ip, sender_mac, iface)
    if s is None or not ip:
        return None
    n = next((n for n in s.neighbours if n.ip == ip), None)
    if n is None:
        return {"netns": s.netns, "interface": s.name, "entry": "none"}
    return {"netns": s.netns, "interface": s.name, "lladdr": n.mac, "state": n.state}


def sender_and_fix(ctx, ip, seen_mac, expected, sender_ip, sender_mac, iface, netns):
    announce = ""
    if iface is not None and ip and resolver(ip) == "ARP":  # arping speaks ARP only
        announce = f"`{exec_prefix(netns)}arping -U -c 3 -I {iface.name} {ip}` announces the right MAC"
    who = f"{sender_ip or '?'} / {sender_mac or '?'}"
    s = sender_iface(ctx, sender_ip, sender_mac, iface)
    if s is None:
        note = f"sender: {who} (not on this host: its neighbour cache cannot be read from here)"
        target = f"point at {expected}" if expected else f"be deleted so {resolver(ip)} resolves it again"
        fix = (f"correct the sender's neighbour ({resolver(ip)}) entry for {ip}: it must {target}, not {seen_mac}"
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
    if state in ("PERMANENT", "NOARP") and expected:
        fix = (f"the sender has a static entry: `{ip_cmd(s.netns)} neigh replace {ip} lladdr {expected} "
               f"dev {s.name} nud permanent` (or delete it so {resolver(ip)} resolves it).")
    elif state in ("PERMANENT", "NOARP"):
        fix = (f"the sender has a static entry and the receiver's MAC could not be read: delete it so {resolver(ip)} "
               "resolves "
               f"it: `{ip_cmd(s.netns)} neigh del {ip} dev {s.name}`.")
    else:
        fix = f"flush the sender's stale entry: `{ip_cmd(s.netns)} neigh del {ip} dev {s.name}`"
        fix += (f"; {announce}." if announce else ".")
    return note, fix
